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
	n := q.Purge()
	if q.Persist {
		if err := v.b.Fence(); err != nil {
			return n, amqp.Errorf(amqp.InternalError, "cannot store the purge: %v", err)
		}
	}
	return n, nil
}
