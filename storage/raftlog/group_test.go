package raftlog

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

func openStore(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func group(t testing.TB, s *Store, id uint64) *Group {
	t.Helper()
	g, err := s.Group(id)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func ent(i, term uint64) *pb.Entry {
	return &pb.Entry{Index: new(i), Term: new(term), Data: fmt.Appendf(nil, "entry %d", i)}
}

// appendRange appends entries lo..hi of term and commits them.
func appendRange(t testing.TB, s *Store, g *Group, lo, hi, term uint64) {
	t.Helper()
	var ents []*pb.Entry
	for i := lo; i <= hi; i++ {
		ents = append(ents, ent(i, term))
	}
	b := s.NewBatch()
	b.Append(g, ents)
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
}

func indexes(ents []*pb.Entry) []uint64 {
	var out []uint64
	for _, e := range ents {
		out = append(out, e.GetIndex())
	}
	return out
}

func checkBounds(t *testing.T, g *Group, first, last uint64) {
	t.Helper()
	f, _ := g.FirstIndex()
	l, _ := g.LastIndex()
	if f != first || l != last {
		t.Fatalf("FirstIndex, LastIndex = %d, %d; want %d, %d", f, l, first, last)
	}
}

func TestEmptyGroup(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	g := group(t, s, 1)
	checkBounds(t, g, 1, 0)
	hs, cs, err := g.InitialState()
	if err != nil || !raft.IsEmptyHardState(hs) || cs == nil || len(cs.GetVoters()) != 0 {
		t.Fatalf("InitialState = %v, %v, %v; want empty", hs, cs, err)
	}
	if term, err := g.Term(0); term != 0 || err != nil {
		t.Fatalf("Term(0) = %d, %v", term, err)
	}
	if _, err := g.Entries(1, 2, 1<<20); !errors.Is(err, raft.ErrUnavailable) {
		t.Fatalf("Entries on an empty log: %v, want ErrUnavailable", err)
	}
	snap, err := g.Snapshot()
	if err != nil || !raft.IsEmptySnap(snap) {
		t.Fatalf("Snapshot = %v, %v; want empty", snap, err)
	}
}

func TestEntriesAndTerm(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	g := group(t, s, 7)
	appendRange(t, s, g, 1, 3, 1)
	appendRange(t, s, g, 4, 5, 2)
	checkBounds(t, g, 1, 5)
	for i, want := range map[uint64]uint64{0: 0, 1: 1, 3: 1, 4: 2, 5: 2} {
		if term, err := g.Term(i); term != want || err != nil {
			t.Errorf("Term(%d) = %d, %v; want %d", i, term, err, want)
		}
	}
	if _, err := g.Term(6); !errors.Is(err, raft.ErrUnavailable) {
		t.Errorf("Term(6) past the end: %v, want ErrUnavailable", err)
	}
	ents, err := g.Entries(2, 5, 1<<20)
	if err != nil || fmt.Sprint(indexes(ents)) != "[2 3 4]" {
		t.Fatalf("Entries(2, 5) = %v, %v", indexes(ents), err)
	}
	if !bytes.Equal(ents[0].GetData(), []byte("entry 2")) {
		t.Fatalf("entry 2 holds %q", ents[0].GetData())
	}
	// maxSize: at least one entry, then no more than maxSize bytes.
	if ents, err := g.Entries(1, 6, 1); err != nil || len(ents) != 1 {
		t.Fatalf("Entries(1, 6, maxSize 1) = %v, %v; want exactly one entry", indexes(ents), err)
	}
	size := uint64(0)
	for _, e := range ents[:2] {
		size += uint64(len(mustMarshal(t, e)))
	}
	if ents, err := g.Entries(2, 6, size); err != nil || len(ents) != 2 {
		t.Fatalf("Entries(2, 6, two entries' size) = %v, %v; want two", indexes(ents), err)
	}
	if _, err := g.Entries(3, 7, 1<<20); !errors.Is(err, raft.ErrUnavailable) {
		t.Fatalf("Entries past the end: %v, want ErrUnavailable", err)
	}
}

func TestAppendReplacesSuffix(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	g := group(t, s, 1)
	appendRange(t, s, g, 1, 5, 1)
	appendRange(t, s, g, 3, 4, 2) // a new leader's entries from 3 on
	checkBounds(t, g, 1, 4)
	if term, _ := g.Term(3); term != 2 {
		t.Fatalf("Term(3) = %d after the overwrite, want 2", term)
	}
	if _, err := g.Entries(5, 6, 1<<20); !errors.Is(err, raft.ErrUnavailable) {
		t.Fatalf("the replaced entry 5 is still there: %v", err)
	}
	b := s.NewBatch()
	b.Append(g, []*pb.Entry{ent(9, 2)})
	if err := b.Commit(); err == nil {
		t.Fatal("an append leaving a gap was accepted")
	}
	checkBounds(t, g, 1, 4)
}

func TestSnapshotAndCompaction(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	g := group(t, s, 1)
	appendRange(t, s, g, 1, 10, 3)
	cs := &pb.ConfState{Voters: []uint64{1, 2, 3}}
	if err := g.CreateSnapshot(6, cs, []byte("state at 6"), 2); err != nil {
		t.Fatal(err)
	}
	// The snapshot is at 6; two entries before it stay for slow followers.
	checkBounds(t, g, 5, 10)
	if _, err := g.Entries(4, 6, 1<<20); !errors.Is(err, raft.ErrCompacted) {
		t.Fatalf("Entries(4): %v, want ErrCompacted", err)
	}
	if _, err := g.Term(3); !errors.Is(err, raft.ErrCompacted) {
		t.Fatalf("Term(3): %v, want ErrCompacted", err)
	}
	if term, err := g.Term(4); term != 3 || err != nil {
		t.Fatalf("Term(4) of the truncated entry = %d, %v; want 3", term, err)
	}
	snap, err := g.Snapshot()
	if err != nil || snap.GetMetadata().GetIndex() != 6 || snap.GetMetadata().GetTerm() != 3 ||
		string(snap.GetData()) != "state at 6" || fmt.Sprint(snap.GetMetadata().GetConfState().GetVoters()) != "[1 2 3]" {
		t.Fatalf("Snapshot = %v, %v", snap, err)
	}
	if err := g.CreateSnapshot(5, cs, nil, 0); !errors.Is(err, raft.ErrSnapOutOfDate) {
		t.Fatalf("an older snapshot: %v, want ErrSnapOutOfDate", err)
	}
	b := s.NewBatch()
	b.Compact(g, 4)
	if err := b.Commit(); !errors.Is(err, raft.ErrCompacted) {
		t.Fatalf("compacting what is gone: %v, want ErrCompacted", err)
	}
	b = s.NewBatch()
	b.Compact(g, 11)
	if err := b.Commit(); err == nil {
		t.Fatal("compacting past the last index was accepted")
	}
	// A later snapshot whose catch-up window reaches past the first
	// index compacts nothing more, and is taken.
	if err := g.CreateSnapshot(7, cs, []byte("state at 7"), 5); err != nil {
		t.Fatalf("a snapshot keeping more than is left: %v", err)
	}
	checkBounds(t, g, 5, 10)
	// Appending below the first index skips what is compacted.
	appendRange(t, s, g, 3, 11, 3)
	checkBounds(t, g, 5, 11)
}

func TestApplySnapshot(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	g := group(t, s, 1)
	appendRange(t, s, g, 1, 4, 1)
	snap := &pb.Snapshot{Data: []byte("leader's state"), Metadata: &pb.SnapshotMetadata{
		Index: new(uint64(20)), Term: new(uint64(5)), ConfState: &pb.ConfState{Voters: []uint64{1, 2}}}}
	b := s.NewBatch()
	b.ApplySnapshot(g, snap)
	b.SetHardState(g, &pb.HardState{Term: new(uint64(5)), Commit: new(uint64(20))})
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, g, 21, 20)
	if term, _ := g.Term(20); term != 5 {
		t.Fatalf("Term(20) = %d, want the snapshot's 5", term)
	}
	if _, err := g.Entries(2, 3, 1<<20); !errors.Is(err, raft.ErrCompacted) {
		t.Fatalf("the old entries after a snapshot: %v, want ErrCompacted", err)
	}
	_, cs, _ := g.InitialState()
	if fmt.Sprint(cs.GetVoters()) != "[1 2]" {
		t.Fatalf("conf state %v, want the snapshot's", cs)
	}
	b = s.NewBatch()
	b.ApplySnapshot(g, snap)
	if err := b.Commit(); !errors.Is(err, raft.ErrSnapOutOfDate) {
		t.Fatalf("the same snapshot again: %v, want ErrSnapOutOfDate", err)
	}
	appendRange(t, s, g, 21, 22, 5)
	checkBounds(t, g, 21, 22)
}

func TestRestartRecovery(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	g1, g2 := group(t, s, 1), group(t, s, 2)
	b := s.NewBatch() // both groups, one commit
	var ents1, ents2 []*pb.Entry
	for i := uint64(1); i <= 8; i++ {
		ents1 = append(ents1, ent(i, 2))
	}
	for i := uint64(1); i <= 3; i++ {
		ents2 = append(ents2, ent(i, 1))
	}
	b.Append(g1, ents1)
	b.Append(g2, ents2)
	b.SetHardState(g1, &pb.HardState{Term: new(uint64(2)), Vote: new(uint64(3)), Commit: new(uint64(7))})
	b.SetHardState(g2, &pb.HardState{Term: new(uint64(1)), Commit: new(uint64(3))})
	b.SetConfState(g1, &pb.ConfState{Voters: []uint64{1, 2, 3}})
	b.SetApplied(g1, 7)
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := g1.CreateSnapshot(5, &pb.ConfState{Voters: []uint64{1, 2, 3}}, []byte("five"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir)
	defer s.Close()
	g1, g2 = group(t, s, 1), group(t, s, 2)
	checkBounds(t, g1, 6, 8)
	checkBounds(t, g2, 1, 3)
	hs, cs, _ := g1.InitialState()
	if hs.GetTerm() != 2 || hs.GetVote() != 3 || hs.GetCommit() != 7 || fmt.Sprint(cs.GetVoters()) != "[1 2 3]" {
		t.Fatalf("after restart: hard state %v, conf state %v", hs, cs)
	}
	if g1.Applied() != 7 || g2.Applied() != 0 {
		t.Fatalf("applied %d and %d after restart, want 7 and 0", g1.Applied(), g2.Applied())
	}
	if term, err := g1.Term(5); term != 2 || err != nil {
		t.Fatalf("Term(5) of the truncated entry after restart = %d, %v", term, err)
	}
	if term, _ := g1.Term(8); term != 2 {
		t.Fatalf("Term(8) after restart = %d", term)
	}
	ents, err := g1.Entries(6, 9, 1<<20)
	if err != nil || fmt.Sprint(indexes(ents)) != "[6 7 8]" || string(ents[2].GetData()) != "entry 8" {
		t.Fatalf("Entries after restart = %v, %v", indexes(ents), err)
	}
	snap, _ := g1.Snapshot()
	if snap.GetMetadata().GetIndex() != 5 || string(snap.GetData()) != "five" {
		t.Fatalf("snapshot after restart: %v", snap)
	}
}

func mustMarshal(t testing.TB, e *pb.Entry) []byte {
	t.Helper()
	b, err := proto.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDeleteGroup: a deleted group's records are gone, another group's
// stay, and the id starts an empty log again.
func TestDeleteGroup(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	g, other := group(t, s, 5), group(t, s, 6)
	b := s.NewBatch()
	for _, x := range []*Group{g, other} {
		b.Append(x, []*pb.Entry{{Index: new(uint64(1)), Term: new(uint64(1))}, {Index: new(uint64(2)), Term: new(uint64(1))}})
		b.SetHardState(x, &pb.HardState{Term: new(uint64(1)), Commit: new(uint64(2))})
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := g.CreateSnapshot(1, &pb.ConfState{Voters: []uint64{1}}, []byte("state"), 0); err != nil {
		t.Fatal(err)
	}
	b = s.NewBatch()
	b.DeleteGroup(g)
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, dir)
	defer s.Close()
	g, other = group(t, s, 5), group(t, s, 6)
	if last, _ := g.LastIndex(); last != 0 {
		t.Fatalf("deleted group: last index %d", last)
	}
	if snap, _ := g.Snapshot(); len(snap.GetData()) != 0 {
		t.Fatal("deleted group: a snapshot is left")
	}
	if hs, _, _ := g.InitialState(); hs.GetCommit() != 0 {
		t.Fatal("deleted group: a hard state is left")
	}
	if last, _ := other.LastIndex(); last != 2 {
		t.Fatalf("the other group: last index %d, want 2", last)
	}
}

// TestMetaSurvivesReopen: the caller's record is saved with the conf state
// in one commit and read back after a reopen, per group.
func TestMetaSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	g, h := group(t, s, 1), group(t, s, 2)
	if m := g.Meta(); m != nil {
		t.Fatalf("a new group's meta = %q, want none", m)
	}
	b := s.NewBatch()
	b.SetConfState(g, &pb.ConfState{Voters: []uint64{7, 8}})
	b.SetMeta(g, []byte(`{"a":"127.0.0.1:1"}`))
	b.SetMeta(h, []byte("other"))
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	defer s.Close()
	g, h = group(t, s, 1), group(t, s, 2)
	_, cs, _ := g.InitialState()
	if got := string(g.Meta()); got != `{"a":"127.0.0.1:1"}` || len(cs.GetVoters()) != 2 {
		t.Fatalf("after reopen: meta %q, voters %v", got, cs.GetVoters())
	}
	if got := string(h.Meta()); got != "other" {
		t.Fatalf("group 2's meta = %q", got)
	}
}
