package raftlog

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
)

func openSmall(t testing.TB, dir string, seg int64) *Store {
	t.Helper()
	s, err := Open(Options{Dir: dir, SegmentBytes: seg})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// files lists dir's files ending in suffix and their total size.
func files(t testing.TB, dir, suffix string) ([]string, int64) {
	t.Helper()
	ds, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var size int64
	for _, d := range ds {
		if strings.HasSuffix(d.Name(), suffix) {
			fi, err := d.Info()
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, d.Name())
			size += fi.Size()
		}
	}
	return names, size
}

func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	names, _ := files(t, dir, ".seg")
	if len(names) == 0 {
		t.Fatal("no segment")
	}
	return filepath.Join(dir, names[len(names)-1])
}

// TestTornTail: a commit cut short by a crash (its last record
// truncated) or corrupted (a flipped byte: the CRC fails) is cut off at
// the next Open, which recovers every entry before it, and the log goes
// on from there.
func TestTornTail(t *testing.T) {
	for _, damage := range []string{"truncated", "bad checksum"} {
		t.Run(damage, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir)
			g := group(t, s, 7)
			for i := uint64(1); i <= 10; i++ {
				appendRange(t, s, g, i, i, 1)
			}
			b := s.NewBatch()
			b.SetHardState(g, &pb.HardState{Term: new(uint64(1)), Commit: new(uint64(9))})
			if err := b.Commit(); err != nil {
				t.Fatal(err)
			}
			appendRange(t, s, g, 11, 11, 1) // the commit to be torn
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			path := lastSegment(t, dir)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			rec := appendEntryRecord(nil, 7, ent(11, 1))
			if !strings.HasSuffix(string(data), string(rec)) {
				t.Fatal("the last record is not entry 11's")
			}
			switch damage {
			case "truncated":
				data = data[:len(data)-3]
			default:
				data[len(data)-2] ^= 0x40
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}

			s = openStore(t, dir)
			g = group(t, s, 7)
			checkBounds(t, g, 1, 10)
			hs, _, _ := g.InitialState()
			if hs.GetCommit() != 9 {
				t.Fatalf("hard state after recovery: %v", hs)
			}
			ents, err := g.Entries(1, 11, 1<<20)
			if err != nil || len(ents) != 10 || string(ents[9].GetData()) != "entry 10" {
				t.Fatalf("Entries(1, 11) after recovery = %v, %v", indexes(ents), err)
			}
			if fi, _ := os.Stat(path); fi.Size() != int64(len(data)-len(rec)+map[string]int{"truncated": 3, "bad checksum": 0}[damage]) {
				t.Fatalf("the segment is %d bytes after recovery: the torn record was not cut off", fi.Size())
			}
			appendRange(t, s, g, 11, 12, 2)
			s.Close()
			s = openStore(t, dir)
			defer s.Close()
			g = group(t, s, 7)
			checkBounds(t, g, 1, 12)
			if term, _ := g.Term(12); term != 2 {
				t.Fatalf("Term(12) = %d after appending past the recovered tail", term)
			}
		})
	}
}

// TestSegmentsReclaimed: a group that keeps snapshotting and compacting
// gives its segments back: the disk holds a bounded number of them, not
// everything ever written, and a reopen finds the same log.
func TestSegmentsReclaimed(t *testing.T) {
	dir := t.TempDir()
	const seg = 16 << 10
	s := openSmall(t, dir, seg)
	g := group(t, s, 3)
	data := make([]byte, 500)
	var written int64
	for i := uint64(1); i <= 2000; i++ {
		b := s.NewBatch()
		b.Append(g, []*pb.Entry{{Index: new(i), Term: new(uint64(1)), Data: data}})
		b.SetHardState(g, &pb.HardState{Term: new(uint64(1)), Commit: new(i)})
		if i%100 == 0 {
			b.CreateSnapshot(g, i, &pb.ConfState{Voters: []uint64{1}}, fmt.Appendf(nil, "state %d", i))
			b.Compact(g, i-10)
		}
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
		written += int64(len(data))
	}
	segs, size := files(t, dir, ".seg")
	if size > 4*seg || len(segs) > 4 {
		t.Fatalf("%d segments, %d bytes on disk after writing %d bytes of entries; want at most 4 segments", len(segs), size, written)
	}
	if snaps, _ := files(t, dir, ".snap"); len(snaps) != 1 {
		t.Fatalf("snapshot files %v, want only the latest", snaps)
	}
	s.Close()
	s = openSmall(t, dir, seg)
	defer s.Close()
	g = group(t, s, 3)
	checkBounds(t, g, 1991, 2000)
	snap, err := g.Snapshot()
	if err != nil || string(snap.GetData()) != "state 2000" || snap.GetMetadata().GetIndex() != 2000 {
		t.Fatalf("snapshot after reopen: %v, %v", snap.GetMetadata(), err)
	}
	if ents, err := g.Entries(1991, 2001, 1<<20); err != nil || len(ents) != 10 {
		t.Fatalf("Entries after reopen: %v, %v", indexes(ents), err)
	}
	if hs, _, _ := g.InitialState(); hs.GetCommit() != 2000 {
		t.Fatalf("hard state after reopen: %v", hs)
	}
}

// TestIdleGroupCopiedForward: a group with a few entries written once
// (an idle queue, the metadata group) does not keep the oldest segment
// alive while a busy group writes and compacts: its entries are copied
// forward and the segments go; after a reopen both logs are whole.
func TestIdleGroupCopiedForward(t *testing.T) {
	dir := t.TempDir()
	const seg = 16 << 10
	s := openSmall(t, dir, seg)
	idle, busy := group(t, s, 1), group(t, s, 2)
	appendRange(t, s, idle, 1, 3, 1)
	b := s.NewBatch()
	b.SetHardState(idle, &pb.HardState{Term: new(uint64(1)), Vote: new(uint64(5)), Commit: new(uint64(3))})
	b.SetConfState(idle, &pb.ConfState{Voters: []uint64{5, 6}})
	b.SetMeta(idle, []byte("book"))
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 500)
	for i := uint64(1); i <= 1000; i++ {
		b := s.NewBatch()
		b.Append(busy, []*pb.Entry{{Index: new(i), Term: new(uint64(1)), Data: data}})
		if i%50 == 0 {
			b.CreateSnapshot(busy, i, &pb.ConfState{Voters: []uint64{1}}, nil)
			b.Compact(busy, i)
		}
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if segs, _ := files(t, dir, ".seg"); len(segs) > 4 || segs[0] == fmt.Sprintf("%016x.seg", 1) {
		t.Fatalf("segments %v: the idle group keeps the first one", segs)
	}
	s.Close()
	s = openSmall(t, dir, seg)
	defer s.Close()
	idle, busy = group(t, s, 1), group(t, s, 2)
	checkBounds(t, idle, 1, 3)
	ents, err := idle.Entries(1, 4, 1<<20)
	if err != nil || fmt.Sprint(indexes(ents)) != "[1 2 3]" || string(ents[2].GetData()) != "entry 3" {
		t.Fatalf("the idle group's entries after reopen: %v, %v", indexes(ents), err)
	}
	hs, cs, _ := idle.InitialState()
	if hs.GetVote() != 5 || hs.GetCommit() != 3 || fmt.Sprint(cs.GetVoters()) != "[5 6]" || string(idle.Meta()) != "book" {
		t.Fatalf("the idle group's state after reopen: %v, %v, %q", hs, cs, idle.Meta())
	}
	checkBounds(t, busy, 1001, 1000)
}

// TestConflictSurvivesReopen: raft overwrites an uncommitted tail
// (entries 6.. of term 1 by 6..8 of term 2); a reopen finds the new
// tail, not the old entries past it.
func TestConflictSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	g := group(t, s, 9)
	appendRange(t, s, g, 1, 10, 1)
	appendRange(t, s, g, 6, 8, 2)
	s.Close()
	s = openStore(t, dir)
	defer s.Close()
	g = group(t, s, 9)
	checkBounds(t, g, 1, 8)
	for i, want := range map[uint64]uint64{5: 1, 6: 2, 8: 2} {
		if term, err := g.Term(i); term != want || err != nil {
			t.Fatalf("Term(%d) = %d, %v; want %d", i, term, err, want)
		}
	}
	ents, err := g.Entries(5, 9, 1<<20)
	if err != nil || fmt.Sprint(indexes(ents)) != "[5 6 7 8]" || ents[1].GetTerm() != 2 {
		t.Fatalf("Entries(5, 9) = %v, %v", indexes(ents), err)
	}
}

// TestDeletedGroupFilesGo: a deleted group's snapshot file is removed
// and its segments are given back once newer ones cover them.
func TestDeletedGroupFilesGo(t *testing.T) {
	dir := t.TempDir()
	s := openSmall(t, dir, 4<<10)
	defer s.Close()
	g, other := group(t, s, 1), group(t, s, 2)
	data := make([]byte, 300)
	for i := uint64(1); i <= 40; i++ {
		b := s.NewBatch()
		b.Append(g, []*pb.Entry{{Index: new(i), Term: new(uint64(1)), Data: data}})
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.CreateSnapshot(40, &pb.ConfState{Voters: []uint64{1}}, []byte("x"), 5); err != nil {
		t.Fatal(err)
	}
	b := s.NewBatch()
	b.DeleteGroup(g)
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if snaps, _ := files(t, dir, ".snap"); len(snaps) != 0 {
		t.Fatalf("snapshot files of a deleted group: %v", snaps)
	}
	for i := uint64(1); i <= 20; i++ {
		appendRange(t, s, other, i, i, 1)
		if err := other.CreateSnapshot(i, &pb.ConfState{Voters: []uint64{1}}, nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	if segs, size := files(t, dir, ".seg"); len(segs) > 2 {
		t.Fatalf("%d segments (%d bytes) left after the group was deleted", len(segs), size)
	}
}

// TestZeroFilledTail: a segment's preallocated space (zeros) after the
// last record is unwritten space, not a torn tail: Open keeps the file's
// size, and new records overwrite the zeros and read back after another
// reopen. A torn record inside the zeros is cut off.
func TestZeroFilledTail(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	g := group(t, s, 4)
	appendRange(t, s, g, 1, 5, 1)
	s.Close()
	path := lastSegment(t, dir)
	data, _ := os.ReadFile(path)
	written := len(data)
	if err := os.WriteFile(path, append(data, make([]byte, 8192)...), 0o644); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	g = group(t, s, 4)
	checkBounds(t, g, 1, 5)
	if fi, _ := os.Stat(path); fi.Size() != int64(written+8192) {
		t.Fatalf("the segment is %d bytes after Open, want its preallocated %d", fi.Size(), written+8192)
	}
	appendRange(t, s, g, 6, 8, 1)
	s.Close()
	data, _ = os.ReadFile(path)
	rec := appendEntryRecord(nil, 4, ent(9, 1))
	// A torn record: the first half of entry 9's, written over the zeros.
	end := written
	for _, i := range []uint64{6, 7, 8} {
		end += len(appendEntryRecord(nil, 4, ent(i, 1)))
	}
	copy(data[end:], rec[:len(rec)/2])
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	defer s.Close()
	g = group(t, s, 4)
	checkBounds(t, g, 1, 8)
	if ents, err := g.Entries(6, 9, 1<<20); err != nil || string(ents[2].GetData()) != "entry 8" {
		t.Fatalf("Entries(6, 9) after a torn record in preallocated space: %v, %v", indexes(ents), err)
	}
	if fi, _ := os.Stat(path); fi.Size() != int64(end) {
		t.Fatalf("the segment is %d bytes, want the torn record cut off at %d", fi.Size(), end)
	}
}

// TestSpareSegmentUsed: once the active segment is half full the next one
// is zero-filled in the background, and a later rotation takes it: the
// active segment is SegmentBytes long from its start, and its records
// read back after a reopen.
func TestSpareSegmentUsed(t *testing.T) {
	dir := t.TempDir()
	const seg = 32 << 10
	s := openSmall(t, dir, seg)
	g := group(t, s, 2)
	deadline := time.Now().Add(20 * time.Second)
	i := uint64(0)
	found := false
	for !found {
		if time.Now().After(deadline) {
			t.Fatal("no preallocated segment after 20 s of appends")
		}
		i++
		appendRange(t, s, g, i, i, 1)
		names, _ := files(t, dir, ".seg")
		if len(names) > 1 { // a rotation happened; the active one is preallocated?
			if fi, err := os.Stat(filepath.Join(dir, names[len(names)-1])); err == nil && fi.Size() == seg {
				found = true
			}
		}
	}
	s.Close()
	s = openSmall(t, dir, seg)
	defer s.Close()
	g = group(t, s, 2)
	checkBounds(t, g, 1, i)
	if ents, err := g.Entries(1, i+1, 1<<30); err != nil || len(ents) != int(i) {
		t.Fatalf("Entries after reopen: %d entries, %v", len(ents), err)
	}
}
