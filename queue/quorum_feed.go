package queue

// Feeding a quorum queue's consumers on a node that does not lead its
// group (amqp/cluster qremote.go): the leader delivers to a proxy of the
// consumer, within the consumer's prefetch, and sends the entries over
// the peer link; this node's passive queue hands them to the consumer's
// Sink in order. What the Sink cannot take now (its channel's global
// prefetch, a full output) waits in the consumer's backlog here and goes
// at the next Dispatch: the remote node keeps the window. Acks, requeues
// and rejects of fed entries are proposed like any other (Ack, Requeue,
// Reject): the seqs are the group's message ids, the same everywhere.

// QuorumConsumers returns the consumers of a passive quorum queue (nil
// when this node's queue delivers itself), for the cluster to register
// with the leader.
func (q *Queue) QuorumConsumers() []*Consumer {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.quorumPassiveLocked() || q.mu.deleted {
		return nil
	}
	return append([]*Consumer(nil), q.mu.consumers...)
}

// QuorumFeed hands c entries its leader delivered to it, in order. It
// returns false, taking none, if c is no longer a consumer of q or q now
// delivers itself: the caller returns them to the group.
func (q *Queue) QuorumFeed(c *Consumer, es []Entry) bool {
	q.mu.Lock()
	defer q.unlock()
	if !q.quorumPassiveLocked() || q.mu.deleted || !q.hasConsumerLocked(c) {
		return false
	}
	if q.mu.fed == nil {
		q.mu.fed = map[*Consumer][]Entry{}
	}
	for _, e := range es {
		e.Stored = true
		q.mu.fed[c] = append(q.mu.fed[c], e)
	}
	q.feedLocked(c)
	return true
}

// QuorumUnfeed takes back the entries fed to c that its Sink has not
// taken (c was cancelled, or the group's leader changed).
func (q *Queue) QuorumUnfeed(c *Consumer) []Entry {
	q.mu.Lock()
	defer q.mu.Unlock()
	es := q.mu.fed[c]
	delete(q.mu.fed, c)
	return es
}

func (q *Queue) hasConsumerLocked(c *Consumer) bool {
	for _, x := range q.mu.consumers {
		if x == c {
			return true
		}
	}
	return false
}

// feedLocked hands c's backlog to its Sink, in order, until it refuses.
func (q *Queue) feedLocked(c *Consumer) {
	es := q.mu.fed[c]
	n := 0
	for n < len(es) && c.Sink.TryDeliver(q, es[n]) {
		e := es[n]
		q.deliveredStatsLocked(&e, c.NoAck, false)
		if c.NoAck {
			q.Quorum.Settle([]uint64{e.Seq})
		} else {
			q.mu.outstanding++
		}
		n++
	}
	if n == len(es) {
		delete(q.mu.fed, c)
		return
	}
	clear(es[:n])
	q.mu.fed[c] = es[n:]
}

// feedAllLocked is a passive queue's dispatch: the backlogs go on.
func (q *Queue) feedAllLocked() {
	for c := range q.mu.fed {
		q.feedLocked(c)
	}
}

// RemoteGetter is implemented by a Quorum whose group's leader can serve
// a basic.get for a node that does not lead it (amqp/cluster qget.go).
type RemoteGetter interface {
	// RemoteGet asks the leader for the head of the queue; with noAck
	// the leader settles it, else it waits for its settle, return or
	// discard like a remote consumer's delivery. It returns how many
	// were left, and false when there was none or no answer.
	RemoteGet(noAck bool) (e Entry, remaining int, ok bool)
}

// QuorumTake takes the head of a leading quorum queue's ready messages
// for a basic.get on another node (expired ones at the head are
// dead-lettered first); false when there is none or q does not lead.
// The asking node counts the get.
func (q *Queue) QuorumTake() (e Entry, remaining int, ok bool) {
	q.mu.Lock()
	defer q.unlock()
	if !q.mu.quorumLead || q.mu.deleted {
		return Entry{}, 0, false
	}
	for q.mu.ready.len() > 0 {
		if head := q.mu.ready.peek(); head.Expires == 0 || !q.expiredLocked(head, q.now()) {
			e = q.mu.ready.pop()
			return e, q.mu.ready.len(), true
		}
		q.deadLetterLocked(q.mu.ready.pop(), ReasonExpired)
	}
	return Entry{}, 0, false
}

// remoteGet is Get on a passive quorum queue: the leader serves it.
func (q *Queue) remoteGet(noAck bool) (e, kept Entry, remaining int, ok bool) {
	rg, _ := q.Quorum.(RemoteGetter)
	if rg == nil {
		q.free.getEmpty.Add(1)
		return Entry{}, Entry{}, 0, false
	}
	e, remaining, ok = rg.RemoteGet(noAck)
	if !ok {
		q.free.getEmpty.Add(1)
		return Entry{}, Entry{}, 0, false
	}
	e.Stored = true
	q.mu.Lock()
	q.deliveredStatsLocked(&e, noAck, true)
	if !noAck {
		q.mu.outstanding++
	}
	q.mu.Unlock()
	if !noAck {
		kept = e
	}
	return e, kept, remaining, true
}
