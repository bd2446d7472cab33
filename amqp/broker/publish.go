package broker

import (
	"github.com/warrenmq/warren/queue"
)

// Confirm follows the store writes of publishes for a front end's
// publisher confirms (amqp/server's confirmTracker). The front end numbers
// its publishes and holds each open while it publishes; the core adds one
// wait for every store write the publish must see on disk, and completes
// each: from the store's notifier goroutine after the fsync (flush set),
// or at once for a write that was not made after all (flush clear).
type Confirm interface {
	// Wait adds one store write that publish seq waits for.
	Wait(seq uint64)
	// Done completes one wait of seq, failing the publish on an error.
	Done(seq uint64, err error, flush bool)
}

// Publish is one message to enqueue: Route found its queues and Extra.
type Publish struct {
	Msg    *queue.Message
	Queues []*queue.Queue // Route's queues
	// Extra is Route's other destinations, by value: a pointer here
	// would make the caller's Extra escape to the heap.
	Extra Extra
	// Publisher is the publisher's connection id for flow control
	// (queue.WaitRoom): while a target queue's consumers drain a backlog,
	// Publish waits.
	Publisher uint64
	// Confirm, if set, hears of the store writes of publish Seq.
	Confirm Confirm
	Seq     uint64
	// Flusher, if set, is the goroutine publishing, which writes out its
	// deliveries' output before it blocks (queue.Flusher).
	Flusher queue.Flusher
}

// Publish enqueues a routed message on its queues and hands it to its
// other destinations (direct reply-to, delayed-message exchanges). It
// reports whether anything took the message and whether a full queue
// refused it. err is set, and nothing took the message, when the store is
// short of disk and the message would be written to it (see admit): a
// front end nacks it.
//
// A persistent message bound for queues that persist is stored once, and
// each of those queues journals its entry; with a Confirm, publish Seq
// waits for every one of those writes.
func (v *Vhost) Publish(p *Publish) (routed, rejected bool, err error) {
	// Flow control: wait for the consumers of backlogged queues to drain
	// them (queue/flow.go).
	for _, q := range p.Queues {
		if q.Backlogged() {
			if p.Flusher != nil {
				p.Flusher.Flush() // the consumers waited for may have output pending
			}
			q.WaitRoom(p.Publisher)
		}
	}
	b := v.b
	if err := b.admit(p.Msg, p.Queues, &p.Extra); err != nil {
		return false, false, err
	}
	routed, rejected = b.enqueue(p.Msg, p.Queues, p.Confirm, p.Seq, p.Flusher)
	if p.Extra.Any() {
		if v.publishExtra(p) {
			routed = true
		}
	}
	return routed, rejected, nil
}

// publishExtra hands a published message to the destinations that are no
// queue and reports whether any took it. A delayed message that is
// stored holds the publish's confirm until it is on disk.
func (v *Vhost) publishExtra(p *Publish) (routed bool) {
	ext := &p.Extra
	if ext.Reply != "" && v.b.deliverReply(ext.Reply, p.Msg) {
		routed = true
	}
	if len(ext.Delayed) > 0 {
		v.b.delayed.hold(v, ext.Delayed, ext.Delay, p.Msg, p.Confirm, p.Seq)
		routed = true
	}
	return routed
}

// admit refuses a message that would be written to the store while the
// store is short of disk: a persistent one for a queue that persists or a
// durable delayed-message exchange, and any one that a queue would page
// out (the memory budget is spent, or the queue already has messages on
// disk only). The decision is taken once, before any queue sees the
// message: every write of an admitted publish is then made.
func (b *Broker) admit(msg *queue.Message, qs []*queue.Queue, ext *Extra) error {
	if b.store == nil {
		return nil
	}
	err := b.store.Admit()
	if err == nil {
		return nil
	}
	if msg.Persistent {
		for _, x := range ext.Delayed {
			if x.Durable {
				return err
			}
		}
	}
	if len(qs) > 0 && b.memoryBudget > 0 && b.budget.Used() >= b.memoryBudget {
		return err
	}
	for _, q := range qs {
		if q.Persist && msg.Persistent || q.Paged() > 0 {
			return err
		}
	}
	return nil
}

// enqueue puts a routed message on its queues. A persistent message bound
// for queues that persist is stored once, and each of those queues
// journals its entry; with a Confirm (conf non-nil) the publish seq waits
// for every one of those writes. It reports whether any queue took the
// message and whether a full queue refused it.
func (b *Broker) enqueue(msg *queue.Message, qs []*queue.Queue, conf Confirm, seq uint64, f queue.Flusher) (routed, rejected bool) {
	j := b.journal
	var done func(error)
	stored := 0
	if j != nil && msg.Persistent {
		for _, q := range qs {
			if q.Persist && q.Stream == nil && q.Quorum == nil {
				stored++
			}
		}
	}
	if j != nil {
		// Backpressure: a publisher waits while the store is behind, for
		// journalled messages and for bodies paged out past the budget.
		if j.store.Behind() && f != nil {
			f.Flush() // what the publisher delivered must not wait with it
		}
		j.store.Throttle()
	}
	if stored > 0 {
		msg.ID = b.nextMsgID.Add(1)
		j.share(msg.ID, stored)
		if conf != nil {
			done = func(err error) { conf.Done(seq, err, true) }
			conf.Wait(seq)
		}
		sb := j.batch()
		putBody(sb, msg.ID, msg)
		j.submit(sb, done)
	}
	for _, q := range qs {
		if q.Stream != nil {
			appendStream(q, msg, conf, seq)
			routed = true
			continue
		}
		if q.Quorum != nil {
			// A quorum queue: proposed to its Raft group, confirmed once
			// committed and applied here (queue/quorum.go).
			var qdone func(error)
			if conf != nil {
				conf.Wait(seq)
				qdone = func(err error) { conf.Done(seq, err, true) }
			}
			q.Quorum.Enqueue(msg, qdone)
			routed = true
			continue
		}
		var qdone func(error)
		if done != nil && q.Persist {
			conf.Wait(seq)
			qdone = done
		}
		journalled, err := q.PublishFrom(msg, qdone, f)
		if stored > 0 && q.Persist && !journalled {
			j.release(msg)
			if qdone != nil {
				conf.Done(seq, nil, false)
			}
		}
		switch err {
		case nil:
			routed = true
		case queue.ErrRejected:
			rejected = true
		}
	}
	return routed, rejected
}

// Fence returns once everything submitted to the store so far is on disk:
// the store writes groups in submission order, so an empty batch's
// callback runs after the writes before it. Without a store it returns at
// once. (tx.commit-ok and purge-ok wait for one.)
func (b *Broker) Fence() error {
	if b.journal == nil {
		return nil
	}
	return b.journal.fence()
}

// BudgetUsed is what the memory budget counts now (0 without a store).
func (b *Broker) BudgetUsed() int64 {
	if b.budget == nil {
		return 0
	}
	return b.budget.Used()
}
