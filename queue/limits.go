package queue

// Limits returns what the queue enforces now: its arguments with the
// policies that apply (SetLimits). The value is shared and must not be
// changed.
func (q *Queue) Limits() *Limits { return q.limits() }

func (q *Queue) limits() *Limits { return q.lim.Load() }

// noLimits is the Limits of a queue declared without arguments, shared by
// all of them: an idle queue is 112 bytes smaller. It is never changed
// (SetLimits stores a new value).
var noLimits = func() Limits {
	l, _ := ParseArgs(nil)
	return l
}()

// ConsumerTimeout is the queue's acknowledgement timeout in ms, -1 when it
// sets none (the server's applies).
func (q *Queue) ConsumerTimeout() int64 { return q.limits().ConsumerTimeout }

// SetLimits replaces the limits the queue enforces, when the policies that
// apply to it change. The priority levels, single active consumer and the
// queue type are fixed at declaration and kept. As RabbitMQ applies a
// policy change to a classic queue, the new limits apply to the messages
// already there at once: a lower max-length or max-length-bytes with
// drop-head drops (or dead-letters) from the head now, a new x-expires
// restarts the idle timer; a new message TTL applies to messages
// published from now on.
func (q *Queue) SetLimits(l Limits) {
	q.mu.Lock()
	old := q.limits()
	l.MaxPriority, l.SingleActive, l.Quorum = old.MaxPriority, old.SingleActive, old.Quorum
	q.lim.Store(&l)
	if q.mu.deleted {
		q.mu.Unlock()
		return
	}
	if l.Expires != old.Expires {
		if l.Expires <= 0 {
			if q.mu.idleTimer != nil {
				q.mu.idleTimer.Stop()
			}
		} else {
			q.touchLocked()
		}
	}
	q.trimLocked()
	q.maybeLoadLocked()
	q.unlock()
}
