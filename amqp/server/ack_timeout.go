package server

import (
	"errors"
	"os"
	"time"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/queue"
)

// Consumer acknowledgement timeout.
//
// rabbitmq consumer_timeout: a delivery left unacknowledged longer than the
// timeout closes its channel with 406 PRECONDITION_FAILED, which requeues
// every unacknowledged delivery of the channel. The timeout is the
// queue's x-consumer-timeout argument (ms; RabbitMQ 3.12+) or else the
// broker's Config.ConsumerTimeout (30 minutes by default).
//
// Each unacknowledged delivery records its deadline. A channel has one
// timer, armed for the earliest deadline when a delivery is recorded and
// re-armed by the check. When it fires (on the timer's goroutine, taking
// only channel.dmu) it wakes the connection's reader, which runs the check
// between two reads of the socket: closing a channel touches state only
// the reader owns. A channel's deliveries are recorded in time order, so
// the check looks at the oldest ones only (see expiredLocked).

// ackTimer is a channel's acknowledgement timer; channel.dmu guards it.
type ackTimer struct {
	timer      *time.Timer
	armed      bool
	at         int64 // the deadline it is armed for (Server.now)
	minTimeout int64 // the shortest timeout of a delivery recorded so far
}

// noAckTimeout is the timeout of deliveries that never time out.
const noAckTimeout = -1

// now is the server's monotonic clock, in nanoseconds.
func (s *Server) now() int64 { return int64(time.Since(s.epoch)) }

// ackTimeout returns the acknowledgement timeout of deliveries from q in
// nanoseconds, or noAckTimeout.
func (s *Server) ackTimeout(q *queue.Queue) int64 {
	// x-consumer-timeout, or a policy's consumer-timeout (queue.Limits).
	if ms := q.ConsumerTimeout(); ms >= 0 {
		return ms * int64(time.Millisecond)
	}
	if s.cfg.ConsumerTimeout < 0 {
		return noAckTimeout
	}
	return int64(s.cfg.ConsumerTimeout)
}

// pushUnackedLocked records an unacknowledged delivery with its deadline
// and arms the channel's timer for it. ch.dmu is held.
func (ch *channel) pushUnackedLocked(p pending) {
	s := ch.c.srv
	p.timeout = s.ackTimeout(p.q)
	if p.timeout != noAckTimeout {
		now := s.now()
		p.deadline = now + p.timeout
		a := &ch.dmu.ack
		if a.minTimeout == 0 || p.timeout < a.minTimeout {
			a.minTimeout = p.timeout
		}
		if !a.armed || p.deadline < a.at {
			ch.armAckTimerLocked(p.deadline, now)
		}
	}
	ch.dmu.unacked.push(p)
}

func (ch *channel) armAckTimerLocked(at, now int64) {
	a := &ch.dmu.ack
	a.armed, a.at = true, at
	d := time.Duration(at - now)
	if a.timer == nil {
		a.timer = time.AfterFunc(d, ch.ackTimerFired)
	} else {
		a.timer.Reset(d)
	}
}

// stopAckTimerLocked stops the timer of a channel being released.
func (ch *channel) stopAckTimerLocked() {
	if t := ch.dmu.ack.timer; t != nil {
		t.Stop()
	}
	ch.dmu.ack.armed = false
}

// ackTimerFired runs on the timer's goroutine: the reader does the check.
func (ch *channel) ackTimerFired() {
	ch.dmu.Lock()
	ch.dmu.ack.armed = false
	closed := ch.dmu.closed
	ch.dmu.Unlock()
	if !closed {
		ch.c.wakeReader()
	}
}

// expiredLocked finds the earliest deadline of the unacknowledged
// deliveries. It returns the timeout of one that is past it, or re-arms
// the timer for the earliest deadline to come.
//
// Deliveries are recorded in time order, so a delivery recorded after
// the best deadline minus the shortest timeout cannot beat it: the scan
// stops there, which with one timeout per channel is after one or two
// entries.
func (ch *channel) expiredLocked(now int64) (timeout int64, expired bool) {
	u := &ch.dmu.unacked
	a := &ch.dmu.ack
	best, bestTimeout, found := int64(0), int64(0), false
	for i := u.head; i < len(u.items); i++ {
		p := &u.items[i]
		if p.acked || p.timeout == noAckTimeout {
			continue
		}
		if found && p.deadline-p.timeout+a.minTimeout >= best {
			break
		}
		if !found || p.deadline < best {
			best, bestTimeout, found = p.deadline, p.timeout, true
		}
	}
	switch {
	case !found:
		return 0, false
	case best <= now:
		return bestTimeout, true
	}
	if !a.armed || best < a.at {
		ch.armAckTimerLocked(best, now)
	}
	return 0, false
}

// checkAckTimeouts closes the channels with a delivery past its deadline.
// It runs on the reader goroutine.
func (c *conn) checkAckTimeouts() {
	if c.closing.Load() {
		return
	}
	now := c.srv.now()
	for _, ch := range c.channels {
		if ch.closing {
			continue
		}
		ch.dmu.Lock()
		timeout, expired := ch.expiredLocked(now)
		ch.dmu.Unlock()
		if expired {
			// rabbitmq rabbit_channel:evaluate_consumer_timeout.
			ch.closeWith(amqp.Errorf(amqp.PreconditionFailed,
				"delivery acknowledgement on channel %d timed out. Timeout value used: %d ms. "+
					"This timeout value can be configured, see consumers doc guide to learn more",
				ch.id, timeout/int64(time.Millisecond)))
		}
	}
}

// wakeReader makes the reader goroutine run checkAckTimeouts between two
// reads: it sets the flag, then moves the read deadline to now, so that a
// read blocked on the socket returns (see read).
func (c *conn) wakeReader() {
	c.ackCheck.Store(true)
	c.nc.SetReadDeadline(time.Now())
	c.kickBlocked()
}

// read reads from the socket for the reader goroutine, with the read
// timeout measured from the start of the call (two heartbeat intervals),
// or during the handshake the deadline of the whole handshake. Between reads it runs the checks wakeReader asks
// for; a deadline wakeReader set is not a timeout. The flag is tested
// after each deadline is set, so a wakeup is never lost: either the test
// sees the flag, or wakeReader's deadline comes after ours.
func (c *conn) read(p []byte) (int, error) {
	if c.published && c.srv.alarms.raised.Load() != 0 && c.betweenMessages() {
		c.blockWhileAlarmed() // alarm.go
	}
	deadline := c.handshakeDeadline
	if d := time.Duration(c.readTimeout.Load()); d > 0 && deadline.IsZero() {
		deadline = time.Now().Add(d)
	}
	for {
		c.nc.SetReadDeadline(deadline)
		if c.ackCheck.Swap(false) {
			c.checkAckTimeouts()
			continue
		}
		n, err := c.readSocket(p)
		c.noteRead(n) // alarm.go
		if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) && (deadline.IsZero() || time.Now().Before(deadline)) {
			continue // woken, not timed out
		}
		return n, err
	}
}
