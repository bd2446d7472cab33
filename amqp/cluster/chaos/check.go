package chaos

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Result is the message checker's verdict over a History, in the terms
// of Jepsen's queue tests.
type Result struct {
	Sent       int // messages published (attempted)
	Confirmed  int // acked by the broker
	Nacked     int // nacked by the broker
	Unknown    int // sent, neither acked nor nacked (connection lost)
	Consumed   int // distinct messages received
	Deliveries int // deliveries, duplicates included

	Lost        int // confirmed, never consumed
	Duplicated  int // deliveries after a message's first
	Unexplained int // duplicates with no redelivered flag, broken session or fault between
	Invented    int // consumed, never published (or unreadable)
	Disordered  int // first deliveries out of their publisher's order, not marked redelivered
	// Requeued counts first deliveries out of order that are marked
	// redelivered: the broker had handed them out before (to a consumer
	// whose connection, or the peer link to whose node, failed before the
	// client read them) and requeued them; rabbitmq keeps order except for
	// requeued messages, so these are explained, not failures.
	Requeued int

	Samples []string // a few of the failures, for the reader
}

// CheckOptions say what the queue promises.
type CheckOptions struct {
	// Order checks per-publisher order among first deliveries (one
	// consumer on a queue that keeps order).
	Order bool
	// Faults are the times of faults: a duplicate delivered after one that
	// came after the first delivery is explained by it (a node restart, a
	// leader change).
	Faults []time.Time
}

// Check runs the checker over h.
func Check(h *History, opt CheckOptions) Result {
	sent, confirmed, nacked, deliveries, broken := h.snapshot()
	r := Result{Sent: len(sent), Confirmed: len(confirmed), Nacked: len(nacked), Deliveries: len(deliveries)}
	for k := range sent {
		if !confirmed[k] && !nacked[k] {
			r.Unknown++
		}
	}
	sample := func(format string, args ...any) {
		if len(r.Samples) < 12 {
			r.Samples = append(r.Samples, fmt.Sprintf(format, args...))
		}
	}
	faults := append([]time.Time(nil), opt.Faults...)
	sort.Slice(faults, func(i, j int) bool { return faults[i].Before(faults[j]) })
	faultBetween := func(a, b time.Time) bool {
		i := sort.Search(len(faults), func(i int) bool { return !faults[i].Before(a) })
		return i < len(faults) && !faults[i].After(b)
	}
	first := map[Key]Delivery{}
	last := map[int]uint64{} // publisher -> last first-delivered seq
	for _, d := range deliveries {
		if !d.Valid {
			r.Invented++
			sample("invented: unreadable message %q (session %d)", d.Raw, d.Session)
			continue
		}
		if _, ok := sent[d.Key]; !ok {
			r.Invented++
			sample("invented: %v was never published", d.Key)
			continue
		}
		prev, dup := first[d.Key]
		if dup {
			r.Duplicated++
			_, prevBroke := broken[prev.Session]
			if !d.Redelivered && !prevBroke && !faultBetween(prev.At, d.At) {
				r.Unexplained++
				sample("duplicate of %v (sessions %d then %d) without redelivered flag, broken session or fault", d.Key, prev.Session, d.Session)
			}
			continue
		}
		first[d.Key] = d
		if opt.Order {
			if l, ok := last[d.Key.Pub]; ok && d.Key.Seq < l {
				if d.Redelivered {
					r.Requeued++
				} else {
					r.Disordered++
					sample("order: publisher %d's %d first delivered after its %d", d.Key.Pub, d.Key.Seq, l)
				}
			}
			if d.Key.Seq > last[d.Key.Pub] {
				last[d.Key.Pub] = d.Key.Seq
			}
		}
	}
	r.Consumed = len(first)
	var lost []Key
	for k := range confirmed {
		if _, ok := first[k]; !ok {
			lost = append(lost, k)
		}
	}
	sort.Slice(lost, func(i, j int) bool {
		if lost[i].Pub != lost[j].Pub {
			return lost[i].Pub < lost[j].Pub
		}
		return lost[i].Seq < lost[j].Seq
	})
	r.Lost = len(lost)
	for _, k := range lost {
		sample("lost: %v was confirmed and never consumed", k)
	}
	return r
}

// Err says what the result shows that a queue must never do: a message
// lost or invented, an unexplained duplicate, first deliveries out of
// order; nil when it is clean.
func (r Result) Err() error {
	var bad []string
	if r.Lost > 0 {
		bad = append(bad, fmt.Sprintf("lost %d", r.Lost))
	}
	if r.Invented > 0 {
		bad = append(bad, fmt.Sprintf("invented %d", r.Invented))
	}
	if r.Unexplained > 0 {
		bad = append(bad, fmt.Sprintf("unexplained duplicates %d", r.Unexplained))
	}
	if r.Disordered > 0 {
		bad = append(bad, fmt.Sprintf("out of order %d", r.Disordered))
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("checker: %s\n  %s", strings.Join(bad, ", "), strings.Join(r.Samples, "\n  "))
}
