// Package server is Warren's AMQP 0-9-1 front end: the Server, its
// connections and channels, and the mapping of errors to the wire. It
// turns methods into calls of the broker core (amqp/broker) and the core's
// events into frames; the core owns the vhosts, exchanges, queues and
// bindings, routing, publishing and the store, dead-lettering, delayed
// messages and the direct reply-to registry.
//
//	server.go       Server, Config, Serve, Shutdown
//	conn.go         a connection: handshake, reader, channel table
//	writer.go       the connection's writer goroutine and outbound buffer
//	inline.go       a publishing reader writes its deliveries to idle connections itself
//	admission.go    the connection cap and the per-address rate of new connections, at accept
//	channel*.go     a channel and its methods, one file per class
//	vhost.go        the front end's handle on a broker.Vhost: one core call each
//	deliver.go      consumer, the queue.Sink that encodes deliveries (sendLocked:
//	                the output half, shared with stream.go); unacked list
//	confirm.go      confirmTracker, the broker.Confirm of a confirm-mode channel
//	reply_to.go     amq.rabbitmq.reply-to: the channel's broker.ReplyConsumer
//	stream.go       stream queue consumers: rules, a reader goroutine each
//	                (deliverStream), x-stream-offset header spliced into the
//	                output, offset tracking, each consumer's position for listings
//	ack_timeout.go  consumer acknowledgement timeouts (per channel, see below)
//	stats.go        channel counters by exchange and queue; server Totals
//	auth.go         SASL; the configured users, created in the core at first boot;
//	                Authenticate for other front ends (the management API)
//	access.go       permission checks on each method (the core's users rule)
//	auth_external.go  TLS connections: the handshake, EXTERNAL from the client certificate
//	alarm.go        resource alarms: publishing connections blocked (connection.blocked)
//
// Core events reach the front end through interfaces it implements:
// queue.Sink (a delivery, under the queue's lock), broker.Cancelled (the
// queue of a consumer was deleted: basic.cancel), broker.Confirm (a
// publish's store writes are on disk: basic.ack/nack) and
// broker.ReplyConsumer (a direct reply). Consumer timeouts stay here: they
// scan a channel's unacknowledged deliveries, whose tags are the
// channel's, and close the channel, which only the reader may do.
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
// message (broker.Vhost.Route, under the vhost's read lock) and publishes
// it (broker.Vhost.Publish), which enqueues it under each queue's lock;
// the queue pushes it at once to a consumer with credit through the
// consumer's Sink, which encodes the delivery into the consumer
// connection's outbound buffer. The core's goroutines (the delayed-message
// timer, queue read-ahead, store callbacks) reach the front end only
// through those Sinks and the interfaces above. Acks, qos changes and a drained outbound buffer make the owner
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
// # Pooled bodies
//
// A published body from 64 KiB is read straight from the socket into a
// buffer of Config.Bodies (queue.BodyPool), which nobody zeroes; it goes
// back to the pool when its last reference ends (queue/body.go has the
// rules). The front end's part: the publishing channel holds the
// publisher's reference until its publish call returns (publishComplete;
// a transaction pins instead); the outbound holds one for each delivery
// it references, from appendBodyLocked until the writev returned (done;
// a connection that dies with output pending keeps them, and the GC takes
// the buffers); and the entry's reference, taken by the queue, ends at
// basic.ack (basicAck), or as soon as a no-ack delivery is queued for
// output (TryDeliver); basic.get releases the reference queue.Get gives
// it once the body is copied out (basicGet). Nack, reject, recover,
// requeue and acks inside a transaction hand the entry back to the queue
// or keep its reference; only those points release.
//
// Publishers are held back the other way (queue/flow.go, called by
// broker.Vhost.Publish): before it enqueues, a publisher's reader waits while a target queue with consumers
// holds a backlog in memory, until those consumers drain it, at most
// 500 ms. The reader does not read meanwhile, so TCP pushes back on the
// client, as RabbitMQ's credit flow does. The store's Throttle holds
// publishers back likewise while its writes are behind. While a resource
// alarm (package alarm) is raised, a connection that has published stops
// reading altogether (alarm.go): one atomic load per socket read, none
// per frame.
//
// # Durability
//
// The core journals messages (amqp/broker/journal.go). A channel in
// confirm mode numbers its publishes (confirmTracker.begin), holds each
// open while broker.Vhost.Publish runs, and the core adds a wait for each
// store write of the publish; the store calls back on its notifier
// goroutine after the fsync, and the connection's writer sends the ready
// acks in one frame. tx.commit-ok and purge-ok wait for a fence
// (broker.Broker.Fence, broker.Vhost.Purge). While the store is short of
// disk, the core refuses a publish that would be written before any queue
// takes it, and the channel nacks it.
//
// Unacknowledged deliveries count against the memory budget too: past it,
// a channel keeps a hollow entry (no body) for the ack (queue.Queue.Keep,
// called by consumer.TryDeliver), and what is requeued goes back hollow,
// its body read back before it is delivered again (queue/hollow.go).
//
// # Lock order
//
// Taken in this order, never the reverse (the core's own order is in
// amqp/broker's doc):
//
//	broker.Vhost.mu  ->  queue.Queue.mu  ->  channel.dmu  ->  outbound.mu
//	queue.Queue.mu  ->  storage.Store.mu (Submit)
//	channel.dmu  ->  storage.Store.mu (a delivery past the memory budget
//	                 pages its body out, queue.Queue.Keep)
//	confirmTracker.mu  ->  outbound.mu
//	channel.dmu  ->  stream.Stream.mu (a leaf: an ack moves a tracked
//	                 offset); a stream reader delivers holding no queue
//	                 lock: channel.dmu -> outbound.mu only
//	channel.dmu  ->  conn.reg.mu (a channel's release unregisters it)
//	Server.stats.mu  ->  Server.mu, conn.reg.mu, channel.dmu (Totals, and a
//	                     channel's or connection's fold into the totals)
//	conn.consumersMu, conn.flushMu and conn.reg.mu are leaves; so are the
//	core's scheduler and reply-to registry locks, released before they call
//	out. Listings take Server.mu, conn.reg.mu and channel.dmu one after
//	another, never nested.
//
// broker.Vhost.mu is released before a queue's lock is taken for
// publishing, so in practice the publish path holds queue.mu ->
// channel.dmu -> outbound.mu while it delivers (consumer.TryDeliver). The
// core calls confirmTracker (Wait, Done), replyConsumer (DeliverReply,
// Active) and consumer.Cancelled with no core lock held. No lock is held
// during socket I/O.
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
// # Counters
//
// stats.go keeps RabbitMQ's channel counters where the events happen,
// with no lock or atomic of their own per message: publishes by exchange
// as plain fields of the reader, copied to atomics once per read batch
// (when the reader is about to block, beside the confirms); confirms
// under confirmTracker.mu; deliveries, gets and acks by queue under
// channel.dmu. A closed channel's counts and a closed connection's bytes
// are folded into the server's totals under Server.stats.mu in the same
// step that takes them out of the listings, so Server.Totals never goes
// down. ChannelInfo carries each channel's counters.
//
// # Errors
//
// Handlers return *amqp.Error with RabbitMQ's reply texts. A soft error
// closes the channel (channel.closeWith); a hard one closes the connection
// (conn.closeWith); both then discard frames until the peer's close-ok, as
// the specification says.
package server
