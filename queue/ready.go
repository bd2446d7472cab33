package queue

import (
	"cmp"
	"slices"
	"sort"
)

// seqList holds entries in sequence order. Most operations are at the
// ends: append at the tail, take from the head; requeued entries go back
// near the head by binary search. An entry removed from the middle (it
// expired) leaves a tombstone that the head skips; tombstones are swept
// when they outnumber the live entries.
type seqList struct {
	items []Entry
	head  int
	live  int
	dead  int // tombstones in items[head:]
	bytes int
}

func (r *seqList) skipDead() {
	for r.dead > 0 && r.head < len(r.items) && r.items[r.head].mark == tombstone {
		r.items[r.head] = Entry{}
		r.head++
		r.dead--
	}
}

func (r *seqList) push(e Entry) {
	if r.head > 0 && r.head == len(r.items) {
		r.items, r.head = r.items[:0], 0
	}
	if len(r.items) == cap(r.items) {
		// Grow by doubling the live part (append grows a large slice by a
		// quarter, copying a long backlog over and over), dropping the
		// consumed slots at the front on the way.
		live := r.items[r.head:]
		n := make([]Entry, len(live), max(64, 2*len(live)))
		copy(n, live)
		r.items, r.head = n, 0
	}
	r.items = append(r.items, e)
	r.live++
	r.bytes += e.Msg.Size()
}

func (r *seqList) peek() *Entry {
	r.skipDead()
	return &r.items[r.head]
}

func (r *seqList) pop() Entry {
	r.skipDead()
	e := r.items[r.head]
	r.items[r.head] = Entry{}
	r.head++
	r.live--
	r.bytes -= e.Msg.Size()
	r.skipDead()
	if r.head == len(r.items) {
		r.items, r.head = r.items[:0], 0
	} else if r.head > 1024 && r.head > len(r.items)/2 {
		r.sweep()
	}
	return e
}

// sweep drops consumed slots and tombstones, keeping the order.
func (r *seqList) sweep() {
	n := 0
	for _, e := range r.items[r.head:] {
		if e.mark != tombstone {
			r.items[n] = e
			n++
		}
	}
	clear(r.items[n:])
	r.items, r.head, r.dead = r.items[:n], 0, 0
}

// find returns the index of the live entry with seq, or -1.
func (r *seqList) find(seq uint64) int {
	live := r.items[r.head:]
	i := sort.Search(len(live), func(i int) bool { return live[i].Seq >= seq })
	if i < len(live) && live[i].Seq == seq && live[i].mark != tombstone {
		return r.head + i
	}
	return -1
}

// remove takes the entry with seq out of the middle of the list.
func (r *seqList) remove(seq uint64) (Entry, bool) {
	i := r.find(seq)
	if i < 0 {
		return Entry{}, false
	}
	e := r.items[i]
	r.items[i].mark = tombstone
	r.items[i].Msg = nil
	r.live--
	r.dead++
	r.bytes -= e.Msg.Size()
	if r.dead > 1024 && r.dead > r.live {
		r.sweep()
	}
	return e, true
}

// insertBatch puts entries sorted by seq back at their positions: in front
// of the list when they all come before it (returned deliveries), else by
// one merge.
func (r *seqList) insertBatch(es []Entry) {
	if len(es) == 0 {
		return
	}
	live := r.items[r.head:]
	for _, e := range es {
		r.bytes += e.Msg.Size()
	}
	r.live += len(es)
	if len(live) == 0 || es[len(es)-1].Seq < live[0].Seq {
		if r.head >= len(es) {
			r.head -= len(es)
			copy(r.items[r.head:], es)
			return
		}
		n := make([]Entry, len(es)+len(live), (len(es)+len(live))*5/4+16)
		copy(n, es)
		copy(n[len(es):], live)
		r.items, r.head = n, 0
		return
	}
	n := make([]Entry, 0, len(live)+len(es))
	i, j := 0, 0
	for i < len(live) || j < len(es) {
		if j == len(es) || i < len(live) && live[i].Seq < es[j].Seq {
			n = append(n, live[i])
			i++
		} else {
			n = append(n, es[j])
			j++
		}
	}
	r.items, r.head = n, 0
}

// drain removes and returns every live entry.
func (r *seqList) drain() []Entry {
	out := make([]Entry, 0, r.live)
	for _, e := range r.items[r.head:] {
		if e.mark != tombstone {
			out = append(out, e)
		}
	}
	*r = seqList{}
	return out
}

// readyList is a queue's ready entries: one seqList, or one per priority
// level for a priority queue, highest first out. It accounts bodies and
// entries against the broker's memory budget: a hollow entry's body is
// in the store, so it is charged only the entry's overhead.
type readyList struct {
	levels []seqList // levels[0] is the lowest priority
	n      int
	bytes  int     // bodies, in memory or not: what byte limits count
	budget *Budget // may be nil
}

func newReadyList(priorities int, budget *Budget) readyList {
	return readyList{levels: make([]seqList, priorities+1), budget: budget}
}

// add counts an entry of m in (sign 1) or out (sign -1).
func (r *readyList) add(m *Message, sign int) {
	r.n += sign
	r.bytes += sign * m.Size()
	if r.budget != nil {
		r.budget.charge(int64(sign * (len(m.Body) + entryOverhead)))
	}
}

func (r *readyList) len() int { return r.n }

// level is the list for an entry: its priority, capped at the queue's.
func (r *readyList) level(e *Entry) *seqList {
	return r.levelOf(e.Msg.Priority)
}

func (r *readyList) levelOf(prio uint8) *seqList {
	p := int(prio)
	if p >= len(r.levels) {
		p = len(r.levels) - 1
	}
	return &r.levels[p]
}

// top is the highest non-empty level; the caller checks len() > 0.
func (r *readyList) top() *seqList {
	for i := len(r.levels) - 1; i > 0; i-- {
		if r.levels[i].live > 0 {
			return &r.levels[i]
		}
	}
	return &r.levels[0]
}

func (r *readyList) push(e Entry) {
	r.level(&e).push(e)
	r.add(e.Msg, 1)
}

// insertBatch puts entries back at their positions, one merge per level.
func (r *readyList) insertBatch(es []Entry) {
	if len(es) == 0 {
		return
	}
	if len(r.levels) == 1 {
		slices.SortFunc(es, func(a, b Entry) int { return cmp.Compare(a.Seq, b.Seq) })
		r.levels[0].insertBatch(es)
	} else {
		byLevel := make([][]Entry, len(r.levels))
		for _, e := range es {
			l := min(int(e.Msg.Priority), len(r.levels)-1)
			byLevel[l] = append(byLevel[l], e)
		}
		for l, les := range byLevel {
			slices.SortFunc(les, func(a, b Entry) int { return cmp.Compare(a.Seq, b.Seq) })
			r.levels[l].insertBatch(les)
		}
	}
	for i := range es {
		r.add(es[i].Msg, 1)
	}
}

func (r *readyList) peek() *Entry { return r.top().peek() }

func (r *readyList) pop() Entry {
	e := r.top().pop()
	r.add(e.Msg, -1)
	return e
}

// remove takes the entry with seq and priority out of the list.
func (r *readyList) remove(seq uint64, prio uint8) (Entry, bool) {
	e, ok := r.levelOf(prio).remove(seq)
	if ok {
		r.add(e.Msg, -1)
	}
	return e, ok
}

// drain removes and returns every entry, highest priority first.
func (r *readyList) drain() []Entry {
	var out []Entry
	for i := len(r.levels) - 1; i >= 0; i-- {
		out = append(out, r.levels[i].drain()...)
	}
	if r.budget != nil {
		mem := len(out) * entryOverhead
		for i := range out {
			mem += len(out[i].Msg.Body)
		}
		r.budget.charge(-int64(mem))
	}
	r.n, r.bytes = 0, 0
	return out
}

// replace gives the entry with seq whose message is old the message m,
// which has old's priority and size (Queue.QuorumRehome).
func (r *readyList) replace(seq uint64, old, m *Message) {
	l := r.levelOf(old.Priority)
	if i := l.find(seq); i >= 0 && l.items[i].Msg == old {
		l.items[i].Msg = m
	}
}

// hollowAhead returns the hollow entries among the next max entries in
// delivery order, up to maxBytes of bodies: what one read-back fills.
func (r *readyList) hollowAhead(max int, maxBytes int64) []Entry {
	var out []Entry
	seen, bytes := 0, int64(0)
	for l := len(r.levels) - 1; l >= 0; l-- {
		sl := &r.levels[l]
		for i := sl.head; i < len(sl.items); i++ {
			e := &sl.items[i]
			if e.mark == tombstone {
				continue
			}
			if seen++; seen > max || bytes >= maxBytes {
				return out
			}
			if e.Msg.hollow {
				out = append(out, *e)
				bytes += int64(e.Msg.Size())
			}
		}
	}
	return out
}

// fill gives the hollow entry with seq and priority its message m, read
// back from the store, and reports whether it was still there, hollow,
// with m's id.
func (r *readyList) fill(seq uint64, prio uint8, m *Message) bool {
	l := r.levelOf(prio)
	i := l.find(seq)
	if i < 0 || !l.items[i].Msg.hollow || l.items[i].Msg.ID != m.ID {
		return false
	}
	d := m.Size() - l.items[i].Msg.Size() // 0 unless the store disagrees
	l.items[i].Msg = m
	l.bytes += d
	r.bytes += d
	if r.budget != nil {
		r.budget.charge(int64(len(m.Body)))
	}
	return true
}
