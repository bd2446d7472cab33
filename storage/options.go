package storage

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"go.uber.org/zap"
)

// Options configures a Store. Every zero field takes the default written
// beside it.
type Options struct {
	// Dir is the data directory. It holds LOCK (ours, flock'ed, with the
	// owner's pid) and db/ (Badger's files). Required unless InMemory.
	Dir string
	// Logger gets Badger's warnings and errors and the store's own
	// reports (recovery, GC, write failures). nil: no logging.
	Logger *zap.Logger
	// InMemory keeps everything in memory (tests): no Dir, no lock, no
	// fsync, no value-log GC, and messages of at most 1 MiB.
	InMemory bool

	// MaxBatchBytes closes a group commit once its pending operations
	// carry this many bytes; later submissions start the next group.
	// 0: 4 MiB.
	MaxBatchBytes int64
	// MaxDelay makes the writer wait up to this long for a group to
	// fill before writing it. 0 (the default) writes as soon as the
	// writer is free: groups then form by themselves while the previous
	// one is being synced, which is the lowest latency.
	MaxDelay time.Duration
	// MaxPendingBytes is how many submitted but unsynced bytes Throttle
	// lets through before it blocks. 0: 64 MiB.
	MaxPendingBytes int64

	// GCInterval is how often value-log GC runs. 0: 5 minutes;
	// negative: never (RunGC still works).
	GCInterval time.Duration
	// IdleGCAfter: once nothing was written for this long, after at least
	// ValueLogFileSize bytes since the last GC, GC runs (compacting, and
	// flattening a small tree, first) without waiting for GCInterval; and
	// while writes go on, every IdleGCAfter once churnGCFiles value-log
	// files were written and messages deleted since the last GC. 0: 5
	// seconds.
	IdleGCAfter time.Duration
	// ReleaseInterval is how often the pages of Badger's memory-mapped
	// files are dropped from the process's resident set (they stay in the
	// page cache). 0: 2 seconds; negative: never.
	ReleaseInterval time.Duration
	// GCDiscardRatio is the share of garbage a value-log file needs to
	// be rewritten. 0: 0.5.
	GCDiscardRatio float64

	// MinFreeBytes is the free space below which the store is short of
	// disk: Admit refuses new data, and the store compacts and runs
	// value-log GC after every change until space is back. Below half of
	// it puts fail with ErrDiskFull before Badger sees them (Badger writes
	// through mmap, where a full disk is a SIGBUS, not an error); see
	// checkSpace. 0: 4*MemTableSize + 2*ValueLogFileSize; negative: no
	// check.
	MinFreeBytes int64
	// DiskCheckInterval is how often free space is read besides at every
	// group commit, so that the guard lets go while nothing is written.
	// 0: 1 second.
	DiskCheckInterval time.Duration

	// DropPrefixAbove: DropQueue deletes a queue key by key inside the
	// group commit when its range holds at most this many versions (live
	// entries and the tombstones of acked ones), and otherwise with
	// Badger's DropPrefix, which rewrites the tables holding it but
	// stalls every other write while it runs. 0: 10000.
	DropPrefixAbove int

	// Badger tuning.

	// ValueThreshold: values of at least this many bytes (message
	// bodies) go to the value log, smaller ones (entries, definitions,
	// tiny messages) stay in the LSM tree. 0: 256.
	ValueThreshold int64
	// MemTableSize bounds one memtable and its write-ahead log; a restart
	// replays at most NumMemtables of them. 0: 16 MiB.
	MemTableSize int64
	// NumMemtables is how many memtables may wait for a flush before
	// writes stall. 0: 3.
	NumMemtables int
	// ValueLogFileSize is the size of one value-log file, the unit of
	// value-log GC, and the largest message Badger takes (larger ones go
	// to body files, see BodyThreshold). Badger never rewrites the file
	// being written: a drained store keeps up to one. 0: 16 MiB.
	ValueLogFileSize int64

	// BodyThreshold: messages of at least this many bytes are written to
	// body segment files (Dir/bodies) with write(2), and Badger keeps only
	// a pointer to them (bodies.go). 0: 64 KiB; negative: never (every
	// message in Badger, the largest ValueLogFileSize).
	BodyThreshold int64
	// BodySegmentSize is the size past which the body file being written
	// is closed and a new one started; a file is deleted once every body
	// in it is settled. 0: 64 MiB.
	BodySegmentSize int64

	hooks *hooks // failure injection and probes, for tests
}

// hooks let tests in this package fail writes and observe the writer.
type hooks struct {
	beforeWrite func() error // a non-nil error fails the group before Badger sees it
	beforeSync  func() error // a non-nil error fails the group as a sync failure
	freeBytes   func() (int64, error)
}

func (o *Options) setDefaults() error {
	if o.Dir == "" && !o.InMemory {
		return errors.New("storage: Options.Dir is required")
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.MaxBatchBytes == 0 {
		o.MaxBatchBytes = 4 << 20
	}
	if o.MaxPendingBytes == 0 {
		o.MaxPendingBytes = 64 << 20
	}
	if o.GCInterval == 0 {
		o.GCInterval = 5 * time.Minute
	}
	if o.IdleGCAfter <= 0 {
		o.IdleGCAfter = 5 * time.Second
	}
	if o.GCDiscardRatio == 0 {
		o.GCDiscardRatio = 0.5
	}
	if o.GCDiscardRatio <= 0 || o.GCDiscardRatio >= 1 {
		return fmt.Errorf("storage: GCDiscardRatio %v not in (0, 1)", o.GCDiscardRatio)
	}
	if o.DropPrefixAbove == 0 {
		o.DropPrefixAbove = 10000
	}
	if o.ValueThreshold == 0 {
		o.ValueThreshold = 256
	}
	if o.ReleaseInterval == 0 {
		o.ReleaseInterval = 2 * time.Second
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = 16 << 20
	}
	if o.NumMemtables == 0 {
		o.NumMemtables = 3
	}
	if o.ValueLogFileSize == 0 {
		o.ValueLogFileSize = 16 << 20
	}
	if o.MinFreeBytes == 0 {
		o.MinFreeBytes = minFreeBytes(o.MemTableSize, o.ValueLogFileSize)
	}
	if o.BodyThreshold == 0 {
		o.BodyThreshold = 64 << 10
	}
	if o.BodySegmentSize <= 0 {
		o.BodySegmentSize = 64 << 20
	}
	if o.DiskCheckInterval <= 0 {
		o.DiskCheckInterval = time.Second
	}
	if o.InMemory {
		o.GCInterval = -1
		o.MinFreeBytes = -1
		o.ValueThreshold = 1 << 20 // in memory, Badger keeps every value in the memtable
		o.BodyThreshold = -1
	}
	return nil
}

// DefaultMinFreeBytes is MinFreeBytes with the default Badger sizes.
const DefaultMinFreeBytes = 4*(16<<20) + 2*(16<<20)

// minFreeBytes is the headroom Badger needs with these sizes: what it may
// write between two checks of the free space. That is the memtable's
// write-ahead log (one memtable), the memtables waiting to be flushed as
// level-0 tables (three), the value-log file being written (one file) and
// a value-log GC's rewrite of the live part of one file (up to one file).
// Badger writes through mmap, where a full disk is a SIGBUS.
func minFreeBytes(memTable, valueLogFile int64) int64 {
	return 4*memTable + 2*valueLogFile
}

// maxMessageBytes is the largest message Badger takes with these options.
func (o *Options) maxMessageBytes() int64 {
	if o.InMemory {
		return 1 << 20
	}
	return o.ValueLogFileSize
}

// onFile reports whether a message of n bytes goes to a body file.
func (o *Options) onFile(n int) bool {
	return o.BodyThreshold > 0 && int64(n) >= o.BodyThreshold
}

// badgerOptions tunes Badger for a broker on a small machine (2 cores;
// memory bounded whatever the backlog): bodies in the value log, small
// memtables so restarts replay little, no compression (the CPU is better
// spent on the wire; bodies in the value log are never compressed anyway),
// no block cache (it only pays with compression or encryption), two
// compactors, no conflict detection (the writer goroutine is the only
// writer).
//
// SyncWrites is on: the writer issues one Badger commit per group, and
// Badger then fsyncs the value log and the memtable's log once for it. A
// db.Sync() after unsynced writes would not do: it syncs only the current
// value-log file and write-ahead log, so a group that crosses a file
// rotation would be confirmed with the tail of the previous file unsynced.
func (o *Options) badgerOptions(dbDir string, s *Store) badger.Options {
	bo := badger.DefaultOptions(dbDir)
	if o.InMemory {
		bo = badger.DefaultOptions("").WithInMemory(true)
	}
	return bo.
		WithLogger(badgerLogger{log: o.Logger.WithOptions(zap.AddCallerSkip(1)), s: s}).
		WithLoggingLevel(badger.WARNING).
		WithSyncWrites(!o.InMemory).
		WithMetricsEnabled(false). // expvar: process-global state
		WithDetectConflicts(false).
		WithNumVersionsToKeep(1).
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithNumCompactors(2).
		WithNumGoroutines(2).
		WithMemTableSize(o.MemTableSize).
		WithNumMemtables(o.NumMemtables).
		WithValueThreshold(o.ValueThreshold).
		WithValueLogFileSize(o.ValueLogFileSize)
}

// badgerLogger sends Badger's log to zap. Badger logs, rather than
// returns, a failed fsync of the value log on its write path; such a
// message makes the store fail for good (see Store.fail).
type badgerLogger struct {
	log *zap.Logger
	s   *Store
}

func (l badgerLogger) Errorf(f string, args ...any) {
	msg := strings.TrimSpace(fmt.Sprintf(f, args...))
	l.log.Error("badger: " + msg)
	if strings.Contains(strings.ToLower(msg), "sync") && l.s != nil {
		l.s.fail(fmt.Errorf("badger: %s", msg))
	}
}

func (l badgerLogger) Warningf(f string, args ...any) {
	l.log.Warn("badger: " + strings.TrimSpace(fmt.Sprintf(f, args...)))
}

func (l badgerLogger) Infof(f string, args ...any) {
	l.log.Debug("badger: " + strings.TrimSpace(fmt.Sprintf(f, args...)))
}

func (l badgerLogger) Debugf(f string, args ...any) {
	l.log.Debug("badger: " + strings.TrimSpace(fmt.Sprintf(f, args...)))
}
