package broker

import (
	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/queue"
)

// Purge removes q's ready messages and returns how many there were. For a
// queue that persists it returns once the removal is on disk, as a delete
// does (spec 0-9-1 queue.purge-ok; the HTTP API's purge likewise).
// Consumers, acks, rejects, basic.get and recover work on the queue.Queue
// itself: q.AddConsumer with a queue.Sink, q.Ack, q.Reject, q.Requeue,
// q.Get.
func (v *Vhost) Purge(q *queue.Queue) (int, error) {
	if q.Stream != nil {
		// rabbitmq: a stream is a log; it is not purged.
		return 0, amqp.Errorf(amqp.NotImplemented, "queue.purge not supported by stream queues queue '%s' in vhost '%s'", q.Name, v.name)
	}
	if p, ok := q.Quorum.(interface{ Purge() (int, error) }); ok {
		return p.Purge() // a replicated purge (amqp/cluster)
	}
	n := q.Purge()
	if q.Persist {
		if err := v.b.Fence(); err != nil {
			return n, amqp.Errorf(amqp.InternalError, "cannot store the purge: %v", err)
		}
	}
	return n, nil
}
