package server

import (
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/alarm"
	"github.com/warrenmq/warren/amqp"
)

// Resource alarms (rabbitmq "memory and disk alarms", "blocked connection
// notifications"): while the alarm.Monitor has any alarm raised, a
// connection that has published stops reading its socket, so its
// publishers are held back by TCP flow control, after sending
// connection.blocked with the reason if the client announced the
// connection.blocked capability; connection.unblocked follows when every
// alarm clears. Connections that only consume, and everything they do
// (deliveries, acks), go on.
//
// The cost on the hot path is one atomic load per socket read, and only on
// connections that published (conn.read); never per frame.

// alarmState is the server's copy of the raised alarms.
type alarmState struct {
	raised atomic.Uint32 // alarm.Set; read by the readers of publishing connections
	mu     struct {
		sync.Mutex
		cleared chan struct{} // closed when the alarms clear; replaced when one is raised
	}
}

func (a *alarmState) init() {
	a.mu.cleared = make(chan struct{})
	close(a.mu.cleared)
}

// set is the Monitor's subscriber.
func (a *alarmState) set(s alarm.Set) {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := alarm.Set(a.raised.Swap(uint32(s)))
	switch {
	case old == 0 && s != 0:
		a.mu.cleared = make(chan struct{})
	case old != 0 && s == 0:
		close(a.mu.cleared)
	}
}

// wait returns the raised alarms and a channel closed when they clear.
func (a *alarmState) wait() (alarm.Set, <-chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return alarm.Set(a.raised.Load()), a.mu.cleared
}

// Alarms is the resource monitor (Config.Alarms; nil: none), for the
// management API and the metrics.
func (s *Server) Alarms() *alarm.Monitor { return s.cfg.Alarms }

// blockWhileAlarmed holds the reader while an alarm is raised: it sends
// connection.blocked once, waits for the alarms to clear (running the
// acknowledgement-timeout checks wakeReader asks for meanwhile), then
// sends connection.unblocked. It returns at once when the connection is
// closing, so that the reader can read the client's close-ok.
func (c *conn) blockWhileAlarmed() {
	for {
		set, cleared := c.srv.alarms.wait()
		if set == 0 {
			break
		}
		if c.closing.Load() || c.outClosed() {
			return // closing, or the socket failed: let the reader see it
		}
		if !c.blocked.Load() {
			c.blocked.Store(true)
			c.log.Info("connection blocked: a resource alarm is raised", zap.String("reason", set.Reason()))
			// rabbitmq: connection.blocked only to clients that announced
			// the capability; the others are just not read.
			if c.capBlocked {
				c.send(0, &amqp.ConnectionBlocked{Reason: set.Reason()})
				c.blockedSent = true
			}
		}
		select {
		case <-cleared:
		case <-c.blockWake:
			if c.ackCheck.Swap(false) {
				c.checkAckTimeouts()
			}
		}
	}
	if c.blocked.Swap(false) {
		c.log.Info("connection unblocked: the resource alarms cleared")
		if c.blockedSent {
			c.blockedSent = false
			c.send(0, &amqp.ConnectionUnblocked{})
		}
	}
}

// betweenMessages reports whether the reader holds no part of a message:
// no partial frame buffered and no channel between its basic.publish and
// the last body frame. An alarm holds the reader only then, so the
// message being read when the alarm rose is completed, routed and
// confirmed (as RabbitMQ lets through the publish that finds the alarm);
// holding it mid-message would keep that publish unconfirmed until the
// alarm cleared, depending on how the client's bytes were split in reads.
func (c *conn) betweenMessages() bool {
	if c.br.Buffered() > 0 {
		return false
	}
	for _, ch := range c.channels {
		if ch.pubState != pubIdle {
			return false
		}
	}
	return true
}

// alarmCheckBytes is how much a publishing connection reads between two
// memory checks of its own.
const alarmCheckBytes = 1 << 20

// noteRead counts what a publishing connection read and checks the
// resources itself every alarmCheckBytes when they are near a threshold
// (alarm.Monitor.CheckNear) (a read of /proc/self/statm, a
// few microseconds), so that the alarm rises within about that much of
// the watermark per publisher, however late the monitor's goroutine runs
// on a busy machine (it was 3-7 MiB late at 80 MiB/s on 2 loaded cores,
// 5-11% of a 64 MiB watermark).
func (c *conn) noteRead(n int) {
	if !c.published || n <= 0 || c.srv.cfg.Alarms == nil {
		return
	}
	if c.readSinceCheck += n; c.readSinceCheck < alarmCheckBytes {
		return
	}
	c.readSinceCheck = 0
	c.srv.cfg.Alarms.CheckNear()
}

// outClosed reports whether the output is closed (the writer failed).
func (c *conn) outClosed() bool {
	c.out.mu.Lock()
	defer c.out.mu.Unlock()
	return c.out.mu.closed
}

// kickBlocked wakes a reader held by blockWhileAlarmed (forceClose,
// wakeReader, and the writer when the socket fails).
func (c *conn) kickBlocked() {
	select {
	case c.blockWake <- struct{}{}:
	default:
	}
}
