package broker

import (
	"context"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/queue"
)

// Replicator replicates definition changes across a cluster (amqp/cluster
// implements it over Raft). Propose hands it an encoded command
// (EncodeCommand); it returns once the command is committed and applied
// on this node, with what that apply (Broker.ApplyLocal, which the
// replicator calls for every committed command on every node) returned.
// It may be called from many goroutines; it is never called with a core
// lock held.
type Replicator interface {
	Propose(ctx context.Context, cmd []byte) (Result, error)
}

// QueueReplicator is a Replicator that also replicates messages (the
// cluster's quorum queues): the broker shows it the configuration of
// every queue it makes, after the core and QueueHooks set it up and just
// before queue.New; it may set cfg.Quorum (and take the journal and the
// memory budget away: its log is the queue's store).
type QueueReplicator interface {
	QueueConfig(vhost string, cfg *queue.Config)
}

// replicated reports whether cmd goes to the cluster: every definition
// change does, but for exclusive queues, which belong to one connection
// on one node (their declaration and deletion stay on that node), and
// Recover's replay of the store.
func (b *Broker) replicated(vhost string, cmd Command) bool {
	if b.replaying {
		return false
	}
	switch c := cmd.(type) {
	case DeclareQueue:
		return !c.Exclusive
	case DeleteQueue:
		q := c.Queue
		if q == nil {
			if v := b.Vhost(vhost); v != nil {
				q = v.Queue(c.Name)
			}
		}
		return q == nil || !q.Exclusive
	}
	return true
}

// propose sends cmd to the cluster and waits for its local result.
func (b *Broker) propose(vhost string, cmd Command) (Result, error) {
	raw, err := EncodeCommand(vhost, cmd)
	if err != nil {
		b.log.Error("a command cannot be replicated: " + err.Error())
		return Result{}, amqp.Errorf(amqp.InternalError, "%v", err)
	}
	// The apply's own error (a 406, a 404, ...) comes back as it is; the
	// replicator words its own (no quorum, timeout).
	return b.repl.Propose(context.Background(), raw)
}
