package storage

import (
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
	"go.uber.org/zap"
)

// gcLoop runs value-log GC every GCInterval until Close.
func (s *Store) gcLoop() {
	defer s.gcWG.Done()
	t := time.NewTicker(s.opts.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-s.gcStop:
			return
		case <-t.C:
			start := time.Now()
			n, err := s.RunGC()
			switch {
			case err != nil:
				s.log.Warn("value-log GC failed", zap.Error(err))
			case n > 0:
				s.log.Info("value-log GC", zap.Int("files_rewritten", n), zap.Duration("took", time.Since(start)))
			}
		}
	}
}

// RunGC runs Badger's value-log GC until it finds no file with at least
// GCDiscardRatio of garbage, and returns how many files it rewrote. Only
// one runs at a time; it runs beside the writer, not in its way (but
// a DropQueue that needs DropPrefix waits for the file being rewritten).
// Badger learns what is garbage from its compactions, so space freed by
// the latest deletes may only be reclaimed by a later run.
func (s *Store) RunGC() (int, error) {
	if s.opts.InMemory {
		return 0, nil
	}
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	n := 0
	for {
		select {
		case <-s.gcStop:
			return n, nil
		default:
		}
		err := s.readable(func() error { return s.db.RunValueLogGC(s.opts.GCDiscardRatio) })
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
