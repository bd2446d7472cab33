// Package storage is Warren's durable store: definitions (vhosts, users,
// durable exchanges and queues, bindings) and persistent messages with
// their places in durable queues, on Badger (github.com/dgraph-io/badger/v4).
// It knows bytes, not AMQP: the engine encodes definitions and messages,
// assigns message ids and queue ids, and keeps the live indexes in memory;
// the store makes them durable and gives them back at start-up.
//
// # Files
//
//	Dir/LOCK    flock'ed while a store is open; holds the owner's pid. A second
//	            Open fails with a *LockedError naming that pid.
//	Dir/FORMAT  "warren-storage 1", written (and synced) before db/ is created.
//	Dir/db/     Badger's directory (MANIFEST, *.sst, *.vlog, *.mem, ...).
//	Dir/bodies/ body files: <segment, 16 hex digits>.seg, the large
//	            message bodies (see "Large bodies").
//
// A directory that cannot be read, or holds something else than a Warren
// store (db/ with files but no FORMAT or no MANIFEST, another FORMAT, a
// MANIFEST Badger refuses), makes Open fail with an error saying so, and
// nothing in it is removed or rewritten: Badger opens db/ only after
// these checks pass.
//
// # Key layout
//
// One Badger key space; big-endian integers, so key order is numeric
// order and a queue's entries iterate in seq order.
//
//	+-----+-------------------+----------------+       value
//	| 'd' | kind ... 0x00     | key ...        |  ->  definition (opaque)
//	+-----+-------------------+----------------+
//	| 'm' | msgID  u64 BE     |                   ->  message bytes (opaque), stored once
//	+-----+-------------------+----------------+
//	| 'q' | queueID u64 BE    | seq u64 BE     |  ->  +---------------+-------------+
//	+-----+-------------------+----------------+      | msgID u64 BE  | meta ...    |
//	| 'z' |                                    |      +---------------+-------------+
//	+-----+-------------------+----------------+  ->  empty: flush marker, written and
//	   1          8                  8                dropped at once by RunGC
//
// A message routed to N durable queues is one 'm' key and N 'q' keys.
// Message bodies of ValueThreshold bytes or more live in Badger's value
// log, so the LSM tree holds only keys, small values and value pointers;
// entries and definitions stay in the tree. Messages of BodyThreshold
// bytes or more live in body files instead, and their 'm' value is a
// pointer, marked by Badger's UserMeta bit bodyMeta:
//
//	'm' msgID  ->  +------------------+------------------+--------------+
//	(UserMeta 1)   | segment u64 BE   | offset u64 BE    | length u32 BE|
//	               +------------------+------------------+--------------+
//
// # Large bodies
//
// A caller whose body buffer is reused once the store is done with it
// (the broker's pooled bodies) puts it with PutMessagePartsHeld: the
// notifier goroutine calls its release after the group holding it is
// written, or its write cancelled or refused, never before; a batch that
// is never submitted never calls it.
//
// Badger copies a value three times on its way to the disk (into its
// write buffer, into the memory-mapped value log page by page, then
// msync). A message of BodyThreshold bytes or more (64 KiB) is instead
// appended to the body file being written, from the slices it lies in
// (PutMessageParts: the engine's header, then the body as it came off the
// wire), with write(2); a body file is a plain concatenation of bodies,
// no framing. The writer writes a group's bodies, fdatasyncs their files
// (and the directory once per new file), and only then commits the
// group's Badger batch holding their pointers: a pointer never reaches
// the disk before its body, and a confirm never goes out before either.
// A body file past BodySegmentSize is closed and the next one started;
// a file is deleted as soon as every body in it is settled (the group
// holding the last delete is synced), the file being written too, so a
// drained store keeps no body file. Recovery learns which bodies are live
// from the pointers (Recover walks the 'm' keys anyway), deletes the
// orphans' pointers like any orphan, then deletes every body file left
// without a live body: those of a group a crash cut between the body's
// sync and the pointer's commit, and those whose deletion a crash
// interrupted. New files are numbered after the highest on disk. A body
// that cannot be written (ENOSPC) fails its group alone, the file cut
// back; a failed fdatasync fails the store (see Errors). Dropping a queue removes its
// 'q' range (key by key when small, with DropPrefix when big); deleting
// the messages no queue references any more is the engine's job, and
// recovery deletes any it left behind.
//
// # Writes: group commit
//
// Every write goes through Submit (PutDefinition and DeleteDefinition
// wait for theirs). Submit appends the batch's operations to the pending
// group under a short lock and returns; one writer goroutine takes the
// whole pending group when it is free, writes it with one Badger write
// batch (Badger splits it only past its transaction limits, avoiding
// ErrTxnTooBig), and Badger syncs it (SyncWrites: one fsync of the value
// log and one of the memtable's log per commit). A notifier goroutine
// then calls each done callback, in submission order, with nil or the
// error: a publisher confirm is sent only after its message is on disk.
// While one group is written the next one fills, so a busy store makes
// few, large syncs.
//
//	Submit ──┐                 writer goroutine              notifier goroutine
//	Submit ──┼─> pending group ──> Badger write + fsync ──> done(err) ... done(err)
//	Submit ──┘   (cancel put+delete pairs)
//
// A delete that finds its own put still pending cancels both: a message
// consumed and acked before its group reached the disk is never written.
//
// # Errors
//
// The store keeps the file system from filling up: Badger writes through
// mmap, and a write into a full disk crashes the process with SIGBUS
// instead of returning an error (seen on a 16 MiB tmpfs with the check
// off). Below MinFreeBytes of free space the store is short (disk.go),
// until an eighth of it more is free again:
// Admit refuses new data, so the engine refuses a publish before any queue
// takes it, while every write of what was already admitted is still made;
// and the store compacts and runs value-log GC after every change until
// space is back, read every DiskCheckInterval, so that publishing resumes
// within seconds of a drain. Below half of MinFreeBytes (beyond the
// group's bytes), a last resort, the submissions that put anything get
// ErrDiskFull while those that only delete are written, so consumers can
// drain a full disk: keep acks in their own Submits. Below a quarter every
// submission is refused. Later groups are tried again as space comes
// back. Any error from Badger itself (an I/O error, a failed fsync,
// including one Badger only logs) fails the store: every later write
// fails with ErrFailed, since what reached the disk is unknown. Reads
// still work; a restart recovers from what is on disk.
//
// # Reading and recovery
//
// Message and Messages read bodies back (read-ahead for bodies kept only
// on disk). Recover, once at start-up, iterates the 'q' range in key
// order, then the 'm' range by key alone, deletes orphaned messages and
// reports counts, the highest message id and the time taken. Badger is
// iterated only there: at run time the engine's indexes are in memory,
// and the store only does point writes and point reads, so tombstones
// (which iterators must step over until compaction drops them) cost the
// publish and deliver paths nothing.
//
// # Disk hygiene
//
// Value-log GC runs every GCInterval (RunGC by hand), and once the store
// has been quiet for IdleGCAfter after a value-log file's worth of writes
// (a backlog drained), file after file
// until Badger finds none with GCDiscardRatio garbage; commits wait while
// a file is rewritten (Badger's GC races with its own write path
// otherwise). Badger counts garbage only in compactions, and compacts only
// what its memtables flushed: so RunGC, and the scheduled GC after an
// interval without writes, first flush the memtables through the writer
// (a marker key dropped by prefix) and compact level 0; and when the
// tables are small (flattenBelow memtables: a drained backlog's deletes),
// they compact the whole tree into one level (Flatten), so that every
// delete meets the version it deletes and Badger counts all the garbage.
// After a backlog drains, the disk then goes back to its start but for
// the value-log file being written, which Badger never rewrites (at most
// ValueLogFileSize, 16 MiB). Under steady churn (writes never stop), GC
// also runs once churnGCFiles value-log files were written with message
// deletes among them, so the disk stays within a few files of the live
// data.
// Deleting or purging a queue drops its 'q' range; message bodies go with
// their last reference.
//
// # Concurrency
//
// Every method is safe for concurrent use. Done callbacks run on the
// notifier goroutine, one at a time: they must not block for long, and
// may call Submit. Submit never blocks; Throttle does, while too many
// bytes wait for their sync. Lock order: Store.gcMu (one RunGC at a time)
// -> Store.badgerMu (held by the writer while it commits a group, and by
// GC while it rewrites one value-log file) -> Store.mu, a leaf never held
// during I/O or while calling back. Close waits for reads in progress.
package storage
