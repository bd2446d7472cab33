package storage

import (
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
	"go.uber.org/zap"
)

// gcLoop runs value-log GC every GCInterval until Close. After an
// interval without writes, it first compacts (see compact): an idle store
// then gives back the space of what was deleted, at no one's expense. It
// also runs, compacting, once the store has been quiet for IdleGCAfter
// after a value-log file's worth of writes, so that the space of a
// drained backlog comes back within seconds.
// releaseLoop keeps the pages of Badger's mapped files out of the RSS
// (see releaseMappings).
//
// It releases every ReleaseInterval, and sooner, at an eighth of it, once
// releaseBytes were written or read since the last release: large bodies
// paged out at hundreds of MiB/s would otherwise pile up in the RSS
// between two releases.
func (s *Store) releaseLoop() {
	defer s.gcWG.Done()
	t := time.NewTicker(max(s.opts.ReleaseInterval/8, time.Millisecond))
	defer t.Stop()
	last, lastBytes := time.Now(), s.movedBytes()
	for {
		select {
		case <-s.gcStop:
			return
		case <-t.C:
		}
		moved := s.movedBytes()
		if moved == lastBytes && time.Since(last) < idleRelease*s.opts.ReleaseInterval {
			// Nothing written or read: only compactions map pages now, so
			// an idle broker reads its mappings seldom.
			continue
		}
		if moved-lastBytes < releaseBytes && time.Since(last) < s.opts.ReleaseInterval {
			continue
		}
		last, lastBytes = time.Now(), moved
		if _, err := releaseMappings(s.dir); err != nil {
			s.log.Debug("releasing mapped pages failed", zap.Error(err))
		}
	}
}

// idleRelease is how many ReleaseIntervals releaseLoop waits when no
// value was written or read.
const idleRelease = 8

// releaseBytes is how much value data written or read makes releaseLoop
// release before its interval is up.
const releaseBytes = 32 << 20

// movedBytes is the value bytes written to and read from the store.
func (s *Store) movedBytes() uint64 { return s.m.bytesWritten.Load() + s.m.bytesRead.Load() }

func (s *Store) gcLoop() {
	defer s.gcWG.Done()
	t := time.NewTicker(s.opts.GCInterval)
	defer t.Stop()
	quiet := time.NewTicker(s.opts.IdleGCAfter)
	defer quiet.Stop()
	last, lastQuiet := s.m.syncs.Load(), s.m.syncs.Load()
	gcAt := s.m.bytesWritten.Load() // value bytes written when GC last ran
	delAt := s.m.msgDeletes.Load()  // message deletes written when GC last ran
	idleAt, idleDel := gcAt, delAt  // the same when an idle GC last ran
	for {
		var compact, flatten bool
		select {
		case <-s.gcStop:
			return
		case <-t.C:
			compact = s.m.syncs.Load() == last
		case <-quiet.C:
			now := s.m.syncs.Load()
			idle := now == lastQuiet
			lastQuiet = now
			written := s.m.bytesWritten.Load()
			switch {
			case idle && (written-idleAt >= uint64(s.opts.ValueLogFileSize) || s.m.msgDeletes.Load()-idleDel >= idleGCDeletes):
				// Soon after the writes stop (a backlog drained, say), not
				// at the next interval: a value-log file's worth was
				// written, or many messages deleted, since the last idle
				// GC and nothing for IdleGCAfter. A drain writes only
				// deletes (no value bytes), so it is not slowed by this.
				compact, flatten = true, true
			case !idle && written-gcAt >= churnGCFiles*uint64(s.opts.ValueLogFileSize) && s.m.msgDeletes.Load() > delAt:
				// Steady churn (publish and consume, a standing backlog):
				// writes never stop, and the files of messages long
				// consumed would wait for GCInterval. A fill (no deletes)
				// is left alone.
				compact = true
			default:
				continue
			}
		}
		start := time.Now()
		n, err := s.runGC(compact, flatten)
		last, lastQuiet = s.m.syncs.Load(), s.m.syncs.Load()
		gcAt, delAt = s.m.bytesWritten.Load(), s.m.msgDeletes.Load()
		if flatten {
			idleAt, idleDel = gcAt, delAt
		}
		switch {
		case err != nil:
			s.log.Warn("value-log GC failed", zap.Error(err))
		case n > 0:
			s.log.Info("value-log GC", zap.Int("files_rewritten", n), zap.Bool("compacted", compact), zap.Duration("took", time.Since(start)))
		}
	}
}

// churnGCFiles is how many value-log files' worth of writes, with message
// deletes among them, make GC run while writes go on: on-disk size under
// churn then stays within about that many files of the live data.
const churnGCFiles = 4

// idleGCDeletes is how many message deletes since the last idle GC make
// the next quiet moment run one, whatever was written: a backlog that
// drains after a GC ran during its fill.
const idleGCDeletes = 1000

// flattenBelow: an idle GC compacts the whole tree into one level first
// when Badger's tables take less than this many memtables. Only then do
// the deletes of a drained backlog meet, in one compaction, the versions
// they delete in lower levels, so that Badger counts all the value-log
// garbage; a large tree (a standing backlog) is left to Badger's own
// compactions.
const flattenBelow = 8

// RunGC compacts what was written since the last compaction (see
// compact), then runs Badger's value-log GC until it finds no file with
// at least GCDiscardRatio of garbage, and returns how many files it
// rewrote. Only one GC runs at a time. Commits wait while a file is
// rewritten, and the compaction goes through the writer and blocks other
// writes while it flushes.
func (s *Store) RunGC() (int, error) {
	return s.runGC(true, true)
}

// runGC compacts first if compact is set; with flatten (an idle store, or
// RunGC) it also flattens a small tree.
func (s *Store) runGC(compact, flatten bool) (int, error) {
	if s.opts.InMemory {
		return 0, nil
	}
	if compact {
		if err := s.compact(); err != nil {
			return 0, err
		}
	}
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	if flatten {
		if err := s.flatten(); err != nil {
			return 0, err
		}
	}
	return s.gcFiles()
}

// gcFiles runs Badger's value-log GC until it finds no file to rewrite.
func (s *Store) gcFiles() (int, error) {
	n := 0
	for {
		select {
		case <-s.gcStop:
			return n, nil
		default:
		}
		// One file at a time, with commits held off (badgerMu): the
		// writer waits for at most one file's rewrite.
		err := s.readable(func() error {
			s.badgerMu.Lock()
			defer s.badgerMu.Unlock()
			return s.db.RunValueLogGC(s.opts.GCDiscardRatio)
		})
		switch {
		case err == nil:
			n++
			s.m.gcRewrites.Add(1)
		case errors.Is(err, badger.ErrNoRewrite), errors.Is(err, badger.ErrRejected):
			return n, nil
		default:
			return n, fmt.Errorf("storage: value-log GC: %w", err)
		}
	}
}

// flatten compacts a small tree into one level (see flattenBelow), with
// commits held off: Badger's Flatten and a DropPrefix in the writer must
// not stop and start compactions at the same time.
func (s *Store) flatten() error {
	return s.readable(func() error {
		var lsm int64
		levels := 0
		for _, l := range s.db.Levels() {
			lsm += l.Size
			if l.NumTables > 0 {
				levels++
			}
		}
		if levels <= 1 || lsm >= flattenBelow*s.opts.MemTableSize {
			return nil
		}
		s.badgerMu.Lock()
		defer s.badgerMu.Unlock()
		if err := s.db.Flatten(1); err != nil {
			return fmt.Errorf("storage: flatten: %w", err)
		}
		return nil
	})
}

// compact makes Badger see the garbage of recent deletes, if anything was
// written since the last time. Badger counts value-log garbage only when
// compactions drop the values' old versions, and compacts only what its
// memtables flushed: after a drain with no writes behind it, the deletes
// sit in a memtable and GC finds nothing to reclaim. compact flushes the
// memtables through the writer (so it is ordered with writes) and
// compacts level 0.
func (s *Store) compact() error {
	if s.m.syncs.Load() == s.compacted.Load() {
		return nil
	}
	b := Batch{ops: []op{{kind: opCompact}}}
	if err := s.apply(&b); err != nil {
		return fmt.Errorf("storage: compaction: %w", err)
	}
	s.compacted.Store(s.m.syncs.Load())
	return nil
}
