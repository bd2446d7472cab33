package raftlog

import (
	"fmt"
	"os"
)

// A large snapshot is written beside the log rather than by Commit,
// which holds the store's write lock, and every group's appends with it,
// while it writes: WriteSnapshotFile writes the file (synced, with its
// directory) from any goroutine, and Batch.CreateSnapshotWritten then
// records it. A file never recorded (a newer snapshot came first, or the
// process stopped) is removed by DropSnapshotFile, or at the next Open.

// WriteSnapshotFile writes data as g's snapshot file for index i.
func (s *Store) WriteSnapshotFile(g *Group, i uint64, data []byte) error {
	path := s.snapPath(g.id, i)
	// Its own temporary name: Commit may be writing a snapshot of the
	// same index installed from the leader meanwhile.
	if err := writeFileSynced(path, ".own.tmp", data); err != nil {
		return fmt.Errorf("raftlog: group %d: writing a snapshot: %w", g.id, err)
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("raftlog: %w", err)
	}
	return nil
}

// DropSnapshotFile removes the file WriteSnapshotFile wrote for g at
// index i, unless a snapshot of that index is g's recorded one (one
// installed from the leader at the same index has the same name).
func (s *Store) DropSnapshotFile(g *Group, i uint64) {
	s.wmu.Lock() // no Commit records one meanwhile
	defer s.wmu.Unlock()
	if md := g.scalars().snap; md != nil && md.GetIndex() == i {
		return
	}
	os.Remove(s.snapPath(g.id, i))
}
