package raftlog

import (
	"fmt"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Batch collects the writes of any number of groups and commits them
// with one Badger commit (one fsync): a round of Ready across every group
// a node drives. The groups' in-memory state changes only when Commit
// succeeds. A Batch is used by one goroutine; the first error a method
// meets is kept and returned by Commit, which then writes nothing.
type Batch struct {
	s      *Store
	ops    []op
	groups map[*Group]*state
	err    error
	// deleted are the groups DeleteGroup removes (delete.go).
	deleted []*Group
}

type op struct {
	key, val []byte // val nil: delete
}

// NewBatch returns an empty batch.
func (s *Store) NewBatch() *Batch { return &Batch{s: s, groups: map[*Group]*state{}} }

// Len is the number of writes in the batch.
func (b *Batch) Len() int { return len(b.ops) }

func (b *Batch) state(g *Group) *state {
	if st := b.groups[g]; st != nil {
		return st
	}
	st := g.snapshotState()
	b.groups[g] = &st
	return &st
}

func (b *Batch) set(key []byte, m proto.Message) {
	v, err := proto.Marshal(m)
	if err != nil && b.err == nil {
		b.err = err
	}
	if v == nil {
		v = []byte{}
	}
	b.ops = append(b.ops, op{key, v})
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
		b.set(entryKey(g.id, e.GetIndex()), e)
	}
	for i := lastNew + 1; i <= st.last; i++ {
		b.ops = append(b.ops, op{key: entryKey(g.id, i)})
	}
	st.last, st.lastTerm = lastNew, ents[len(ents)-1].GetTerm()
}

// SetHardState saves g's hard state (an empty one is ignored).
func (b *Batch) SetHardState(g *Group, hs *pb.HardState) {
	if hs == nil || raft.IsEmptyHardState(hs) {
		return
	}
	hs = proto.Clone(hs).(*pb.HardState)
	b.set(groupKey(g.id, kindHard), hs)
	b.state(g).hard = hs
}

// SetConfState saves g's configuration (after a conf change is applied).
func (b *Batch) SetConfState(g *Group, cs *pb.ConfState) {
	cs = proto.Clone(cs).(*pb.ConfState)
	b.set(groupKey(g.id, kindConf), cs)
	b.state(g).conf = cs
}

// SetApplied saves the index g's state machine has applied.
func (b *Batch) SetApplied(g *Group, i uint64) {
	b.ops = append(b.ops, op{groupKey(g.id, kindApplied), u64(i)})
	b.state(g).applied = i
}

// SetMeta saves the caller's own record for g, which raftlog keeps
// beside the conf state without reading it (Warren: the members' names
// and peer addresses), so that it changes in the same commit as the
// configuration.
func (b *Batch) SetMeta(g *Group, v []byte) {
	v = append([]byte{}, v...)
	b.ops = append(b.ops, op{groupKey(g.id, kindMeta), v})
	b.state(g).meta = v
}

// ApplySnapshot replaces g's log with snap (raft's Ready.Snapshot, from
// the leader): every entry goes, the snapshot's index and term become
// the truncated entry, its configuration the conf state.
func (b *Batch) ApplySnapshot(g *Group, snap *pb.Snapshot) {
	st := b.state(g)
	md := snap.GetMetadata()
	if st.snap != nil && st.snap.GetMetadata().GetIndex() >= md.GetIndex() {
		b.fail(raft.ErrSnapOutOfDate)
		return
	}
	for i := st.truncIndex + 1; i <= st.last; i++ {
		b.ops = append(b.ops, op{key: entryKey(g.id, i)})
	}
	snap = proto.Clone(snap).(*pb.Snapshot)
	b.set(groupKey(g.id, kindSnapshot), snap)
	b.setTrunc(g, st, md.GetIndex(), md.GetTerm())
	st.last, st.lastTerm = md.GetIndex(), md.GetTerm()
	st.snap = snap
	cs := md.GetConfState()
	if cs == nil {
		cs = &pb.ConfState{}
	}
	b.SetConfState(g, cs)
}

// CreateSnapshot records a snapshot of g's applied state at index i with
// its configuration cs and the state machine's data.
func (b *Batch) CreateSnapshot(g *Group, i uint64, cs *pb.ConfState, data []byte) {
	st := b.state(g)
	if st.snap != nil && i <= st.snap.GetMetadata().GetIndex() {
		b.fail(raft.ErrSnapOutOfDate)
		return
	}
	term, err := b.term(g, st, i)
	if err != nil {
		b.fail(err)
		return
	}
	snap := &pb.Snapshot{Data: data, Metadata: &pb.SnapshotMetadata{
		ConfState: proto.Clone(cs).(*pb.ConfState), Index: new(i), Term: new(term)}}
	b.set(groupKey(g.id, kindSnapshot), snap)
	st.snap = snap
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
	for j := st.truncIndex + 1; j <= i; j++ {
		b.ops = append(b.ops, op{key: entryKey(g.id, j)})
	}
	b.setTrunc(g, st, i, term)
}

func (b *Batch) setTrunc(g *Group, st *state, index, term uint64) {
	b.ops = append(b.ops, op{groupKey(g.id, kindTrunc), append(u64(index), u64(term)...)})
	st.truncIndex, st.truncTerm = index, term
}

// term is the term of entry i as the batch leaves it; entries the batch
// itself writes are looked up among its writes.
func (b *Batch) term(g *Group, st *state, i uint64) (uint64, error) {
	switch {
	case i == st.truncIndex:
		return st.truncTerm, nil
	case i == st.last:
		return st.lastTerm, nil
	case i < st.truncIndex || i > st.last:
		return 0, raft.ErrUnavailable
	}
	k := entryKey(g.id, i)
	for j := len(b.ops) - 1; j >= 0; j-- {
		if string(b.ops[j].key) == string(k) && b.ops[j].val != nil {
			e := &pb.Entry{}
			if err := proto.Unmarshal(b.ops[j].val, e); err != nil {
				return 0, err
			}
			return e.GetTerm(), nil
		}
	}
	return g.Term(i)
}

// Commit writes the batch with one synced Badger commit (more only when
// it is larger than a Badger transaction takes), then updates the
// groups' state.
func (b *Batch) Commit() error {
	if b.err != nil {
		return b.err
	}
	if len(b.ops) == 0 {
		return nil
	}
	wb := b.s.db.NewWriteBatch()
	defer wb.Cancel()
	for _, o := range b.ops {
		var err error
		if o.val == nil {
			err = wb.Delete(o.key)
		} else {
			err = wb.Set(o.key, o.val)
		}
		if err != nil {
			return fmt.Errorf("raftlog: %w", err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("raftlog: %w", err)
	}
	for g, st := range b.groups {
		g.mu.Lock()
		g.mu.state = *st
		g.mu.Unlock()
	}
	for _, g := range b.deleted {
		b.s.forget(g)
	}
	return nil
}
