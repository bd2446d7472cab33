package cluster

import (
	"errors"
	"net"
	"slices"
	"syscall"
	"time"

	"go.etcd.io/raft/v3"
	"go.uber.org/zap"
)

// Fast failover (doc.go: Failover). A node killed (kill -9, a crash, a
// stopped process) has its sockets closed by its kernel at once: its
// peers' inbound links from it end (EOF or reset) and a new dial to it is
// refused. That is a much stronger and earlier sign than an election
// timeout (10 ticks of 100 ms, randomised up to twice that): the peer is
// taken for down, and every group it led elects another leader at once:
//
//	reader: inbound link from X ends  --report{lost}-->  loop: probe X
//	probe: a connection of its own to X, no hello:
//	    refused (ECONNREFUSED), or closed by the far end within
//	    probeWait (a proxy in front of a dead node)
//	                                  --report{down}-->  loop: failover(X)
//	sender of X: a dial refused       --report{down}-->  (the same)
//	loop: every group led by X here: ForgetLeader; the first of the
//	      other voters (by id) campaigns now, the next ones later if
//	      there is still no leader (failoverRetryTicks apart, by rank)
//
// PreVote and CheckQuorum stay on: a follower that has forgotten its
// leader grants pre-votes at once, one that still hears from it does
// not (its lease), so a link that fails between one follower and a
// healthy leader only makes that follower a pre-candidate that cannot
// win: it never raises the term and never unseats the leader. A paused
// node (SIGSTOP) keeps its sockets open: the election timeout applies.

// failoverRetryTicks is how many ticks apart the surviving voters stand,
// by rank, while a group has no leader after its leader's node went down
// (so that two followers do not split the vote).
const failoverRetryTicks = 2

// failoverWindowTicks bounds the retries: past it, raft's own election
// timeout takes over.
const failoverWindowTicks = 30

// failover is a group's election in progress after its leader's node
// went down (the loop's).
type failover struct {
	from uint64 // the node that went down
	tick uint64 // when this node learnt it
}

// linkLost is called by an inbound link's reader when the link from
// peer from ended without this node closing it: the loop probes it.
func (t *transport) linkLost(from uint64) {
	if from == 0 {
		return
	}
	t.report(report{to: from, lost: true})
}

// probe checks, on a connection of its own, whether id is still there
// (one probe per peer at a time): a dial refused, or accepted and closed
// by the far end within probeWait (a proxy in front of a dead node),
// reports id down. The probe sends no hello, so the far end's reader
// fails before it knows the sender and probes nothing back; the link's
// own connection is left alone. Run by the loop (it owns t.peers).
func (t *transport) probe(id uint64) {
	p := t.peers[id]
	if p == nil {
		return
	}
	p.mu.Lock()
	addr, busy := p.mu.addr, p.mu.probe
	p.mu.probe = true
	p.mu.Unlock()
	if busy {
		return
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		defer func() {
			p.mu.Lock()
			p.mu.probe = false
			p.mu.Unlock()
		}()
		c, err := net.DialTimeout("tcp", addr, dialTimeout)
		if err != nil {
			p.dialFailed(err)
			return
		}
		defer c.Close()
		if closedAtOnce(c) {
			t.report(report{to: id, down: true})
		}
	}()
}

// dialFailed tells the loop that a dial to p failed; refused means the
// node is down (nothing listens at its address).
func (p *peer) dialFailed(err error) {
	if refused(err) {
		p.t.report(report{to: p.id, down: true})
	}
}

// probeWait is how long a probe's new connection is watched for an
// immediate close: a proxy or load balancer in front of a dead node
// accepts, then closes when its own dial is refused. A live peer never
// writes on this connection, so the wait ends with the deadline.
const probeWait = 150 * time.Millisecond

// closedAtOnce reports whether the far end of c, just dialled for a
// probe, closed it within probeWait.
func closedAtOnce(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(probeWait))
	var b [1]byte
	_, err := c.Read(b[:])
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// refused reports whether err is a dial refused by the peer's host: no
// process listens on the port.
func refused(err error) bool {
	var op *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &op) && errors.Is(op.Err, syscall.ECONNREFUSED)
}

// peerDown starts the failover of every group node id led, as this node
// sees them: the metadata group and the quorum queues'.
func (l *loop) peerDown(id uint64) {
	if id == l.n.id {
		return
	}
	if l.rn.BasicStatus().Lead == id {
		l.n.log.Info("cluster: the leader's node is down (its links closed, dial refused): electing another", zap.String("node", l.n.names[id]))
		l.metaFailover = &failover{from: id, tick: l.ticks}
		l.failoverStep(l.rn, l.conf.GetVoters(), l.metaFailover, true)
	}
	n := 0
	for _, g := range l.groups {
		if g.rn == nil || g.rn.BasicStatus().Lead != id {
			continue
		}
		g.failover = &failover{from: id, tick: l.ticks}
		l.failoverStep(g.rn, g.conf.GetVoters(), g.failover, true)
		n++
	}
	if n > 0 {
		l.n.log.Info("cluster: quorum queue leaders' node is down: electing others", zap.String("node", l.n.names[id]), zap.Int("groups", n))
	}
}

// failoverStep forgets the leader (first) and campaigns when this node's
// rank among the other voters says so; it reports whether the failover
// is over (a leader known, or the window passed).
func (l *loop) failoverStep(rn *raft.RawNode, voters []uint64, f *failover, first bool) bool {
	st := rn.BasicStatus()
	elapsed := l.ticks - f.tick
	if !first && (st.Lead != raft.None || elapsed > failoverWindowTicks) {
		return true
	}
	if st.RaftState == raft.StateLeader {
		return true
	}
	if first {
		if err := rn.ForgetLeader(); err != nil {
			l.n.log.Debug("cluster: forget leader", zap.Error(err))
		}
	}
	rank := failoverRank(voters, f.from, l.n.id)
	if rank < 0 {
		return true // a learner, or not a member
	}
	// rank 0 stands now and every failoverRetryTicks*others after; rank r
	// first stands r*failoverRetryTicks ticks in.
	others := uint64(max(len(voters)-1, 1))
	at := uint64(rank) * failoverRetryTicks
	if elapsed >= at && (elapsed-at)%(failoverRetryTicks*others) == 0 {
		rn.Campaign()
	}
	return false
}

// failoverRank is self's place among the voters other than down, by id;
// -1 when self is not one of them.
func failoverRank(voters []uint64, down, self uint64) int {
	vs := slices.DeleteFunc(slices.Clone(voters), func(v uint64) bool { return v == down })
	slices.Sort(vs)
	return slices.Index(vs, self)
}

// tickFailovers retries, at each tick, the failovers still without a
// leader.
func (l *loop) tickFailovers() {
	if f := l.metaFailover; f != nil && l.failoverStep(l.rn, l.conf.GetVoters(), f, false) {
		l.metaFailover = nil
	}
	for _, g := range l.groups {
		if f := g.failover; f != nil && g.rn != nil && l.failoverStep(g.rn, g.conf.GetVoters(), f, false) {
			g.failover = nil
		}
	}
}

// afterFailover proposes again, as soon as a group in failover knows its
// new leader, what this node had proposed to the old one or held for
// want of a leader (not at the next tick).
func (l *loop) afterFailover() {
	for _, g := range l.groups {
		if g.failover == nil || g.rn == nil {
			continue
		}
		if st := g.rn.BasicStatus(); st.Lead != raft.None {
			l.catchUp(g, st.Lead, st.HardState.GetTerm())
			g.failover = nil
		}
	}
}
