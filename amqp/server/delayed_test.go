package server

import (
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
		if a.before(&b) {
			return -1
		}
		return 1
	})
	for i, w := range want {
		got := h.pop()
		if got.due != w.due || got.seq != w.seq {
			t.Fatalf("pop %d = (%d, %d), want (%d, %d)", i, got.due, got.seq, w.due, w.seq)
		}
	}
	if len(h) != 0 {
		t.Fatalf("%d items left", len(h))
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
		s, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.delayed.stop()
		v := s.vhosts["/"]
		q, err := v.declareQueue(queue.Config{Name: "q"})
		if err != nil {
			t.Fatal(err)
		}
		if err := v.declareExchange("d", exchange.Delayed, false, false, false, map[string]any{"x-delayed-type": "fanout"}); err != nil {
			t.Fatal(err)
		}
		if err := v.bind("d", exchange.Destination{Name: "q"}, "", nil); err != nil {
			t.Fatal(err)
		}
		xs := []*exchange.Exchange{v.exchange("d")}
		props, _ := amqp.AppendProperties(nil, &amqp.Properties{})
		for _, c := range []struct {
			body  string
			delay int64
		}{{"c", 300}, {"a", 100}, {"b", 200}, {"b2", 200}} {
			s.delayed.hold(v, xs, c.delay, &queue.Message{Exchange: "d", Props: props, Body: []byte(c.body)}, nil, 0)
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
			time.Sleep(step.at - time.Duration(time.Now().UnixNano()-s.epoch.UnixNano()))
			synctest.Wait()
			for {
				e, _, ok := q.Get()
				if !ok {
					break
				}
				got = append(got, string(e.Msg.Body))
			}
			if !slices.Equal(got, step.want) && (len(got) > 0 || len(step.want) > 0) {
				t.Fatalf("at %v: released %q, want %q", step.at, got, step.want)
			}
		}
		if n := s.delayed.len(); n != 0 {
			t.Fatalf("%d messages still held", n)
		}
	})
}
