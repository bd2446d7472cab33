package raftlog

import (
	"fmt"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// drive runs a single-voter RawNode over g until nothing is ready,
// persisting each Ready through a Batch, and returns the normal entries
// it was given to apply.
func drive(t *testing.T, s *Store, rn *raft.RawNode, g *Group) []string {
	t.Helper()
	var applied []string
	for rn.HasReady() {
		rd := rn.Ready()
		b := s.NewBatch()
		if !raft.IsEmptySnap(rd.Snapshot) {
			b.ApplySnapshot(g, rd.Snapshot)
		}
		b.Append(g, rd.Entries)
		b.SetHardState(g, rd.HardState)
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
		b = s.NewBatch()
		for _, e := range rd.CommittedEntries {
			switch e.GetType() {
			case pb.EntryNormal:
				if len(e.GetData()) > 0 {
					applied = append(applied, string(e.GetData()))
				}
			case pb.EntryConfChange:
				var cc pb.ConfChange
				if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
					t.Fatal(err)
				}
				b.SetConfState(g, rn.ApplyConfChange(&cc))
			}
			b.SetApplied(g, e.GetIndex())
		}
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
		rn.Advance(rd)
	}
	return applied
}

func newRawNode(t *testing.T, g *Group) *raft.RawNode {
	t.Helper()
	rn, err := raft.NewRawNode(&raft.Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: g,
		Applied: g.Applied(), MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 64, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	return rn
}

// TestRawNodeOverGroup runs etcd's raft over a Group: it commits
// proposals, snapshots and compacts, and a restarted node finds its term,
// log and configuration and commits on from there.
func TestRawNodeOverGroup(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	g := group(t, s, 3)
	rn := newRawNode(t, g)
	if err := rn.Bootstrap([]raft.Peer{{ID: 1}}); err != nil {
		t.Fatal(err)
	}
	drive(t, s, rn, g)
	if err := rn.Campaign(); err != nil {
		t.Fatal(err)
	}
	drive(t, s, rn, g)
	if st := rn.BasicStatus(); st.RaftState != raft.StateLeader {
		t.Fatalf("a single voter is %v after campaigning", st.RaftState)
	}
	var got []string
	for i := range 5 {
		if err := rn.Propose(fmt.Appendf(nil, "cmd %d", i)); err != nil {
			t.Fatal(err)
		}
		got = append(got, drive(t, s, rn, g)...)
	}
	if fmt.Sprint(got) != "[cmd 0 cmd 1 cmd 2 cmd 3 cmd 4]" {
		t.Fatalf("applied %q", got)
	}
	applied := g.Applied()
	_, cs, _ := g.InitialState()
	if err := g.CreateSnapshot(applied, cs, []byte("snap"), 1); err != nil {
		t.Fatal(err)
	}
	term := rn.BasicStatus().HardState.GetTerm()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir)
	defer s.Close()
	g = group(t, s, 3)
	rn = newRawNode(t, g)
	if again := drive(t, s, rn, g); len(again) != 0 {
		t.Fatalf("a restarted node applied %q again", again)
	}
	if err := rn.Campaign(); err != nil {
		t.Fatal(err)
	}
	drive(t, s, rn, g)
	if st := rn.BasicStatus(); st.RaftState != raft.StateLeader || st.HardState.GetTerm() <= term {
		t.Fatalf("after restart: %v at term %d (was %d)", st.RaftState, st.HardState.GetTerm(), term)
	}
	if err := rn.Propose([]byte("after restart")); err != nil {
		t.Fatal(err)
	}
	if got := drive(t, s, rn, g); fmt.Sprint(got) != "[after restart]" {
		t.Fatalf("applied %q after restart", got)
	}
	if last, _ := g.LastIndex(); g.Applied() != last {
		t.Fatalf("applied %d, last index %d", g.Applied(), last)
	}
}

// quietLogger drops raft's log (its default logger writes to stderr).
type quietLogger struct{}

func (quietLogger) Debug(...any)            {}
func (quietLogger) Debugf(string, ...any)   {}
func (quietLogger) Error(...any)            {}
func (quietLogger) Errorf(string, ...any)   {}
func (quietLogger) Info(...any)             {}
func (quietLogger) Infof(string, ...any)    {}
func (quietLogger) Warning(...any)          {}
func (quietLogger) Warningf(string, ...any) {}
func (quietLogger) Fatal(v ...any)          { panic(fmt.Sprint(v...)) }
func (quietLogger) Fatalf(f string, v ...any) {
	panic(fmt.Sprintf(f, v...))
}
func (quietLogger) Panic(v ...any) { panic(fmt.Sprint(v...)) }
func (quietLogger) Panicf(f string, v ...any) {
	panic(fmt.Sprintf(f, v...))
}

// BenchmarkBatch is the cost of persisting one Ready (one 256-byte entry
// and a hard state) for each of 8 groups: in one Batch (one fsync) and in
// a Batch per group (8 fsyncs).
func BenchmarkBatch(b *testing.B) {
	for _, mode := range []string{"one-batch", "batch-per-group"} {
		b.Run(mode, func(b *testing.B) {
			s := openStore(b, b.TempDir())
			defer s.Close()
			var gs []*Group
			for id := range uint64(8) {
				gs = append(gs, group(b, s, id+1))
			}
			data := make([]byte, 256)
			idx := uint64(0)
			b.ReportAllocs()
			for b.Loop() {
				idx++
				batch := s.NewBatch()
				for _, g := range gs {
					batch.Append(g, []*pb.Entry{{Index: new(idx), Term: new(uint64(1)), Data: data}})
					batch.SetHardState(g, &pb.HardState{Term: new(uint64(1)), Commit: new(idx)})
					if mode == "batch-per-group" {
						if err := batch.Commit(); err != nil {
							b.Fatal(err)
						}
						batch = s.NewBatch()
					}
				}
				if err := batch.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/8, "µs/group")
		})
	}
}
