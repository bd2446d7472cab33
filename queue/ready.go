package queue

import "sort"

// readyList holds ready entries in sequence order. Most operations are at
// the ends: append at the tail, take from the head; requeued entries go
// back near the head by binary search.
type readyList struct {
	items  []Entry
	head   int
	bytes  int
	budget *Budget // shared accounting of bodies in memory; may be nil
}

func (r *readyList) account(n int) {
	r.bytes += n
	if r.budget != nil {
		r.budget.used.Add(int64(n))
	}
}

func (r *readyList) len() int { return len(r.items) - r.head }

func (r *readyList) push(e Entry) {
	if r.head > 0 && r.head == len(r.items) {
		r.items, r.head = r.items[:0], 0
	}
	r.items = append(r.items, e)
	r.account(e.Msg.Size())
}

func (r *readyList) peek() *Entry { return &r.items[r.head] }

func (r *readyList) pop() Entry {
	e := r.items[r.head]
	r.items[r.head] = Entry{}
	r.head++
	r.account(-e.Msg.Size())
	if r.head == len(r.items) {
		r.items, r.head = r.items[:0], 0
	} else if r.head > 1024 && r.head > len(r.items)/2 {
		n := copy(r.items, r.items[r.head:])
		clear(r.items[n:])
		r.items, r.head = r.items[:n], 0
	}
	return e
}

// insert puts e back at its sequence position.
func (r *readyList) insert(e Entry) {
	live := r.items[r.head:]
	i := sort.Search(len(live), func(i int) bool { return live[i].Seq > e.Seq })
	r.account(e.Msg.Size())
	if i == 0 && r.head > 0 {
		r.head--
		r.items[r.head] = e
		return
	}
	pos := r.head + i
	r.items = append(r.items, Entry{})
	copy(r.items[pos+1:], r.items[pos:])
	r.items[pos] = e
}

// drain removes and returns every entry.
func (r *readyList) drain() []Entry {
	out := r.items[r.head:]
	r.account(-r.bytes)
	r.items, r.head = nil, 0
	return out
}
