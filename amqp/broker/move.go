package broker

import (
	"errors"
	"fmt"
	"sync"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/queue"
)

// Moving messages: the dead-letter workflow (look at what failed, fix,
// replay). Move takes messages from a source queue through the queue's
// own get and ack, and publishes each through Route and Publish, so a
// destination gets it as it would any publish. Properties go unchanged,
// the x-death history included (rabbitmq: as a shovel keeps headers).
//
// At least once: a batch is got (unacknowledged), published, and its
// store writes waited for (a persistent message bound for durable queues
// is on disk) before the batch is acked on the source. A crash between
// the two leaves a message on both sides, never on neither.

// MoveBatch is how many messages Move holds unacknowledged at a time.
const MoveBatch = 256

// MoveTo is where moved messages go: one of Queue, Exchange (with
// RoutingKey) or Origin.
type MoveTo struct {
	Queue      string
	Exchange   string
	RoutingKey string
	HasExch    bool // Exchange is set ("" is the default exchange)
	// Origin sends each message back to the exchange and routing keys of
	// its newest x-death entry.
	Origin bool
}

// Move is one move (or copy) of messages out of a queue.
type Move struct {
	Source string
	To     MoveTo
	// Count is how many messages to take; 0 or less: those the queue
	// holds when the move starts.
	Count int
	// Copy leaves the source's messages where they are.
	Copy bool
}

// MoveResult reports a move. Moved messages were published to a queue
// and acked on the source (copied: requeued). Unroutable ones (the
// destination routed them nowhere, or a full queue refused them) and,
// for Origin, those without an x-death stay on the source.
type MoveResult struct {
	Moved      int `json:"moved"`
	Unroutable int `json:"unroutable"`
	NoOrigin   int `json:"no_origin"`
}

// ErrMoveDestination marks a destination that does not exist.
var ErrMoveDestination = errors.New("no such destination")

// Move moves messages as m says, in batches of MoveBatch. An error
// after some batches went through comes with the result so far.
func (v *Vhost) Move(m Move) (MoveResult, error) {
	var res MoveResult
	src := v.Queue(m.Source)
	if src == nil {
		return res, v.ErrNoQueue(m.Source)
	}
	if src.Exclusive {
		return res, ErrLocked(src.Name, v.name)
	}
	if err := v.checkMoveTo(m.To); err != nil {
		return res, err
	}
	limit := m.Count
	if limit <= 0 {
		limit, _ = src.Counts()
	}
	// Entries that stay on the source (unroutable, no origin, or all of
	// them for a copy) are held until the end, so a later get does not
	// find them again; then requeued.
	var left []queue.Entry
	defer func() {
		if len(left) > 0 {
			src.Requeue(left)
			src.Dispatch()
		}
	}()
	taken := 0
	for taken < limit {
		n := min(MoveBatch, limit-taken)
		var moved []queue.Entry
		conf := newMoveConfirm()
		dry := false
		for range n {
			e, kept, _, ok := src.Get(false)
			if !ok {
				dry = true
				break
			}
			taken++
			switch v.moveOne(e.Msg, m.To, conf) {
			case moveOK:
				res.Moved++
				moved = append(moved, kept)
			case moveUnroutable:
				res.Unroutable++
				left = append(left, kept)
			case moveNoOrigin:
				res.NoOrigin++
				left = append(left, kept)
			}
		}
		if err := conf.wait(); err != nil {
			// Not on disk: the batch stays on the source.
			res.Moved -= len(moved)
			left = append(left, moved...)
			return res, fmt.Errorf("storing moved messages: %w", err)
		}
		if m.Copy {
			left = append(left, moved...)
		} else if len(moved) > 0 {
			src.Ack(moved)
		}
		if dry {
			break // the queue ran dry (or went)
		}
	}
	return res, nil
}

// checkMoveTo checks that the destination exists.
func (v *Vhost) checkMoveTo(to MoveTo) error {
	switch {
	case to.Origin:
		return nil
	case to.HasExch:
		if v.Exchange(to.Exchange) == nil {
			return fmt.Errorf("%w: %w", ErrMoveDestination, v.ErrNoExchange(to.Exchange))
		}
	default:
		if q := v.Queue(to.Queue); q == nil {
			return fmt.Errorf("%w: %w", ErrMoveDestination, v.ErrNoQueue(to.Queue))
		} else if q.Exclusive {
			return ErrLocked(q.Name, v.name)
		}
	}
	return nil
}

type moveOutcome int

const (
	moveOK moveOutcome = iota
	moveUnroutable
	moveNoOrigin
)

// moveOne publishes a copy of msg to the destination.
func (v *Vhost) moveOne(msg *queue.Message, to MoveTo, conf *moveConfirm) moveOutcome {
	msg.Pin()                // out shares the body, uncounted (queue/body.go)
	raw, body := msg.Owned() // but not a snapshot's buffer (queue.Message.borrowed)
	out := &queue.Message{Props: raw, Body: body, Persistent: msg.Persistent,
		Priority: msg.Priority, TTL: msg.TTL, HasTTL: msg.HasTTL}
	var props amqp.Properties
	headers := func() map[string]any {
		if props.Headers == nil {
			if p, err := amqp.DecodeProperties(msg.Props); err == nil {
				props = p
			}
		}
		return props.Headers
	}
	var qs []*queue.Queue
	switch {
	case to.Origin:
		xname, keys, ok := deathOrigin(headers())
		if !ok {
			return moveNoOrigin
		}
		x := v.Exchange(xname)
		if x == nil || len(keys) == 0 {
			return moveUnroutable
		}
		out.Exchange, out.RoutingKey = xname, keys[0]
		qs = v.RouteKeys(x, keys[0], keys[1:], headers, nil, nil)
	case to.HasExch:
		x := v.Exchange(to.Exchange)
		if x == nil {
			return moveUnroutable
		}
		out.Exchange, out.RoutingKey = to.Exchange, to.RoutingKey
		qs = v.Route(x, to.RoutingKey, headers, nil, nil)
	default:
		// As a publish to the default exchange with the queue's name.
		out.RoutingKey = to.Queue
		qs = v.Route(v.Exchange(""), to.Queue, headers, nil, nil)
	}
	if len(qs) == 0 {
		return moveUnroutable
	}
	conf.hold()
	routed, _, err := v.Publish(&Publish{Msg: out, Queues: qs, Confirm: conf})
	conf.release()
	if err != nil || !routed {
		return moveUnroutable
	}
	return moveOK
}

// deathOrigin reads the exchange and routing keys of the newest x-death
// entry (rabbitmq: x-death lists the newest death first).
func deathOrigin(h map[string]any) (exchange string, keys []string, ok bool) {
	deaths, _ := h["x-death"].([]any)
	if len(deaths) == 0 {
		return "", nil, false
	}
	d, isTable := deaths[0].(amqp.Table)
	if !isTable {
		return "", nil, false
	}
	exchange, ok = d["exchange"].(string)
	if !ok {
		return "", nil, false
	}
	rks, _ := d["routing-keys"].([]any)
	for _, k := range rks {
		if s, isStr := k.(string); isStr {
			keys = append(keys, s)
		}
	}
	return exchange, keys, true
}

// moveConfirm is a Confirm over one batch: it counts the store writes
// the batch's publishes wait for, and wait returns once all are done.
type moveConfirm struct {
	mu struct {
		sync.Mutex
		pending int
		err     error
		done    chan struct{} // closed when pending drops to 0 while waited on
	}
}

func newMoveConfirm() *moveConfirm { return &moveConfirm{} }

func (c *moveConfirm) hold()    { c.Wait(0) }
func (c *moveConfirm) release() { c.Done(0, nil, false) }

// Wait adds one store write to wait for.
func (c *moveConfirm) Wait(uint64) {
	c.mu.Lock()
	c.mu.pending++
	c.mu.Unlock()
}

// Done completes one write.
func (c *moveConfirm) Done(_ uint64, err error, _ bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.pending--
	if err != nil && c.mu.err == nil {
		c.mu.err = err
	}
	if c.mu.pending == 0 && c.mu.done != nil {
		close(c.mu.done)
		c.mu.done = nil
	}
}

// wait returns once every write added so far is done, with the first
// error.
func (c *moveConfirm) wait() error {
	c.mu.Lock()
	if c.mu.pending == 0 {
		err := c.mu.err
		c.mu.Unlock()
		return err
	}
	done := make(chan struct{})
	c.mu.done = done
	c.mu.Unlock()
	<-done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.err
}
