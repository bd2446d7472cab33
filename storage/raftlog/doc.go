// Package raftlog keeps the Raft logs of every Raft group of a node in one
// Badger database: each group's entries, hard state, conf state, snapshot
// and applied index, behind go.etcd.io/raft/v3's raft.Storage (Group). It
// knows raft's records, not what the entries mean.
//
// Many groups, one write path (multi-Raft batching, as CockroachDB does):
// the caller collects what the Ready of every group it drives wants
// written into one Batch and commits it with a single Badger commit, so a
// round of Ready across all groups costs one fsync.
//
// # Why its own Badger
//
// The log lives in <data-dir>/raft, not in the broker's store
// (storage.Store). The broker's store has one writer goroutine that
// batches message journal writes for publisher confirms; the Raft loop
// must persist a Ready before it sends the Ready's messages and must know
// exactly when that happened, so it needs to own its commits. The two
// also churn differently: a Raft log is appended and then dropped from
// the front at every snapshot, the broker's store keeps definitions and
// messages. Sharing one would make each wait for the other's syncs. The
// price is one more fsync per definition change, measured by
// BenchmarkBatch (one batch for several groups against one commit each).
//
// # Key layout
//
// One key space, big-endian integers so that a group's entries iterate
// in index order and the groups do not interleave.
//
//	+-----+-----------------+------+---------------+
//	| 'r' | group u64 BE    | 'e'  | index u64 BE  |  ->  raftpb.Entry (protobuf)
//	+-----+-----------------+------+---------------+
//	| 'r' | group u64 BE    | 'h'  |                  ->  raftpb.HardState
//	| 'r' | group u64 BE    | 'c'  |                  ->  raftpb.ConfState
//	| 'r' | group u64 BE    | 's'  |                  ->  raftpb.Snapshot (metadata + data)
//	| 'r' | group u64 BE    | 't'  |                  ->  truncated: index u64 BE | term u64 BE
//	| 'r' | group u64 BE    | 'a'  |                  ->  applied index u64 BE
//	| 'r' | group u64 BE    | 'm'  |                  ->  the caller's record (SetMeta), opaque
//	+-----+-----------------+------+
//	   1          8            1          8
//
// The truncated record is the entry just before the first one kept
// (raft's "dummy entry"): its index and term, which Term must still
// answer. A snapshot at index i sets it to (i, term of i) and deletes the
// entries up to i; Compact(i) does the same without a new snapshot.
//
// # Concurrency
//
// A Store may be used from many goroutines. Each Group keeps its first
// and last index and the truncated term in memory under Group.mu, updated
// after a Batch's commit succeeds; raft's calls (Entries, Term, ...) read
// them under the same lock and read entries from Badger with no lock held.
// Group.mu is a leaf. A Group is meant to be driven by one Raft loop:
// batches touching one group must not be committed concurrently.
package raftlog
