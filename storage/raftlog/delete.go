package raftlog

// DeleteGroup removes every record of g: a group that ends (a quorum
// queue deleted with its group). After Commit, g must not be used; the
// Store forgets it, and Store.Group(id) starts an empty log again. Its
// entries' space comes back when their segments are deleted.
func (b *Batch) DeleteGroup(g *Group) {
	b.buf = appendBytesRecord(b.buf, recDelete, g.id, nil)
	b.n++
	*b.state(g) = bstate{}
	b.deleted = append(b.deleted, g)
}
