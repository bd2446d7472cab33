package cluster

import (
	"bytes"
	"errors"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/warrenmq/warren/queue"
)

// within reports whether b's bytes lie in buf.
func within(b, buf []byte) bool {
	if len(b) == 0 {
		return false
	}
	p, lo := uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	return p >= lo && p+uintptr(len(b)) <= lo+uintptr(len(buf))
}

// rehomeSnapshot is the snapshot of n messages of 1000 bytes, message i
// filled with byte i.
func rehomeSnapshot(n int) []byte {
	var s qstate
	for i := range n {
		m := &queue.Message{RoutingKey: "orders", Props: []byte{0x10, 0, 2}, Body: bytes.Repeat([]byte{byte(i)}, 1000), Persistent: true}
		s.apply(qop{kind: opEnqueue, msg: m}, -1, nil)
	}
	return s.encode()
}

// TestQStateDecodeBorrows: a snapshot's messages slice its buffer
// instead of copying it (issue 20: copying a million of them was half a
// restart's CPU), capped so that an append cannot write over the next
// one; their routing keys are one string.
func TestQStateDecodeBorrows(t *testing.T) {
	snap := rehomeSnapshot(10)
	s, ready, err := decodeQState(snap)
	if err != nil || len(ready) != 10 {
		t.Fatal(len(ready), err)
	}
	for i, e := range ready {
		m := e.Msg
		if s.msgs[e.Seq].msg != m || e.Seq != uint64(i+1) {
			t.Fatalf("entry %d: seq %d, not the state's message", i, e.Seq)
		}
		if !m.Borrowed() || !within(m.Body, snap) || !within(m.Props, snap) {
			t.Fatalf("message %d: copied out of the snapshot (borrowed %v)", i, m.Borrowed())
		}
		if cap(m.Body) != len(m.Body) || cap(m.Props) != len(m.Props) {
			t.Fatalf("message %d: an append would write over the next", i)
		}
		if !bytes.Equal(m.Body, bytes.Repeat([]byte{byte(i)}, 1000)) {
			t.Fatalf("message %d: body %x...", i, m.Body[:8])
		}
		if unsafe.StringData(m.RoutingKey) != unsafe.StringData(ready[0].Msg.RoutingKey) {
			t.Fatalf("message %d: its routing key is a string of its own", i)
		}
	}
	if s.snap == nil || s.snap.live != 10*(1000+3) || s.snap.size != int64(len(snap)) {
		t.Fatalf("borrowed: %+v", s.snap)
	}
}

// TestQStateRehome: once the messages left borrow at most half of the
// snapshot's buffer, rehome copies them out, a chunk at a time, and the
// buffer is freed; before, it copies nothing.
func TestQStateRehome(t *testing.T) {
	freed := make(chan struct{})
	s := func() qstate {
		buf := rehomeSnapshot(100)
		s, _, err := decodeQState(buf)
		if err != nil {
			t.Fatal(err)
		}
		runtime.AddCleanup(&buf[0], func(ch chan struct{}) { close(ch) }, freed)
		return s
	}()
	settle := func(from, to int) {
		var ids []uint64
		for i := from; i <= to; i++ {
			ids = append(ids, uint64(i))
		}
		s.apply(qop{kind: opSettle, seqs: ids}, -1, nil)
	}
	settle(1, 49)
	if rs, more := s.rehome(1<<20, nil); len(rs) != 0 || more || s.snap == nil || s.snap.live != 51*1003 {
		t.Fatalf("51 of 100 left: re-homed %d (more %v), %+v", len(rs), more, s.snap)
	}
	settle(50, 60) // 40 left
	rounds, n := 0, 0
	for more := true; more; {
		var rs []queue.Rehome
		rs, more = s.rehome(5*(1003+rehomeCost)-1, nil) // 5 a round
		rounds++
		for _, r := range rs {
			if r.New.Borrowed() || s.msgs[r.Seq].msg != r.New || !bytes.Equal(r.New.Body, r.Old.Body) || !bytes.Equal(r.New.Props, r.Old.Props) ||
				r.New.RoutingKey != r.Old.RoutingKey || r.New.Persistent != r.Old.Persistent {
				t.Fatalf("seq %d re-homed as %+v from %+v", r.Seq, r.New, r.Old)
			}
		}
		n += len(rs)
		if rounds == 2 {
			settle(96, 100) // some go while it re-homes: it skips them
		}
	}
	if n != 35 || rounds != 8 { // 7 of 5, then one that finds the last 5 gone
		t.Fatalf("re-homed %d messages in %d rounds", n, rounds)
	}
	if s.snap != nil || len(s.msgs) != 35 {
		t.Fatalf("after: %+v, %d messages", s.snap, len(s.msgs))
	}
	for id, m := range s.msgs {
		if m.msg.Borrowed() || !bytes.Equal(m.msg.Body, bytes.Repeat([]byte{byte(id - 1)}, 1000)) {
			t.Fatalf("message %d after re-homing: borrowed %v, body %x...", id, m.msg.Borrowed(), m.msg.Body[:8])
		}
	}
	eventually(t, 10*time.Second, func() error {
		runtime.GC()
		select {
		case <-freed:
			return nil
		default:
			return errors.New("the snapshot's buffer is still alive")
		}
	})
	runtime.KeepAlive(s)
}
