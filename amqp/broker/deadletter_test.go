package broker

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/queue"
)

// deathsOf renders x-death as queue/reason/count, in order.
func deathsOf(t *testing.T, xd []any) string {
	t.Helper()
	var out []string
	for _, d := range xd {
		if tb, ok := d.(amqp.Table); ok {
			out = append(out, fmt.Sprintf("%v/%v/%v", tb["queue"], tb["reason"], tb["count"]))
		} else {
			out = append(out, fmt.Sprint(d))
		}
	}
	return strings.Join(out, " ")
}

// TestRecordDeathAsRabbitMQ310: the x-death a sequence of deaths gives, as
// RabbitMQ 3.10 builds it (checked against 3.10.8 through the conformance
// suite): newest first, the earlier entries reversed at each death once
// there are two, a repeated queue and reason counted in its entry, which
// keeps its first time.
func TestRecordDeathAsRabbitMQ310(t *testing.T) {
	for _, tc := range []struct {
		name   string
		deaths []string // queue:reason, oldest first
		want   string
	}{
		{"one", []string{"a:rejected"}, "a/rejected/1"},
		{"two", []string{"a:rejected", "b:expired"}, "b/expired/1 a/rejected/1"},
		{"three", []string{"a:rejected", "b:rejected", "c:rejected"}, "c/rejected/1 a/rejected/1 b/rejected/1"},
		{"four", []string{"a:rejected", "b:rejected", "c:rejected", "d:rejected"}, "d/rejected/1 b/rejected/1 a/rejected/1 c/rejected/1"},
		{"loop", []string{"w:rejected", "r:expired", "w:rejected", "r:expired", "w:rejected", "r:expired"}, "r/expired/3 w/rejected/3"},
		{"same queue, two reasons", []string{"a:rejected", "a:expired", "a:rejected"}, "a/rejected/2 a/expired/1"},
		{"ladder", []string{"w1:rejected", "d1:expired", "w2:rejected", "d2:expired", "w3:rejected"},
			"w3/rejected/1 w2/rejected/1 w1/rejected/1 d1/expired/1 d2/expired/1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p amqp.Properties
			var xd []any
			for _, d := range tc.deaths {
				q, r, _ := strings.Cut(d, ":")
				xd = recordDeath(&p, q, r, &queue.Message{RoutingKey: q})
			}
			if got := deathsOf(t, xd); got != tc.want {
				t.Fatalf("x-death %s, want %s", got, tc.want)
			}
			q, r, _ := strings.Cut(tc.deaths[0], ":")
			if p.Headers["x-first-death-queue"] != q || p.Headers["x-first-death-reason"] != r {
				t.Fatalf("x-first-death-queue %v, -reason %v; want %s, %s", p.Headers["x-first-death-queue"], p.Headers["x-first-death-reason"], q, r)
			}
		})
	}
}

// A repeated death keeps the entry's first time, and its other fields.
func TestRecordDeathKeepsFirstTime(t *testing.T) {
	then := time.Unix(1700000000, 0)
	p := amqp.Properties{Headers: amqp.Table{"x-death": []any{
		amqp.Table{"count": int64(4), "queue": "q", "reason": "rejected", "time": then, "exchange": "x", "routing-keys": []any{"k"}, "original-expiration": "5"},
	}}}
	xd := recordDeath(&p, "q", "rejected", &queue.Message{Exchange: "y", RoutingKey: "other"})
	e := xd[0].(amqp.Table)
	if e["count"] != int64(5) || e["time"] != then || e["exchange"] != "x" || e["original-expiration"] != "5" {
		t.Fatalf("x-death[0] %v, want count 5 and the rest unchanged", e)
	}
}

// Entries from a client without a count are counted as RabbitMQ does, and
// field values of any type do not upset the grouping.
func TestRecordDeathClientEntries(t *testing.T) {
	p := amqp.Properties{Headers: amqp.Table{"x-death": []any{
		amqp.Table{"queue": "q", "reason": "expired"},
		amqp.Table{"queue": []byte("b"), "reason": []byte("r")},
		amqp.Table{"queue": "q", "reason": "expired"},
		"not a table",
	}}}
	xd := recordDeath(&p, "z", "rejected", &queue.Message{RoutingKey: "z"})
	if got, want := deathsOf(t, xd), "z/rejected/1 not a table [98]/[114]/1 q/expired/2"; got != want {
		t.Fatalf("x-death %s, want %s", got, want)
	}
}
