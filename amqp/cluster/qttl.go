package cluster

import (
	"context"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/queue"
)

// Quorum queues' message TTL and x-expires (doc.go: Quorum queues: TTL,
// x-expires, purge).
//
// rabbitmq 3.10: quorum queues apply message TTL (x-message-ttl, the
// policy's message-ttl, the expiration property), as checked against
// RabbitMQ 3.10.8: a quorum queue declared with x-message-ttl 5000 is
// accepted, and a message published to it is gone 6 s later; one with
// expiration 1000 behind it is gone after 2 s. Every member computes a
// message's expiry when it applies the enqueue (its own clock:
// qstate.expires, not replicated); only the leader's queue acts on it,
// and an expiry is a settle (or a dead-lettering, reason expired, then
// a settle) proposed through the log as an ack is, so every member drops
// the same messages. A new leader expires from its own apply times; a
// message it got in a snapshot counts its TTL from the leadership.
//
// x-expires: only the leader's instance deletes an unused queue, and it
// proposes the delete through the metadata group, so every node deletes
// the queue and its group (a follower's timer does nothing).

// setExpires records when message id expires, as QuorumEnqueue computed.
func (s *qstate) setExpires(id uint64, at int64) {
	if m := s.msgs[id]; m != nil {
		m.expires = at
	}
}

// expireOnLeader wraps the broker's x-expires callback of a quorum
// queue: the leader proposes the delete through the metadata group; a
// follower does nothing.
func (n *Node) expireOnLeader(vhost string, cfg *queue.Config) {
	if cfg.OnExpire == nil {
		return
	}
	cfg.OnExpire = func(q *queue.Queue) {
		if !q.QuorumLeads() {
			return
		}
		raw, err := broker.EncodeCommand(vhost, broker.DeleteQueue{Name: q.Name})
		if err != nil {
			n.log.Error("cluster: an expired quorum queue's delete", zap.String("queue", q.Name), zap.Error(err))
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ProposeTimeout)
		defer cancel()
		if _, err := n.Propose(ctx, raw); err != nil {
			n.log.Warn("cluster: deleting an expired quorum queue", zap.String("queue", q.Name), zap.Error(err))
			// Still unused: try again after another x-expires.
			q.Touch()
		}
	}
}
