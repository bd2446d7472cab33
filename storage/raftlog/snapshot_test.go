package raftlog

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// TestSnapshotWrittenBesideTheLog: a snapshot file written by
// WriteSnapshotFile while the log takes appends, then recorded, is the
// group's snapshot, after a restart too; an older one is refused and its
// file dropped, and a file never recorded is gone after a restart. A
// drop never removes the recorded snapshot's file.
func TestSnapshotWrittenBesideTheLog(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	g := group(t, s, 7)
	cs := &pb.ConfState{Voters: []uint64{1}}
	appendRange(t, s, g, 1, 10, 1)
	if err := s.WriteSnapshotFile(g, 8, []byte("state at 8")); err != nil {
		t.Fatal(err)
	}
	appendRange(t, s, g, 11, 12, 1) // the log goes on meanwhile
	b := s.NewBatch()
	b.CreateSnapshotWritten(g, 8, cs)
	b.Compact(g, 8)
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	s.DropSnapshotFile(g, 8) // recorded: kept
	check := func(g *Group) {
		t.Helper()
		snap, err := g.Snapshot()
		if err != nil || string(snap.Data) != "state at 8" || snap.GetMetadata().GetIndex() != 8 || snap.GetMetadata().GetTerm() != 1 {
			t.Fatalf("snapshot %v, %v", snap, err)
		}
		checkBounds(t, g, 9, 12)
	}
	check(g)

	// An older snapshot than the recorded one: refused, its file dropped.
	if err := s.WriteSnapshotFile(g, 7, []byte("state at 7")); err != nil {
		t.Fatal(err)
	}
	b = s.NewBatch()
	b.CreateSnapshotWritten(g, 7, cs)
	if err := b.Commit(); !errors.Is(err, raft.ErrSnapOutOfDate) {
		t.Fatalf("an older snapshot: %v", err)
	}
	s.DropSnapshotFile(g, 7)
	if _, err := os.Stat(s.snapPath(7, 7)); !os.IsNotExist(err) {
		t.Fatalf("a dropped snapshot file: %v", err)
	}
	// Written, never recorded: gone after a restart.
	if err := s.WriteSnapshotFile(g, 11, []byte("state at 11")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, dir)
	g = group(t, s, 7)
	check(g)
	names, _ := filepath.Glob(filepath.Join(dir, "*.snap"))
	if len(names) != 1 || filepath.Base(names[0]) != filepath.Base(s.snapPath(7, 8)) {
		t.Fatalf("snapshot files after a restart: %v", names)
	}
}
