package queue

// A replicated (quorum) queue: Config.Quorum is set (by the cluster, for
// a queue declared with x-queue-type quorum on a cluster node). The
// queue's messages then live in its Raft group, not here: a publish is
// proposed (the broker calls Quorum.Enqueue instead of Publish), and
// every member applies the committed operations to its own Queue, in log
// order, through the Quorum* methods below. Only the group's leader
// delivers (QuorumLead makes a queue active); a follower's queue holds
// the ready messages it applied and delivers nothing itself: its Get asks
// the leader (RemoteGetter, quorum_feed.go).
// A consumer's ack, requeue and reject on the leader are proposed too
// (Quorum.Settle, Return, Discard) and take effect when applied: the
// delivery count and x-delivery-limit follow from the replicated
// returns, so a new leader knows them.
//
// Entries of a quorum queue are Stored (settling one proposes a settle);
// the queue has no Journal and no Budget: the Raft log and its snapshots
// are its store.

// Quorum replicates a queue's operations (amqp/cluster implements it).
// Enqueue, Settle, Return and Discard hand an operation to the group and
// return at once; they may be called with the queue's lock held (Settle,
// from a no-ack delivery), so they must not call into the Queue.
type Quorum interface {
	// Attach is called once by New with the queue being made.
	Attach(q *Queue)
	// Enqueue proposes m; done, if not nil, runs once the enqueue is
	// committed and applied on this node (nil), or has failed (no quorum
	// in time, not a member): the publisher's confirm or nack.
	Enqueue(m *Message, done func(error))
	// Settle, Return and Discard propose the settlement (ack), the
	// return (requeue: the delivery count grows) and the discard (reject
	// without requeue: dead-lettered) of delivered entries, by seq.
	Settle(seqs []uint64)
	Return(seqs []uint64)
	Discard(seqs []uint64)
	// SettleDone is Settle with done, run as Enqueue's: once the settle
	// is committed and applied on this node (nil), or has failed.
	SettleDone(seqs []uint64, done func(error))
	// Deleted is called once the queue is deleted (its group goes too).
	Deleted()
}

func seqsOf(es []Entry) []uint64 {
	out := make([]uint64, len(es))
	for i := range es {
		out[i] = es[i].Seq
	}
	return out
}

// quorumPassiveLocked reports whether q is a quorum queue whose group
// this node does not lead: it must not deliver.
func (q *Queue) quorumPassiveLocked() bool { return q.Quorum != nil && !q.mu.quorumLead }

// QuorumEnqueue applies a committed enqueue: m is entry seq (the group's
// message id), delivered at once when this node leads. It returns when m
// expires (x-message-ttl, the policy's message-ttl, the expiration
// property: 0 none), counted from its apply here: every member knows it,
// only the leader acts on it, and its expiry is a settle (or a
// dead-lettering) proposed through the log like an ack.
func (q *Queue) QuorumEnqueue(seq uint64, m *Message) (expires int64) {
	q.mu.Lock()
	defer q.unlock()
	if q.mu.deleted {
		return 0
	}
	q.mu.stats.published++
	q.mu.nextSeq = max(q.mu.nextSeq, seq)
	e := Entry{Msg: m, Seq: seq, Stored: true}
	var ttl int64
	e.Expires, ttl = q.expiryFor(m)
	if !q.mu.quorumLead {
		q.mu.ready.push(e)
		return e.Expires
	}
	if q.mu.ready.len() == 0 && len(q.mu.consumers) > 0 && q.offerLocked(e) {
		return e.Expires
	}
	if ttl == 0 {
		// rabbitmq: a TTL of 0 expires a message no consumer takes at once.
		q.deadLetterLocked(e, ReasonExpired)
		return e.Expires
	}
	q.mu.ready.push(e)
	q.trackExpiryLocked(e)
	q.dispatchLocked()
	return e.Expires
}

// quorumGetNoAck answers a no-ack basic.get of entry e, taken from a
// quorum queue this node leads (q.mu locked; unlocked here), once its
// settle is committed and applied, as RabbitMQ's quorum queue answers
// only once the dequeue is in its log: answered at once, a leader change
// before the settle committed would let the new leader deliver e again.
// A settle that fails puts e back (a leader's queue; a follower's is
// rebuilt by QuorumLead) and the get answers empty.
func (q *Queue) quorumGetNoAck(e Entry) (Entry, Entry, int, bool) {
	settled := make(chan error, 1)
	q.Quorum.SettleDone([]uint64{e.Seq}, func(err error) { settled <- err })
	q.maybeLoadLocked()
	q.unlock()
	if err := <-settled; err != nil {
		q.QuorumUntake(e)
		q.free.getEmpty.Add(1)
		return Entry{}, Entry{}, 0, false
	}
	q.mu.Lock()
	remaining := q.mu.ready.len() + q.mu.paged.count
	q.unlock()
	return e, Entry{}, remaining, true
}

// QuorumUntake puts back e, taken (QuorumTake) for a no-ack get whose
// settle then failed: ready again on the leader (a follower's queue is
// rebuilt by QuorumLead).
func (q *Queue) QuorumUntake(e Entry) {
	q.mu.Lock()
	defer q.unlock()
	if q.mu.quorumLead && !q.mu.deleted {
		q.mu.ready.insertBatch([]Entry{e})
		q.dispatchLocked()
	}
}

// QuorumSettle applies a committed settle (or discard without
// dead-lettering): entry seq leaves the queue. Delivered on this node,
// it is no longer here; on a follower it is still ready.
func (q *Queue) QuorumSettle(seq uint64, prio uint8) {
	q.mu.Lock()
	defer q.unlock()
	q.mu.ready.remove(seq, prio)
}

// QuorumReturn applies a committed return: entry seq, with its new
// delivery count, is ready again at its place, marked redelivered; it
// keeps its expiry (QuorumEnqueue's).
func (q *Queue) QuorumReturn(seq uint64, m *Message, deliveries uint32, expires int64) {
	q.mu.Lock()
	defer q.unlock()
	if q.mu.deleted {
		return
	}
	q.mu.ready.remove(seq, m.Priority)
	e := Entry{Msg: m, Seq: seq, Stored: true, Redelivered: true, Deliveries: deliveries, Expires: expires}
	q.mu.ready.insertBatch([]Entry{e})
	if q.mu.quorumLead {
		q.trackExpiryLocked(e)
		q.dispatchLocked()
	}
}

// QuorumDiscard applies a committed discard: entry seq leaves the queue,
// dead-lettered by the leader (reason rejected, or delivery_limit when
// the return that made it go over x-delivery-limit was applied).
func (q *Queue) QuorumDiscard(seq uint64, m *Message, deliveries uint32, reason Reason) {
	q.mu.Lock()
	defer q.unlock()
	q.mu.ready.remove(seq, m.Priority)
	if !q.mu.quorumLead || q.mu.deleted {
		return
	}
	// Not Stored: the discard is in the log already, the dead-letter
	// callback's Settle proposes nothing.
	q.deadLetterLocked(Entry{Msg: m, Seq: seq, Redelivered: deliveries > 0, Deliveries: deliveries}, reason)
}

// QuorumLead makes this node's queue the group's delivering instance
// (lead) or a passive one, with ready as its ready entries in seq order:
// the group's every message, as applied here. A new leader cannot tell
// which of them the old one had delivered (deliveries are not in the
// log), so it marks them all redelivered.
func (q *Queue) QuorumLead(lead bool, ready []Entry) {
	q.mu.Lock()
	defer q.unlock()
	if q.mu.deleted {
		return
	}
	q.mu.quorumLead = lead
	q.mu.ready.drain()
	q.mu.expiry = nil // only the leader expires messages
	for _, e := range ready {
		e.Stored = true
		if lead {
			e.Redelivered = true
		}
		if e.Expires == 0 {
			// From a snapshot: its TTL counts from now.
			e.Expires, _ = q.expiryFor(e.Msg)
		}
		q.mu.ready.push(e)
		q.mu.nextSeq = max(q.mu.nextSeq, e.Seq)
		if lead {
			q.trackExpiryLocked(e)
		}
	}
	if lead {
		q.dispatchLocked()
	}
}

// Rehome is a message of a quorum queue whose bytes moved: entry Seq's
// message Old is now New (amqp/cluster copies the messages of a
// snapshot out of its buffer, queue.Message.Borrowed).
type Rehome struct {
	Seq      uint64
	Old, New *Message
}

// QuorumRehome gives each ready entry rs[i].Seq whose message is
// rs[i].Old the message rs[i].New: the same message, its bytes elsewhere.
// An entry not ready (delivered: its ack or return comes through the log
// with the new message) or with another message is left alone.
func (q *Queue) QuorumRehome(rs []Rehome) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, r := range rs {
		q.mu.ready.replace(r.Seq, r.Old, r.New)
	}
}

// QuorumLeads reports whether this node's queue delivers.
func (q *Queue) QuorumLeads() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.mu.quorumLead
}

// QuorumPurge applies a committed purge of the messages up to seq: the
// leader removes those of them that are ready and settles them (its
// settles go through the log, so every member drops them), and returns
// how many; a follower's queue waits for those settles and returns -1.
// Messages delivered and not acknowledged stay (rabbitmq), as do those
// enqueued after the purge.
func (q *Queue) QuorumPurge(upTo uint64) int {
	q.mu.Lock()
	defer q.unlock()
	if !q.mu.quorumLead || q.mu.deleted {
		return -1
	}
	n := 0
	for _, e := range q.mu.ready.drain() {
		if e.Seq > upTo {
			q.mu.ready.push(e)
			continue
		}
		n++
		q.settleLocked(e)
	}
	return n
}
