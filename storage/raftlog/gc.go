package raftlog

import (
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"
	"go.uber.org/zap"
)

// gcEvery is how often the value log is collected.
const gcEvery = 30 * time.Second

// gc rewrites value log files that are mostly dead (entries dropped by
// snapshots and compactions) until Close: Badger reclaims value log space
// only so. One goroutine per Store, stopped by Close.
func (s *Store) gc(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		for n := 0; n < 16; n++ { // at most 16 files a round
			err := s.db.RunValueLogGC(0.5)
			if err == nil {
				continue
			}
			if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
				s.log.Warn("raftlog: value log collection", zap.Error(err))
			}
			break
		}
	}
}
