package cluster

import (
	"encoding/binary"
	"slices"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/queue"
)

// A quorum queue's purge (doc.go: Quorum queues: TTL, x-expires, purge)
// is an operation in the group's log, proposed from any member:
//
//	op 5 purge | 2 | proposer node id uvarint | token uvarint
//
// Every member applies it at the same index: the messages up to the last
// id given by then are the purge's (messages enqueued after it survive on
// every member). The leader's queue removes the ready ones among them
// and settles them through the log (queue.QuorumPurge), so every member
// drops the same ones; those delivered and not acknowledged stay, as in
// RabbitMQ. The proposer answers queue.purge-ok once the purge is
// applied on its node: the leader with the ready messages it removed, a
// follower with the messages the group held up to the purge (it cannot
// tell which of them the leader had delivered). A node outside the group
// proposes it in a forwarded batch (qforward.go) and applies nothing: the
// leader answers it over the peer link with the count it removed.
//
// On the link (controlGroup, qremote.go's framing):
//
//	purged  token u64 BE | count uvarint

// Purge implements the broker's replicated purge: it proposes the purge
// and waits until this node applied it.
func (g *qgroup) Purge() (int, error) {
	token := g.n.nextID.Add(1)
	ch := make(chan int, 1)
	g.mu.Lock()
	if g.mu.purges == nil {
		g.mu.purges = map[uint64]chan int{}
	}
	g.mu.purges[token] = ch
	g.mu.ops.seqs(opPurge, []uint64{g.n.id, token})
	g.queueLocked()
	g.mu.Unlock()
	g.n.kickLoop()
	defer func() {
		g.mu.Lock()
		delete(g.mu.purges, token)
		g.mu.Unlock()
	}()
	t := time.NewTimer(g.n.cfg.ProposeTimeout)
	defer t.Stop()
	select {
	case n := <-ch:
		return n, nil
	case <-t.C:
		return 0, amqp.Errorf(amqp.InternalError, "cluster: the purge of quorum queue '%s' in vhost '%s' was not committed in time (no quorum of its %d members reachable from node '%s'?)", g.name, g.vhost, len(g.members), g.n.cfg.Name)
	case <-g.n.done:
		return 0, g.n.stoppedErr()
	}
}

// applyPurge applies a committed purge to this node's queue and answers
// its proposer if that is this node. Run by the loop.
func (g *qgroup) applyPurge(q *queue.Queue, f effect) {
	n := q.QuorumPurge(f.seq)
	if n < 0 {
		n = f.count
	}
	if len(f.purge) != 2 {
		return
	}
	if from := f.purge[0]; from != g.n.id {
		if g.leading && !slices.Contains(g.conf.GetVoters(), from) && !slices.Contains(g.conf.GetLearners(), from) {
			body := binary.BigEndian.AppendUint64(nil, f.purge[1])
			body = binary.AppendUvarint(body, uint64(n))
			g.n.tr.send(controlGroup, []*pb.Message{feedMsg(g.n.id, from, feedPurged, g.id, body)})
		}
		return
	}
	g.purged(f.purge[1], n)
}

// purged answers this node's purge token with n messages.
func (g *qgroup) purged(token uint64, n int) {
	g.mu.Lock()
	ch := g.mu.purges[token]
	g.mu.Unlock()
	if ch != nil {
		select {
		case ch <- n:
		default:
		}
	}
}
