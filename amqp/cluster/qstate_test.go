package cluster

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/warrenmq/warren/queue"
)

func msg(body string) *queue.Message {
	return &queue.Message{Exchange: "x", RoutingKey: "k", Props: []byte{0x80, 0, 2}, Body: []byte(body), Persistent: true, Priority: 3, TTL: 1500, HasTTL: true}
}

// TestQStateApply feeds the state machine operations and checks what it
// holds and what it tells the local queue, with no goroutine.
func TestQStateApply(t *testing.T) {
	var s qstate
	var fx []effect
	for _, b := range []string{"a", "b", "c"} {
		fx = s.apply(qop{kind: opEnqueue, msg: msg(b)}, 2, fx[:0])
		if len(fx) != 1 || fx[0].kind != opEnqueue {
			t.Fatalf("enqueue %s: %+v", b, fx)
		}
	}
	if s.next != 3 || len(s.msgs) != 3 {
		t.Fatalf("after 3 enqueues: next %d, %d messages", s.next, len(s.msgs))
	}
	fx = s.apply(qop{kind: opSettle, seqs: []uint64{1, 1, 99}}, 2, fx[:0])
	if len(fx) != 1 || fx[0].seq != 1 || len(s.msgs) != 2 {
		t.Fatalf("settle 1 twice and 99: %+v, %d left", fx, len(s.msgs))
	}
	for i, want := range []byte{opReturn, opReturn, opDiscard} { // limit 2: the third return discards
		fx = s.apply(qop{kind: opReturn, seqs: []uint64{2}}, 2, fx[:0])
		if len(fx) != 1 || fx[0].kind != want || fx[0].deliveries != uint32(i+1) {
			t.Fatalf("return %d: %+v, want kind %d with %d deliveries", i+1, fx, want, i+1)
		}
	}
	if fx[0].reason != queue.ReasonDeliveryLimit {
		t.Fatalf("discarded for %q", fx[0].reason)
	}
	fx = s.apply(qop{kind: opDiscard, seqs: []uint64{3}}, 2, fx[:0])
	if len(fx) != 1 || fx[0].reason != queue.ReasonRejected || len(s.msgs) != 0 {
		t.Fatalf("discard: %+v, %d left", fx, len(s.msgs))
	}
	// No limit: returns only count.
	fx = s.apply(qop{kind: opEnqueue, msg: msg("d")}, -1, fx[:0])
	for range 50 {
		fx = s.apply(qop{kind: opReturn, seqs: []uint64{4}}, -1, fx[:0])
	}
	if s.msgs[4] == nil || s.msgs[4].deliveries != 50 {
		t.Fatalf("without a limit: %+v", s.msgs[4])
	}
}

// TestQStateSnapshotRoundTrip: a snapshot decodes to the same state, and
// two members that apply the same entries hold equal snapshots.
func TestQStateSnapshotRoundTrip(t *testing.T) {
	var a, b qstate
	var p pendingOps
	for i := range 20 {
		p.enqueue(msg(fmt.Sprint(i)), nil)
	}
	p.seqs(opSettle, []uint64{2, 4, 6})
	p.seqs(opReturn, []uint64{7, 7, 8})
	p.seqs(opDiscard, []uint64{9})
	_, _, ops, err := decodeQEntry(p.entry(1, 2))
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		a.apply(op, 20, nil)
		b.apply(op, 20, nil)
	}
	if !bytes.Equal(a.encode(), b.encode()) {
		t.Fatal("two members applying the same entry hold different snapshots")
	}
	c, ready, err := decodeQState(a.encode())
	if err != nil {
		t.Fatal(err)
	}
	if want := c.entries(); !slices.Equal(ready, want) {
		t.Fatalf("decoded entries %+v, want %+v", ready, want)
	}
	if !bytes.Equal(c.encode(), a.encode()) || c.next != 20 || len(c.msgs) != 16 || c.msgs[7].deliveries != 2 {
		t.Fatalf("decoded: next %d, %d messages, deliveries of 7: %d", c.next, len(c.msgs), c.msgs[7].deliveries)
	}
	m := c.msgs[1].msg
	if w := msg("0"); m.Exchange != w.Exchange || m.RoutingKey != w.RoutingKey || !bytes.Equal(m.Props, w.Props) ||
		string(m.Body) != "0" || !m.Persistent || m.Priority != 3 || m.TTL != 1500 || !m.HasTTL {
		t.Fatalf("message 1 decoded as %+v", m)
	}
}

// TestQEntryMalformed: truncated or altered entries and snapshots are
// errors, never panics.
func TestQEntryMalformed(t *testing.T) {
	var p pendingOps
	p.enqueue(msg("hello"), nil)
	p.seqs(opSettle, []uint64{1, 2})
	e := p.entry(7, 9)
	node, id, ops, err := decodeQEntry(e)
	if err != nil || node != 7 || id != 9 || len(ops) != 2 {
		t.Fatalf("decode: %d %d %d ops, %v", node, id, len(ops), err)
	}
	for i := range len(e) {
		if _, _, _, err := decodeQEntry(e[:i]); err == nil {
			t.Fatalf("a truncated entry (%d of %d bytes) decoded", i, len(e))
		}
	}
	bad := append([]byte(nil), e...)
	bad[17+1] = 9 // an unknown operation
	if _, _, _, err := decodeQEntry(bad); err == nil {
		t.Fatal("an unknown operation decoded")
	}
	var s qstate
	s.apply(ops[0], -1, nil)
	snap := s.encode()
	for i := 1; i < len(snap); i++ {
		if _, _, err := decodeQState(snap[:i]); err == nil {
			t.Fatalf("a truncated snapshot (%d of %d bytes) decoded", i, len(snap))
		}
	}
}

func FuzzQEntry(f *testing.F) {
	var p pendingOps
	p.enqueue(msg("x"), nil)
	p.seqs(opReturn, []uint64{1})
	f.Add(p.entry(1, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeQEntry(b)
		decodeQState(b)
	})
}

// benchSnapshot is the snapshot of n messages of size bytes each, as
// restart-time fills its queue: the default exchange, the queue's name
// as the routing key, persistent.
func benchSnapshot(n, size int) []byte {
	var s qstate
	body := make([]byte, size)
	for range n {
		m := &queue.Message{RoutingKey: "restart-q", Props: []byte{0x10, 0, 2}, Body: body, Persistent: true}
		s.apply(qop{kind: opEnqueue, msg: m}, -1, nil)
	}
	return s.encode()
}

// BenchmarkDecodeQState decodes a snapshot of 100k 1 KiB messages, as a
// restarted member does before it serves (issue 20: 1M of them).
func BenchmarkDecodeQState(b *testing.B) {
	snap := benchSnapshot(100_000, 1024)
	b.SetBytes(int64(len(snap)))
	b.ReportAllocs()
	for b.Loop() {
		s, es, err := decodeQState(snap)
		if err != nil || len(s.msgs) != 100_000 || len(es) != 100_000 {
			b.Fatal(len(s.msgs), len(es), err)
		}
	}
}

// BenchmarkEncodeQState encodes the state of 100k 1 KiB messages, as the
// loop does when it takes a quorum queue's snapshot (issue 20: the loop
// waits for it, every group with it).
func BenchmarkEncodeQState(b *testing.B) {
	s, _, err := decodeQState(benchSnapshot(100_000, 1024))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(s.encode())
	}
	b.SetBytes(int64(n))
}

// encode is the snapshot of s, as qsnap.go makes it (view, then encode).
func (s *qstate) encode() []byte {
	v := s.view()
	return v.encode()
}

// BenchmarkQStateView is what a snapshot costs the loop (qsnap.go): the
// view; the encode is off it.
func BenchmarkQStateView(b *testing.B) {
	s, _, err := decodeQState(benchSnapshot(100_000, 1024))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.view()
	}
}

// TestQStateEncodedBound: encode is made in one allocation of
// bound bytes, which holds every field at its largest: names of
// 255 bytes, a TTL and delivery counts with the longest varints, many
// proposers.
func TestQStateEncodedBound(t *testing.T) {
	s := qstate{procs: map[qproc]uint64{}}
	long := strings.Repeat("x", 255)
	for i := range 50 {
		m := &queue.Message{Exchange: long, RoutingKey: long, TTL: math.MinInt64, Props: make([]byte, i*300), Body: make([]byte, i*1000), HasTTL: true, Persistent: true, Priority: 9}
		s.apply(qop{kind: opEnqueue, msg: m}, -1, nil)
		s.msgs[s.next].deliveries = math.MaxUint32
		s.procs[qproc{node: math.MaxUint64 - uint64(i), inc: math.MaxUint64}] = math.MaxUint64
	}
	s.next = math.MaxUint64
	v := s.view()
	data := v.encode()
	if bound := v.bound(); len(data) > bound || cap(data) != bound || !bytes.Equal(data, s.encode()) {
		t.Fatalf("encoded %d bytes in a buffer of %d, bound %d", len(data), cap(data), bound)
	}
	if _, _, err := decodeQState(data); err != nil {
		t.Fatal(err)
	}
}
