package broker

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue"
)

func TestDelayHeapOrder(t *testing.T) {
	var h delayHeap
	rng := rand.New(rand.NewPCG(1, 2))
	var want []delayedItem
	for seq := uint64(1); seq <= 2000; seq++ {
		it := delayedItem{due: int64(rng.IntN(300)), seq: seq}
		want = append(want, it)
		h.push(it)
	}
	slices.SortFunc(want, func(a, b delayedItem) int {
		if a.due != b.due {
			return cmp.Compare(a.due, b.due)
		}
		return cmp.Compare(a.seq, b.seq)
	})
	for i, w := range want {
		got := h.pop()
		if got.due != w.due || got.seq != w.seq {
			t.Fatalf("pop %d = (%d, %d), want (%d, %d)", i, got.due, got.seq, w.due, w.seq)
		}
	}
	if h.len() != 0 || h.items != nil {
		t.Fatalf("%d items left", h.len())
	}
	// Slots are reused when pushes and pops interleave.
	h.push(delayedItem{due: 3, seq: 1})
	h.push(delayedItem{due: 1, seq: 2})
	if got := h.pop(); got.seq != 2 {
		t.Fatalf("pop seq %d, want 2", got.seq)
	}
	h.push(delayedItem{due: 2, seq: 3})
	if len(h.items) != 2 {
		t.Fatalf("%d slots for 2 items", len(h.items))
	}
	for _, want := range []uint64{3, 1} {
		if got := h.pop(); got.seq != want {
			t.Fatalf("pop seq %d, want %d", got.seq, want)
		}
	}
	// Equal due times keep their order across the wrap of the truncated seq.
	seqs := []uint64{1<<32 - 2, 1<<32 - 1, 1 << 32, 1<<32 + 1}
	for _, seq := range seqs {
		h.push(delayedItem{due: 5, seq: seq})
	}
	for _, seq := range seqs {
		if got := h.pop(); got.seq != seq {
			t.Fatalf("across the wrap: pop seq %d, want %d", got.seq, seq)
		}
	}
}

func TestSwapDelayHeader(t *testing.T) {
	in := amqp.Properties{ContentType: "text/plain", Headers: amqp.Table{"x-delay": int32(1500), "h": "v"}, DeliveryMode: 2}
	raw, err := amqp.AppendProperties(nil, &in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := amqp.DecodeProperties(swapDelayHeader(raw, 1500))
	if err != nil {
		t.Fatal(err)
	}
	if out.Headers["x-delay"] != int32(-1500) || out.Headers["h"] != "v" || out.ContentType != "text/plain" || out.DeliveryMode != 2 {
		t.Fatalf("swapped properties %+v", out)
	}
	if in.Headers["x-delay"] != int32(1500) {
		t.Fatalf("the original headers changed")
	}
	out, _ = amqp.DecodeProperties(swapDelayHeader(raw, math.MaxUint32))
	if out.Headers["x-delay"] != int64(-math.MaxUint32) {
		t.Fatalf("x-delay for the longest delay = %#v, want a long", out.Headers["x-delay"])
	}
}

func TestScheduleMeta(t *testing.T) {
	due := time.Date(2030, 1, 2, 3, 4, 5, 6e6, time.UTC).UnixNano()
	meta := scheduleMeta(due, "/prod", "delayed.orders")
	gotDue, vh, x, err := parseScheduleMeta(meta)
	if err != nil || gotDue != due || vh != "/prod" || x != "delayed.orders" {
		t.Fatalf("parse(scheduleMeta) = %d %q %q %v", gotDue, vh, x, err)
	}
	for _, bad := range [][]byte{nil, meta[:8], meta[:9], meta[:len(meta)-1], append(slices.Clone(meta), 0)} {
		if _, _, _, err := parseScheduleMeta(bad); err == nil {
			t.Errorf("parseScheduleMeta(%x) accepted a malformed entry", bad)
		}
	}
}

// The scheduler releases each message when it is due, in due order, with
// one timer (fake time).
func TestSchedulerReleasesOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		epoch := time.Now()
		s := New(Config{})
		defer s.delayed.stop()
		v := s.Vhost("/")
		q := apply(t, v, DeclareQueue{Name: "q"}).Queue
		apply(t, v, DeclareExchange{Name: "d", Kind: exchange.Delayed, Args: map[string]any{"x-delayed-type": "fanout"}})
		apply(t, v, Bind{Source: "d", Destination: exchange.Destination{Name: "q"}})
		xs := []*exchange.Exchange{v.Exchange("d")}
		props, _ := amqp.AppendProperties(nil, &amqp.Properties{})
		expiring, _ := amqp.AppendProperties(nil, &amqp.Properties{Expiration: "60000"})
		for _, c := range []struct {
			body  string
			delay int64
		}{{"c", 300}, {"a", 100}, {"b", 200}, {"b2", 200}} {
			m := &queue.Message{Exchange: "d", Props: props, Body: []byte(c.body)}
			if c.body == "c" {
				m.Props, m.TTL, m.HasTTL = expiring, 60000, true
			}
			s.delayed.hold(v, xs, c.delay, m, nil, 0)
		}
		if n := s.delayed.len(); n != 4 {
			t.Fatalf("%d messages held, want 4", n)
		}
		var got []string
		for _, step := range []struct {
			at   time.Duration
			want []string
		}{
			{99 * time.Millisecond, nil},
			{100 * time.Millisecond, []string{"a"}},
			{199 * time.Millisecond, []string{"a"}},
			{200 * time.Millisecond, []string{"a", "b", "b2"}},
			{300 * time.Millisecond, []string{"a", "b", "b2", "c"}},
		} {
			time.Sleep(step.at - time.Duration(time.Now().UnixNano()-epoch.UnixNano()))
			synctest.Wait()
			for {
				e, _, _, ok := q.Get(true)
				if !ok {
					break
				}
				got = append(got, string(e.Msg.Body))
				if string(e.Msg.Body) == "c" && (!e.Msg.HasTTL || e.Msg.TTL != 60000) {
					t.Errorf("released message lost its expiration: TTL %d %t", e.Msg.TTL, e.Msg.HasTTL)
				}
				if hdrs := headersOf(e.Msg.Props); hdrs["x-delay"] == nil {
					t.Errorf("released %q without x-delay", e.Msg.Body)
				}
			}
			if !slices.Equal(got, step.want) && (len(got) > 0 || len(step.want) > 0) {
				t.Fatalf("at %v: released %q, want %q", step.at, got, step.want)
			}
		}
		if n := s.delayed.len(); n != 0 {
			t.Fatalf("%d messages still held", n)
		}
		s.delayed.mu.Lock()
		if n := len(s.delayed.mu.dests); n != 0 {
			t.Errorf("%d destinations kept after the last release", n)
		}
		s.delayed.mu.Unlock()
	})
}

// BenchmarkDelayHeap pops the earliest of a million held items and holds
// a new one, as a busy scheduler does.
func BenchmarkDelayHeap(b *testing.B) {
	var h delayHeap
	rng := rand.New(rand.NewPCG(3, 4))
	seq := uint64(0)
	for range 1_000_000 {
		seq++
		h.push(delayedItem{due: rng.Int64N(60e9), seq: seq})
	}
	b.ReportAllocs()
	for b.Loop() {
		it := h.pop()
		seq++
		h.push(delayedItem{due: it.due + rng.Int64N(60e9), seq: seq})
	}
}
