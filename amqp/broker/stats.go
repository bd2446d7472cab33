package broker

import "github.com/warrenmq/warren/exchange"

// countRoute counts one message routed through x to queues queues (ext:
// what else it reached). Only the exchange published to counts, as
// RabbitMQ's publish_in and publish_out do: one atomic add for each
// figure, no lock.
//
// A delayed message is routed twice, when it is held (ext records the
// delay) and when it is released (ext nil): it counts in at the first,
// out at the second. A transactional publish is routed, and counted, at
// basic.publish, not at tx.commit.
func countRoute(x *exchange.Exchange, queues int, ext *Extra) {
	s := &x.Stats
	if ext != nil || x.Kind != exchange.Delayed {
		s.PublishIn.Add(1)
	}
	switch {
	case queues > 0:
		s.PublishOut.Add(uint64(queues))
	case !ext.Any():
		s.Unroutable.Add(1)
	}
}

// QueueTotals returns how many queues were created and deleted since the
// broker started (RabbitMQ's queues_created_total and
// queues_deleted_total); recovered queues were not created.
func (b *Broker) QueueTotals() (created, deleted uint64) {
	return b.queuesCreated.Load(), b.queuesDeleted.Load()
}
