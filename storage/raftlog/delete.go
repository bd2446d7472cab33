package raftlog

import pb "go.etcd.io/raft/v3/raftpb"

// DeleteGroup removes every record of g: a group that ends (a quorum
// queue deleted with its group). After Commit, g must not be used; the
// Store forgets it, and Store.Group(id) starts an empty log again.
func (b *Batch) DeleteGroup(g *Group) {
	st := b.state(g)
	for i := st.truncIndex + 1; i <= st.last; i++ {
		b.ops = append(b.ops, op{key: entryKey(g.id, i)})
	}
	for _, k := range []byte{kindHard, kindConf, kindSnapshot, kindTrunc, kindApplied, kindMeta} {
		b.ops = append(b.ops, op{key: groupKey(g.id, k)})
	}
	*st = state{hard: &pb.HardState{}, conf: &pb.ConfState{}}
	b.deleted = append(b.deleted, g)
}

// forget drops g from the store's groups (after its deletion is
// committed).
func (s *Store) forget(g *Group) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.groups[g.id] == g {
		delete(s.mu.groups, g.id)
	}
}
