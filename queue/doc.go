// Package queue is the queue core: an ordered store of ready messages, the
// consumers attached to the queue, and the decisions of which consumer gets
// which message next.
//
// A Queue is driven by its callers under its own mutex; no goroutine belongs
// to it. Publishers call Publish from their connection's reader goroutine,
// and the delivery to consumers happens right there, under the queue's lock,
// through each consumer's Sink. A Sink is called with the queue's lock held
// and must not call back into any Queue but for Keep; it takes the message
// or refuses it when its consumer has no credit (prefetch, or a full
// outbound buffer). What it keeps for the ack is q.Keep(e), which is what
// Ack, Requeue and Reject take back. When credit comes back the owner
// calls Dispatch.
//
// Ordering: every message gets a per-queue sequence number when it is
// enqueued. Ready messages are kept in sequence order, so a requeued
// message goes back to its original position (RabbitMQ does the same for
// classic queues).
//
// Features: length limits with their overflow modes, priority levels (one
// ready list per level), message TTL with a per-queue expiry heap and one
// timer, dead-lettering (handed to Config.DeadLetter after the lock is
// released, see unlock), delivery counts and limits, consumer priorities,
// single active consumer and x-expires (features.go, args.go). The limits
// are one Limits value behind an atomic pointer, replaced whole under the
// lock by SetLimits when a policy changes (limits.go) and read without the
// lock where that is enough (ConsumerTimeout, SingleActive).
//
// Streams (stream.go): a Queue with Config.Stream is a stream queue's
// stand-in in the registry; publishes go to the Stream (queue/stream, a
// log), its ready list stays empty, and Dispatch, Ack, Requeue and Reject
// only Wake the stream's readers, which deliver on their own goroutines.
//
// Quorum queues (quorum.go): with Config.Quorum (a cluster's Raft group)
// a queue's publishes, acks, requeues and rejects are proposed instead of
// done, and the group's committed operations come back through the
// Quorum* methods on every member in log order; only the instance on the
// group's leader delivers (QuorumLead). Such a queue has no Journal.
//
// Storage: a Journal (set by the server when it has a store) journals the
// entries of persistent messages in queues that persist, and pages bodies
// out past the shared Budget, which counts the bodies in memory, ready or
// delivered and not acknowledged. A paged queue keeps only a count of its
// newest entries and reads them back ahead of delivery (paging.go).
// Deliveries past the budget, and entries returned to the queue past it,
// stay in place hollow, their bodies in the store, and are read back on a
// goroutine before they are delivered again (hollow.go). Journal writes
// are handed on under the queue's lock, so they reach the store in
// operation order; reads happen with no lock held.
//
// Flow control (flow.go): a queue with consumers and a backlog in memory
// holds back its publishers, who call WaitRoom before Publish, until the
// consumers drain it, for a bounded time.
//
// Counters (stats.go): what happened to the queue's messages (published,
// delivered, got, redelivered, acked, rejected, requeued, dead-lettered,
// expired, dropped) are counted where the event happens: plain fields
// under the lock the event holds already, atomics (acks, empty gets)
// where it holds none. No lock of their own; Snapshot and Counters take
// the queue's lock for a moment to read them.
//
// Large bodies (body.go): a front end reads a body from 64 KiB into a
// buffer of a BodyPool, not zeroed, and the buffer goes back when the
// last reference to it ends. Who holds a reference, who ends it, and
// which ends of an entry keep theirs for good (so that a body handed on
// uncounted, to a dead-lettered or moved copy, is never reused) is
// written at the top of body.go. A queue takes the reference of each
// entry it creates (publishLocked), pins a body it dead-letters, gives
// basic.get's caller a reference of its own (Get), and releases an
// entry's only when the entry drops its body from memory (paged out at
// publish, or made hollow past the budget: the store holds its own
// until it wrote the body).
//
// Lock order: Queue.mu is taken before anything a Sink or a Journal takes,
// and a Sink's locks before a Journal's (Keep, called by a Sink, may page
// a body out).
package queue
