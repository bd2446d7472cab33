package storage

import (
	"fmt"
	"time"

	"go.uber.org/zap"
)

// The disk guard. The store is short of disk while the file system has
// less than MinFreeBytes free: the engine then takes no new data (Admit),
// and the store works to get space back. Free space is read at every
// group commit and, by diskLoop, every DiskCheckInterval, so that the
// guard also lets go while nothing is written. While short, diskLoop
// compacts and runs value-log GC after every change written (acks,
// deletes): Badger gives back the space of deleted values only through
// GC, which otherwise runs every GCInterval.

// Admit reports whether the store takes new data now: nil, or an error
// wrapping ErrDiskFull while free space is below MinFreeBytes. The engine
// calls it once before it accepts a message or a definition that it
// would store, and then submits all of that publish's writes: the store
// does not refuse them for want of space above half of MinFreeBytes (see
// checkSpace), so what was admitted is never refused halfway.
func (s *Store) Admit() error {
	if !s.m.diskShort.Load() {
		return nil
	}
	return fmt.Errorf("%w: %d bytes free in %s, below the limit of %d", ErrDiskFull, s.m.diskFree.Load(), s.opts.Dir, s.m.minFree.Load())
}

// DiskFree is the free space last read, in bytes (-1 before the first
// read, or with the guard off).
func (s *Store) DiskFree() int64 { return s.m.diskFree.Load() }

// MinFreeBytes is the disk free limit (Options.MinFreeBytes).
func (s *Store) MinFreeBytes() int64 { return s.m.minFree.Load() }

// SetMinFreeBytes changes the disk free limit at run time (rabbitmqctl
// set_disk_free_limit) and reads the free space at once. A store opened
// with the guard off (MinFreeBytes < 0) does not poll the free space, so
// there the new limit is checked at writes only.
func (s *Store) SetMinFreeBytes(n int64) {
	s.m.minFree.Store(n)
	if n >= 0 {
		s.checkDisk()
	}
}

// noteFree records a reading of the free space, and logs and acts on a
// change of the short state.
func (s *Store) noteFree(free int64) {
	s.m.diskFree.Store(free)
	// Once short, the store stays short until an eighth of the limit more
	// is free: its own flushes and compactions give back a little space
	// now and then (a memtable's log, with bodies in body files mostly),
	// which must not let one more publish through.
	min := s.m.minFree.Load()
	was := s.m.diskShort.Load()
	short := min > 0 && (free < min || was && free < min+min/8)
	if !s.m.diskShort.CompareAndSwap(was, short) || was == short {
		return
	}
	if short {
		s.log.Warn("disk almost full: refusing new persistent messages and durable definitions until space comes back",
			zap.String("dir", s.opts.Dir), zap.Int64("free", free), zap.Int64("disk_free_limit", min))
		s.signal(s.diskWake) // GC now, not at the next tick
		return
	}
	s.log.Info("disk space back: accepting new data", zap.String("dir", s.opts.Dir), zap.Int64("free", free),
		zap.Int64("disk_free_limit", min))
}

// checkDisk reads the free space now.
func (s *Store) checkDisk() {
	if free, err := s.freeBytes(); err == nil {
		s.noteFree(free)
	}
}

// diskLoop re-reads the free space every DiskCheckInterval until Close,
// and while the store is short, reclaims space after every change.
func (s *Store) diskLoop() {
	defer s.gcWG.Done()
	t := time.NewTicker(s.opts.DiskCheckInterval)
	defer t.Stop()
	var gcAt uint64 // m.syncs at the last GC run for space
	ran := false
	for {
		select {
		case <-s.gcStop:
			return
		case <-t.C:
		case <-s.diskWake:
		}
		s.checkDisk()
		if !s.m.diskShort.Load() {
			ran = false
			continue
		}
		if ran && s.m.syncs.Load() == gcAt {
			continue // nothing written since the last try: nothing new to reclaim
		}
		ran = true
		start := time.Now()
		n, err := s.runGC(true, false) // no flatten or roll-over: they write, and space is short
		gcAt = s.m.syncs.Load()
		s.checkDisk()
		s.log.Info("disk short: value-log GC", zap.Int("files_rewritten", n), zap.Duration("took", time.Since(start)),
			zap.Int64("free", s.m.diskFree.Load()), zap.Error(err))
	}
}
