package raftlog

import (
	"errors"
	"fmt"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// Batch collects the writes of any number of groups as records and
// commits them with one write and one fdatasync of the active segment: a
// round of Ready across every group a node drives. The groups' in-memory
// state changes only when Commit succeeds, by replaying the records
// written (the function recovery uses). A Batch is used by one
// goroutine; the first error a method meets is kept and returned by
// Commit, which then writes nothing.
type Batch struct {
	s      *Store
	buf    []byte
	n      int // records in buf
	groups map[*Group]*bstate
	snaps  []snapWrite
	err    error
	// deleted are the groups DeleteGroup removes (delete.go).
	deleted []*Group
}

// bstate is a group's log as the batch leaves it, for the checks.
type bstate struct {
	truncIndex, truncTerm uint64
	last, lastTerm        uint64
	snap                  uint64 // the snapshot's index; 0: none
	terms                 []uint64
	termsFrom             uint64 // terms[k] is the term of entry termsFrom+k, written by this batch
}

// snapWrite is a snapshot file Commit writes before the records.
type snapWrite struct {
	g       *Group
	index   uint64
	data    []byte
	written bool // its file is written already (WriteSnapshotFile)
}

// NewBatch returns an empty batch.
func (s *Store) NewBatch() *Batch { return &Batch{s: s, groups: map[*Group]*bstate{}} }

// Len is the number of writes in the batch.
func (b *Batch) Len() int { return b.n + len(b.snaps) }

func (b *Batch) state(g *Group) *bstate {
	if st := b.groups[g]; st != nil {
		return st
	}
	sc := g.scalars()
	st := &bstate{truncIndex: sc.truncIndex, truncTerm: sc.truncTerm, last: sc.last, lastTerm: sc.lastTerm}
	if sc.snap != nil {
		st.snap = sc.snap.GetIndex()
	}
	b.groups[g] = st
	return st
}

func (b *Batch) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// Append appends entries to g's log (raft's Ready.Entries), replacing any
// entries from the first new index on; entries already compacted are
// skipped.
func (b *Batch) Append(g *Group, ents []*pb.Entry) {
	if len(ents) == 0 {
		return
	}
	st := b.state(g)
	first := ents[0].GetIndex()
	lastNew := first + uint64(len(ents)) - 1
	if lastNew <= st.truncIndex {
		return
	}
	if first <= st.truncIndex {
		ents = ents[st.truncIndex+1-first:]
		first = st.truncIndex + 1
	}
	if first > st.last+1 {
		b.fail(fmt.Errorf("raftlog: group %d: append at %d leaves a gap after %d", g.id, first, st.last))
		return
	}
	for _, e := range ents {
		b.buf = appendEntryRecord(b.buf, g.id, e)
		b.n++
	}
	switch {
	case len(st.terms) == 0:
		st.terms, st.termsFrom = st.terms[:0], first
	case first < st.termsFrom:
		st.terms, st.termsFrom = st.terms[:0], first
	default:
		st.terms = st.terms[:min(uint64(len(st.terms)), first-st.termsFrom)]
	}
	for k := len(st.terms); uint64(k) < lastNew+1-st.termsFrom; k++ {
		st.terms = append(st.terms, ents[st.termsFrom+uint64(k)-first].GetTerm())
	}
	st.last, st.lastTerm = lastNew, ents[len(ents)-1].GetTerm()
}

// SetHardState saves g's hard state (an empty one is ignored).
func (b *Batch) SetHardState(g *Group, hs *pb.HardState) {
	if hs == nil || raft.IsEmptyHardState(hs) {
		return
	}
	b.buf = appendHardRecord(b.buf, g.id, hs)
	b.n++
}

// SetConfState saves g's configuration (after a conf change is applied).
func (b *Batch) SetConfState(g *Group, cs *pb.ConfState) {
	var err error
	if b.buf, err = appendProtoRecord(b.buf, recConf, g.id, nil, cs); err != nil {
		b.fail(err)
		return
	}
	b.n++
}

// SetApplied saves the index g's state machine has applied.
func (b *Batch) SetApplied(g *Group, i uint64) {
	b.buf = appendUintRecord(b.buf, recApplied, g.id, i)
	b.n++
}

// SetMeta saves the caller's own record for g, which raftlog keeps
// beside the conf state without reading it (Warren: the members' names
// and peer addresses), so that it changes in the same commit as the
// configuration.
func (b *Batch) SetMeta(g *Group, v []byte) {
	if v == nil {
		v = []byte{}
	}
	b.buf = appendBytesRecord(b.buf, recMeta, g.id, v)
	b.n++
}

// ApplySnapshot replaces g's log with snap (raft's Ready.Snapshot, from
// the leader): every entry goes, the snapshot's index and term become
// the truncated entry, its configuration the conf state.
func (b *Batch) ApplySnapshot(g *Group, snap *pb.Snapshot) {
	st := b.state(g)
	md := snap.GetMetadata()
	if st.snap != 0 && st.snap >= md.GetIndex() {
		b.fail(raft.ErrSnapOutOfDate)
		return
	}
	b.buf = appendPairRecord(b.buf, recReset, g.id, md.GetIndex(), md.GetTerm())
	b.n++
	st.truncIndex, st.truncTerm, st.last, st.lastTerm = md.GetIndex(), md.GetTerm(), md.GetIndex(), md.GetTerm()
	st.terms = st.terms[:0]
	cs := md.GetConfState()
	if cs == nil {
		cs = &pb.ConfState{}
	}
	b.addSnapshot(g, st, md.GetIndex(), md.GetTerm(), cs, snap.GetData())
	b.SetConfState(g, cs)
}

// CreateSnapshot records a snapshot of g's applied state at index i with
// its configuration cs and the state machine's data.
func (b *Batch) CreateSnapshot(g *Group, i uint64, cs *pb.ConfState, data []byte) {
	b.createSnapshot(g, i, cs, snapWrite{g: g, index: i, data: data})
}

// CreateSnapshotWritten records a snapshot of g at index i whose file
// WriteSnapshotFile wrote (snapshot.go): CreateSnapshot without the
// data.
func (b *Batch) CreateSnapshotWritten(g *Group, i uint64, cs *pb.ConfState) {
	b.createSnapshot(g, i, cs, snapWrite{g: g, index: i, written: true})
}

func (b *Batch) createSnapshot(g *Group, i uint64, cs *pb.ConfState, sw snapWrite) {
	st := b.state(g)
	if st.snap != 0 && i <= st.snap {
		b.fail(raft.ErrSnapOutOfDate)
		return
	}
	term, err := b.term(g, st, i)
	if err != nil {
		b.fail(err)
		return
	}
	b.addSnapshotFile(g, st, i, term, cs, sw)
}

func (b *Batch) addSnapshot(g *Group, st *bstate, i, term uint64, cs *pb.ConfState, data []byte) {
	b.addSnapshotFile(g, st, i, term, cs, snapWrite{g: g, index: i, data: data})
}

func (b *Batch) addSnapshotFile(g *Group, st *bstate, i, term uint64, cs *pb.ConfState, sw snapWrite) {
	if sw.data == nil {
		sw.data = []byte{}
	}
	var err error
	if b.buf, err = appendProtoRecord(b.buf, recSnap, g.id, []uint64{i, term}, cs); err != nil {
		b.fail(err)
		return
	}
	b.n++
	b.snaps = append(b.snaps, sw)
	st.snap = i
}

// Compact drops g's entries up to and including i (which a snapshot must
// cover); i's term is kept for Term.
func (b *Batch) Compact(g *Group, i uint64) {
	st := b.state(g)
	if i <= st.truncIndex {
		b.fail(raft.ErrCompacted)
		return
	}
	if i > st.last {
		b.fail(fmt.Errorf("raftlog: group %d: compact %d past the last index %d", g.id, i, st.last))
		return
	}
	term, err := b.term(g, st, i)
	if err != nil {
		b.fail(err)
		return
	}
	b.buf = appendPairRecord(b.buf, recTrunc, g.id, i, term)
	b.n++
	st.truncIndex, st.truncTerm = i, term
}

// term is the term of entry i as the batch leaves it.
func (b *Batch) term(g *Group, st *bstate, i uint64) (uint64, error) {
	switch {
	case i == st.truncIndex:
		return st.truncTerm, nil
	case i == st.last:
		return st.lastTerm, nil
	case i < st.truncIndex || i > st.last:
		return 0, raft.ErrUnavailable
	case len(st.terms) > 0 && i >= st.termsFrom:
		return st.terms[i-st.termsFrom], nil
	}
	return g.Term(i)
}

// errClosed: a commit on a closed store.
var errClosed = errors.New("raftlog: the store is closed")
