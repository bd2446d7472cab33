// Package raftlog keeps the Raft logs of every Raft group of a node (the
// metadata group and every quorum queue's) in one set of append-only
// segment files: each group's entries, hard state, conf state, snapshot
// and applied index, behind go.etcd.io/raft/v3's raft.Storage (Group). It
// knows raft's records, not what the entries mean.
//
// Many groups, one write path (multi-Raft batching, as CockroachDB does):
// the caller collects what the Ready of every group it drives wants
// written into one Batch, and Commit writes it with one write(2) and one
// fdatasync of the active segment, so a round of Ready across all groups
// costs one fsync. One shared set of segments rather than files per
// group: a round that touches N groups still syncs one file, and the
// disk sees one sequential stream (measured: per-group files would cost
// one fsync per group per round; the old Badger store cost ~55% of the
// CPU of BenchmarkQuorumConfirms in its WAL, memtable and L0 flushes).
//
// # Map
//
//	store.go    Store: Open, Close, Group; reading entries back
//	segment.go  segment files: naming, recovery (replay, torn tail), checkpoints
//	record.go   the record format: encode, split, CRC
//	group.go    Group: raft.Storage over the in-memory index; state.apply,
//	            the one replay function of recovery and Commit
//	batch.go    Batch: a round's writes as records
//	commit.go   Commit: snapshot files, write, fdatasync, apply; copy-forward
//	            and segment deletion
//	delete.go   DeleteGroup
//
// # Files
//
//	Dir/<seq, 16 hex>.seg                      segments, oldest first
//	Dir/<group, 16 hex>-<index, 16 hex>.snap   a group's latest snapshot's data
//	Dir/spare.seg.tmp                          the next segment, being zero-filled
//	Dir/LOCK                                   flock: one process at a time
//
// A segment is "WRQL" 0x01 0 0 0, then records:
//
//	+--------------+---------------+---------+---------------+-----------+
//	| length u32BE | CRC-32C u32BE | kind u8 | group u64 BE  | payload   |
//	+--------------+---------------+---------+---------------+-----------+
//	               <------ CRC and length cover kind, group, payload ---->
//
//	kind 1 entry    index uvarint | term uvarint | type u8 | data
//	     2 hard     term uvarint | vote uvarint | commit uvarint
//	     3 conf     raftpb.ConfState (protobuf)
//	     4 trunc    index uvarint | term uvarint   entries up to index dropped
//	     5 reset    index uvarint | term uvarint   every entry dropped (snapshot installed)
//	     6 snapshot index uvarint | term uvarint | raftpb.ConfState: its .snap file
//	     7 applied  index uvarint
//	     8 meta     the caller's bytes (Batch.SetMeta)
//	     9 delete   the group's records end here
//
// An entry record at index i drops the group's entries from i on and
// appends i: raft overwrites a conflicting uncommitted tail, and that is
// all the truncation of a suffix needs. The in-memory index of a group
// (Group.mu.locs) is, for every entry kept, its segment, offset, record
// size and term: Term, FirstIndex and LastIndex never read the disk;
// Entries reads the records (one ReadAt for neighbours) and checks each
// CRC. A snapshot's data is in its own file, written and synced (then the
// directory) before the record that names it; the file it replaces is
// removed after the commit.
//
// # Durability and crash safety
//
// A Batch's records go in one write at the end of the active segment,
// then one fdatasync; Commit returns after it, and only then does the
// caller (the Raft loop) treat the Ready as persisted: raft's self-ack of
// the leader's entries, the hard state it acknowledges, the messages a
// follower sends (its MsgAppResp). Entries and the hard state that
// commits them travel in the same batch, or the entries in an earlier
// one, earlier in the same file; recovery keeps the longest prefix of
// good records, so a record survives a crash only if every record
// before it does (the kernel may write a commit's pages in any order,
// but a hole makes everything after it the torn tail): no crash leaves
// a commit index on disk without its entries. A snapshot's file is durable
// before its record. A crash mid-commit leaves a torn tail: at Open every
// record of the last segment is checked (length in bounds, CRC), and the
// file is cut at the first bad one: that commit was never synced, so
// nothing it held was ever acknowledged. Earlier segments were synced
// before the next one started; a bad record there fails Open.
//
// Segments after the first are preallocated: once the active one is
// half full, a goroutine zero-fills the next (spare.seg.tmp, synced),
// which becomes the next segment by a rename. Writing over zeros does
// not change the file's size, so fdatasync flushes the data alone
// instead of a journal commit besides (measured on this machine's ext4:
// 0.8-1.1 ms against 1.6-2.5 ms per 35 KB write and fdatasync). Recovery
// takes an all-zero rest of a segment for that unwritten space, not for
// a torn tail.
//
// # Reclaiming space
//
// When the active segment has reached Options.SegmentBytes (64 MiB), the
// next commit starts a new one headed by a checkpoint: every group's
// truncation, hard state, configuration, snapshot, applied index and
// meta. From then on the older segments matter only for the entries they
// hold; after each commit every segment older than the oldest one that
// holds an entry some group keeps (at or after its first index) is
// deleted, whole. A group whose entries keep the oldest segment alive
// while it holds few bytes (an idle queue, the metadata group: a quarter
// segment at most) has its entries copied, records as they are, to the
// active segment in the next commit, so a quiet group never pins the
// disk; a busy group snapshots and compacts soon anyway. Replay tolerates
// the gap deletion leaves (an entry past a group's last one starts its
// index afresh; the truncation record or checkpoint after it sets the
// first index).
//
// # Concurrency
//
// A Store may be used from many goroutines. Store.wmu serialises
// commits (in Warren, the Raft loop is the only writer) and is held
// through a commit's I/O, which is what it is for: no reader takes it.
// Store.mu guards the groups and the open segment files; Group.mu (a
// leaf, taken after Store.mu) guards a group's state and index, changed
// only after a commit's fdatasync. raft's calls read the index under
// Group.mu and the files with no lock held. A Group is meant to be
// driven by one Raft loop.
package raftlog
