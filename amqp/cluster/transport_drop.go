package cluster

import (
	"errors"

	pb "go.etcd.io/raft/v3/raftpb"
)

// dropped reports whether the test hook loses m (a message of group).
func (t *transport) dropped(group uint64, m *pb.Message) bool {
	f := t.drop.Load()
	return f != nil && *f != nil && (*f)(group, m)
}

// setDrop makes the transport lose the messages f returns true for (nil:
// none), as a link that breaks between two frames does: raft resends
// its own messages, but a proposal forwarded to the leader is lost.
// For tests.
func (t *transport) setDrop(f func(group uint64, m *pb.Message) bool) { t.drop.Store(&f) }

// failing reports whether the test hook fails m (a message of group) as
// a write that failed would: not sent, and reported (failed).
func (t *transport) failing(group uint64, m *pb.Message) bool {
	f := t.fail.Load()
	return f != nil && *f != nil && (*f)(group, m)
}

// setFail makes the transport fail the messages f returns true for (nil:
// none), as a connection that breaks under a write. For tests.
func (t *transport) setFail(f func(group uint64, m *pb.Message) bool) { t.fail.Store(&f) }

// errBroken is the write error of a connection setBreak breaks.
var errBroken = errors.New("cluster: a link broken by a test")

// breaking is errBroken when the test hook breaks the connection to peer
// to under batch (its next write): nil when there is no hook.
func (t *transport) breaking(to uint64, batch []groupMsg) error {
	if f := t.brk.Load(); f != nil && *f != nil && (*f)(to, batch) {
		return errBroken
	}
	return nil
}

// setBreak makes a write to a peer fail, its connection closed, when f
// returns true for it (nil: none): a connection that broke after the
// frames before it were taken by the kernel. For tests.
func (t *transport) setBreak(f func(to uint64, batch []groupMsg) bool) { t.brk.Store(&f) }
