package queue

import (
	"bytes"
	"testing"
)

// nopQuorum replicates nothing: a quorum queue driven by hand.
type nopQuorum struct{}

func (nopQuorum) Attach(*Queue)                    {}
func (nopQuorum) Enqueue(*Message, func(error))    {}
func (nopQuorum) Settle([]uint64)                  {}
func (nopQuorum) Return([]uint64)                  {}
func (nopQuorum) Discard([]uint64)                 {}
func (nopQuorum) SettleDone([]uint64, func(error)) {}
func (nopQuorum) Deleted()                         {}

// TestQuorumRehome: a ready entry takes the re-homed message; one whose
// message is another is left alone; a delivered one is not ready.
func TestQuorumRehome(t *testing.T) {
	buf := []byte("p1body1p2body2p3body3")
	old := make([]*Message, 3)
	var ready []Entry
	for i := range old {
		m := &Message{Props: buf[7*i : 7*i+2 : 7*i+2], Body: buf[7*i+2 : 7*i+7 : 7*i+7], Priority: 0}
		m.SetBorrowed()
		old[i] = m
		ready = append(ready, Entry{Msg: m, Seq: uint64(i + 1)})
	}
	q := New(Config{Name: "q", Quorum: nopQuorum{}})
	q.QuorumLead(true, ready)
	first, _, _, ok := q.Get(false) // seq 1 delivered: not ready
	if !ok || first.Msg != old[0] {
		t.Fatalf("get: %v %+v", ok, first)
	}
	var rs []Rehome
	for i, m := range old {
		c := m.Unborrowed()
		if c == m || c.Borrowed() || !bytes.Equal(c.Body, m.Body) || !bytes.Equal(c.Props, m.Props) || &c.Body[0] == &m.Body[0] {
			t.Fatalf("message %d: not copied: %+v", i, c)
		}
		rs = append(rs, Rehome{Seq: uint64(i + 1), Old: m, New: c})
	}
	rs[2].Old = &Message{} // not the entry's message
	q.QuorumRehome(rs)
	second, _, _, _ := q.Get(false)
	third, _, _, _ := q.Get(false)
	if second.Msg != rs[1].New {
		t.Fatal("entry 2 kept the message borrowing the buffer")
	}
	if third.Msg != old[2] {
		t.Fatal("entry 3 took a message re-homed from another")
	}
}

// TestMessageOwned: a borrowed message's bytes are copied for a copy
// that outlives it; another message's are shared.
func TestMessageOwned(t *testing.T) {
	m := &Message{Props: []byte{1, 2}, Body: []byte("body")}
	if p, b := m.Owned(); &p[0] != &m.Props[0] || &b[0] != &m.Body[0] || m.Unborrowed() != m {
		t.Fatal("an owned message's bytes were copied")
	}
	m.SetBorrowed()
	p, b := m.Owned()
	if &p[0] == &m.Props[0] || &b[0] == &m.Body[0] || !bytes.Equal(p, m.Props) || !bytes.Equal(b, m.Body) {
		t.Fatal("a borrowed message's bytes were not copied")
	}
	if len(p) != cap(p) {
		t.Fatal("the properties copied may be appended over the body")
	}
}
