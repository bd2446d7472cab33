// Package server is Warren's AMQP 0-9-1 front end: the Server, its
// connections and channels, and the mapping of errors to the wire. The
// broker core (amqp/broker) owns the vhosts, exchanges, queues and
// bindings, routing and the definitions in the store; every declare,
// delete, bind, unbind, lookup and route here is one call into it
// (vhost.go), and the core reaches the message features still kept here
// (journal, dead-lettering, x-expires) only through the queue hooks the
// Server gives it (Server.queueHooks).
//
// # Goroutines
//
// Each connection has a reader goroutine (conn.serve) that owns the
// handshake, the channel table and every channel's protocol state, and
// dispatches frames inline, with no goroutine per channel; and a writer
// goroutine (conn.writeLoop) that owns the socket's write side. Producers
// append encoded frames to the connection's outbound buffer under its lock
// and wake the writer, which swaps the batch out and writes it with no lock
// held, one write per batch. All frames of one delivery are appended under
// one lock acquisition, so they never interleave.
//
// Queues have no goroutine. A publisher's reader goroutine routes the
// message (broker.Vhost read lock), enqueues it under each queue's lock, and the
// queue pushes it at once to a consumer with credit through the consumer's
// Sink, which encodes the delivery into the consumer connection's outbound
// buffer. Acks, qos changes and a drained outbound buffer make the owner
// call Queue.Dispatch to deliver what waits.
//
// # Backpressure
//
// A connection whose outbound buffer holds more than MaxOutboundBytes takes
// no deliveries until the writer drains it below half; it then wakes the
// queues of its consumers. A slow consumer throttles its own deliveries,
// not the broker. Deliveries of bodies from 64 KiB reference the body
// instead of copying it into that buffer, and the writer sends the batch
// with one writev (writer.go).
//
// Publishers are held back the other way (queue/flow.go): before it
// enqueues, a publisher's reader waits while a target queue with consumers
// holds a backlog in memory, until those consumers drain it, at most
// 500 ms. The reader does not read meanwhile, so TCP pushes back on the
// client, as RabbitMQ's credit flow does. The store's Throttle holds
// publishers back likewise while its writes are behind.
//
// # Durability
//
// With a Store, every queue has a journal (durable.go). A persistent
// message for queues that persist is stored once (PutMessage, submitted
// by the publisher's reader); each queue submits its entry's PutEntry
// under its own lock, and an ack's DeleteEntry likewise, so a delete never
// overtakes its put. The store writes groups in submission order and calls
// the callbacks on its notifier goroutine after the fsync: a publish's
// confirm waits for all its writes (confirm.go), and the connection's
// writer sends the ready acks in one frame. tx.commit-ok and purge-ok wait
// for a fence (an empty batch whose callback follows every earlier write).
// Past the memory budget, queues page bodies out through the same journal
// and read them back ahead of delivery on a goroutine of their own.
// Unacknowledged deliveries count against the budget too: past it, a
// channel keeps a hollow entry (no body) for the ack, and what is
// requeued goes back hollow, its body read back before it is delivered
// again (queue/hollow.go). While the store is short of disk, a publish
// that would be written is refused before any queue takes it (admit).
//
// # Lock order
//
// Taken in this order, never the reverse:
//
//	broker.Vhost.mu  ->  queue.Queue.mu  ->  channel.dmu  ->  outbound.mu
//	queue.Queue.mu  ->  storage.Store.mu (Submit)
//	channel.dmu  ->  storage.Store.mu (a delivery past the memory budget
//	                 pages its body out, queue.Queue.Keep)
//	confirmTracker.mu  ->  outbound.mu
//	channel.dmu  ->  conn.reg.mu (a channel's release unregisters it)
//	conn.consumersMu, conn.flushMu, conn.reg.mu, Server.replies.mu (direct
//	reply-to) and Server.delayed.mu (the delayed-message scheduler) are
//	leaves; listings take Server.mu, conn.reg.mu and channel.dmu one after
//	another, never nested.
//
// broker.Vhost.mu is released before a queue's lock is taken for publishing, so in
// practice the publish path holds queue.mu -> channel.dmu -> outbound.mu
// while it delivers. Dead-lettered entries are republished after the
// queue's lock is released (queue.unlock). No lock is held during socket
// I/O, and store callbacks take no queue lock except to start a read-ahead.
//
// # Registry
//
// registry.go lists connections and channels for operations and closes a
// connection on request: Server.Connections, Server.Channels and
// Server.CloseConnection (320 CONNECTION_FORCED with the caller's reason,
// as RabbitMQ's management API closes), and Server.Broker for the core's
// listings (amqp/broker list.go). A listing copies Server.mu's set of
// connections and releases it; for each connection it reads what the
// handshake settled (published once, atomically, when the vhost opens),
// the bytes read and written (atomics: one add per socket read in
// deadlineReader, one per batch the writer writes) and its channels
// (conn.reg.mu, a copy of the reader's channel table that the reader
// updates at channel.open and channel release). A channel's unacked and
// consumer counts are read under its dmu; its confirm or tx mode is an
// atomic.
//
// # Errors
//
// Handlers return *amqp.Error with RabbitMQ's reply texts. A soft error
// closes the channel (channel.closeWith); a hard one closes the connection
// (conn.closeWith); both then discard frames until the peer's close-ok, as
// the specification says.
package server
