package cluster

import (
	"encoding/binary"
	"errors"
	"slices"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// Publishes (and a remote consumer's acks) on a node outside a quorum
// queue's group (issue 20): the node runs no Raft for the group, so its
// sequenced batches (qseq.go) go over the peer link to a member, which
// proposes the entry as it is (the proposer in it is still the node
// outside); the leader, applying an entry of a proposer outside the
// group, tells it the verdict, and the node confirms, or proposes again,
// as a member does on its own apply:
//
//	outside node N                 member M                  leader L
//	batch seq s --- propose ---->  rn.Propose(entry) ------> appended, committed
//	                                                         applied (every member)
//	confirm (or resend) <----------------- applied(inc, s, verdict) from L
//
// N sends to the member that last answered (the leader), else to the
// first member; a batch unanswered for two election timeouts goes again
// (resendStalled) to the next member. A duplicate is answered as applied.
//
// On the link (controlGroup, qremote.go's framing):
//
//	propose  entry (version 3)
//	applied  incarnation u64 BE | seq u64 BE | verdict u8

const (
	feedPropose = 16 + iota
	feedApplied
)

// forwardBatch sends b, a batch of a group this node is not a member of,
// to a member (on the loop).
func (l *loop) forwardBatch(g *qgroup, b *qbatch) {
	b.proposedAt = time.Now()
	if g.inflight == nil {
		g.inflight = map[uint64]*qbatch{}
	}
	g.inflight[b.id] = b
	to := g.fwdTo
	if to == 0 || !slices.Contains(g.members, to) {
		to = g.members[0]
	}
	l.n.tr.send(controlGroup, []*pb.Message{feedMsg(l.n.id, to, feedPropose, g.id, b.data)})
}

// forwardTick nacks what waited past its deadline and resends what
// stalled, moving to the next member (on the loop, each tick, for a
// group this node is not a member of).
func (l *loop) forwardTick(g *qgroup, now time.Time) {
	for id, b := range g.inflight {
		if now.After(b.deadline) && !g.expire(b, l.n.queueTimeout(g)) {
			delete(g.inflight, id)
		}
	}
	before := g.resent
	l.resendStalled(g, now)
	if g.resent != before && len(g.members) > 0 {
		i := slices.Index(g.members, g.fwdTo)
		g.fwdTo = g.members[(i+1)%len(g.members)]
	}
}

// forwardedPropose proposes an entry a node outside g sent (on the loop).
func (l *loop) forwardedPropose(group uint64, data []byte) {
	g := l.groups[group]
	if g == nil || g.rn == nil || len(data) == 0 || data[0] != qEntrySeqVersion {
		return
	}
	if err := g.rn.Propose(data); err != nil && !errors.Is(err, raft.ErrProposalDropped) {
		l.n.log.Debug("cluster: a forwarded proposal")
	}
}

// outsider reports whether node is outside g's group (its conf state).
func (g *qgroup) outsider(node uint64) bool {
	return !isVoter(g.conf, node) && !isLearner(g.conf, node)
}

// tellProposer sends the verdict on an applied entry to its proposer, a
// node outside the group, from the leader (on the loop, at apply).
func (l *loop) tellProposer(g *qgroup, h qhdr, v verdict) {
	if !g.leading || h.seq == 0 || !g.outsider(h.node) {
		return
	}
	body := binary.BigEndian.AppendUint64(nil, h.inc)
	body = binary.BigEndian.AppendUint64(body, h.seq)
	body = append(body, byte(v))
	l.n.tr.send(controlGroup, []*pb.Message{feedMsg(l.n.id, h.node, feedApplied, g.id, body)})
}

// forwardedApplied takes the leader's verdict on a batch this node
// forwarded (on the loop).
func (l *loop) forwardedApplied(group, from, inc, seq uint64, v verdict) {
	g := l.groups[group]
	if g == nil || g.isMember() || inc != l.n.inc {
		return
	}
	g.fwdTo = from
	g.leadSeen.Store(from)
	l.mineApplied(g, seq, v)
}
