package streamserver

import (
	"sync"

	"github.com/warrenmq/warren/queue/stream"
)

// Single active consumer (RabbitMQ 3.11+): the subscriptions of one
// stream sharing a name form a group in which one reads at a time. On a
// plain stream the first to come is active and the next in line takes
// over when it leaves. On a partition of a super stream the group spreads
// over the partitions: partition i's active member is member i mod n, so
// n consumers of a group of p partitions read about p/n each, and a join
// or a leave moves partitions. A member that becomes active is told with
// a consumer update (active) and starts from the offset specification
// its reply gives (the client's stored offset, usually); one that stops
// being active stops reading at once and is told (inactive).

type groupKey struct{ vhost, stream, name string }

type member struct {
	c   *conn
	sub *subscription
}

type group struct {
	members   []*member
	active    *member
	partition int // the stream's index in its super stream; -1: a plain stream
}

// groups is the server's registry of groups. applyMu serializes the
// hand-overs (a stop, then a start), taken before mu; mu guards the map.
type groups struct {
	applyMu sync.Mutex
	mu      sync.Mutex
	m       map[groupKey]*group
}

func newGroups() *groups { return &groups{m: map[groupKey]*group{}} }

// handover is a change of active member.
type handover struct{ from, to *member }

// rebalanceLocked picks the group's active member.
func (g *group) rebalanceLocked() handover {
	var want *member
	if n := len(g.members); n > 0 {
		if g.partition < 0 {
			want = g.members[0]
			for _, m := range g.members {
				if m == g.active {
					want = m
				}
			}
		} else {
			want = g.members[g.partition%n]
		}
	}
	if want == g.active {
		return handover{}
	}
	h := handover{from: g.active, to: want}
	g.active = want
	return h
}

func (gs *groups) join(key groupKey, m *member, partition int) {
	gs.applyMu.Lock()
	defer gs.applyMu.Unlock()
	gs.mu.Lock()
	g := gs.m[key]
	if g == nil {
		g = &group{partition: partition}
		gs.m[key] = g
	}
	g.members = append(g.members, m)
	h := g.rebalanceLocked()
	gs.mu.Unlock()
	h.apply()
}

func (gs *groups) leave(key groupKey, c *conn, sub *subscription) {
	gs.applyMu.Lock()
	defer gs.applyMu.Unlock()
	gs.mu.Lock()
	g := gs.m[key]
	if g == nil {
		gs.mu.Unlock()
		return
	}
	for i, m := range g.members {
		if m.c == c && m.sub == sub {
			g.members = append(g.members[:i], g.members[i+1:]...)
			if g.active == m {
				g.active = nil // gone: nobody to tell
			}
			break
		}
	}
	if len(g.members) == 0 {
		delete(gs.m, key)
	}
	h := g.rebalanceLocked()
	gs.mu.Unlock()
	h.apply()
}

func (h handover) apply() {
	if h.from != nil {
		h.from.c.deactivate(h.from.sub)
	}
	if h.to != nil {
		h.to.c.activate(h.to.sub)
	}
}

// consumerUpdate is the request frame telling a subscription it is (or
// is no longer) active.
func consumerUpdate(corr uint32, id uint8, active bool) []byte {
	f := newFrame(keyConsumerUpdate, 1, 6)
	f.u32(corr)
	f.u8(id)
	if active {
		f.u8(1)
	} else {
		f.u8(0)
	}
	return f.done()
}

// activate tells sub it is active; its reply's offset specification is
// where it starts.
func (c *conn) activate(sub *subscription) {
	sub.mu.Lock()
	sub.mu.gen++
	gen := sub.mu.gen
	sub.mu.active = true
	sub.mu.Unlock()
	c.request(func(corr uint32) []byte { return consumerUpdate(corr, sub.id, true) }, func(d *decoder) {
		code, typ := d.u16(), d.u16()
		var off uint64
		if typ == offsetOffset || typ == offsetTimestamp {
			off = d.u64()
		}
		start, ok := offsetSpec(typ, off)
		if d.err != nil || code != codeOK || !ok {
			start = stream.Start{Kind: stream.StartNext}
		}
		start.Filter = sub.filter
		sub.mu.Lock()
		still := sub.mu.active && sub.mu.gen == gen
		sub.mu.Unlock()
		if still {
			c.startDelivery(sub, start)
		}
	})
}

// deactivate stops sub's reading and tells it.
func (c *conn) deactivate(sub *subscription) {
	sub.mu.Lock()
	sub.mu.gen++
	sub.mu.active = false
	sub.mu.Unlock()
	sub.stopDelivery()
	c.request(func(corr uint32) []byte { return consumerUpdate(corr, sub.id, false) }, func(*decoder) {})
}
