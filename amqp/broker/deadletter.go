package broker

import (
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/queue"
)

// queueConfig completes a queue's configuration with dead-lettering and
// x-expires.
func (v *Vhost) queueConfig(cfg *queue.Config) {
	cfg.DeadLetter = v.deadLetter
	cfg.OnExpire = func(q *queue.Queue) {
		// rabbitmq x-expires: an unused queue is deleted.
		if _, err := v.deleteQueue(DeleteQueue{Name: q.Name, Queue: q}); err != nil {
			v.b.log.Warn("deleting an expired queue", zap.String("queue", q.Name), zap.Error(err))
		}
	}
}

// deadLetter republishes an entry that left q without being delivered to
// q's dead-letter exchange, with RabbitMQ's x-death headers, then settles
// the original (after the republish: a crash in between may duplicate,
// never lose).
func (v *Vhost) deadLetter(q *queue.Queue, e queue.Entry, reason queue.Reason) {
	defer q.Settle(e)
	l := q.Limits() // the arguments, or a policy's
	dlx := l.DeadLetterExchange
	x := v.Exchange(dlx)
	if x == nil {
		return // rabbitmq: a missing dead-letter exchange drops the message
	}
	m := e.Msg
	key := m.RoutingKey
	k, dlrk := l.DeadLetterRoutingKey, l.HasDeadLetterKey
	if dlrk {
		key = k
	}
	props, err := amqp.DecodeProperties(m.Props)
	if err != nil {
		v.b.log.Error("cannot dead-letter a message with malformed properties", zap.String("queue", q.Name), zap.Error(err))
		return
	}
	// rabbitmq rabbit_dead_letter:make_msg: without a dead-letter routing
	// key the message is routed again by its own keys, CC included (RabbitMQ
	// also uses the BCC keys, which Warren does not keep once BCC is
	// removed at publish); with one, by that key alone, and the CC header
	// goes.
	cc := ccKeys(props.Headers)
	deaths := recordDeath(&props, q.Name, string(reason), m)
	if dlrk {
		cc = nil
		delete(props.Headers, amqp.HeaderCC) // recordDeath made the table anew
	}
	raw, err := amqp.AppendProperties(nil, &props)
	if err != nil {
		v.b.log.Error("cannot dead-letter a message", zap.String("queue", q.Name), zap.Error(err))
		return
	}
	_, body := m.Owned() // a body borrowed from a snapshot's buffer would pin it
	out := &queue.Message{
		Exchange:   dlx,
		RoutingKey: key,
		Props:      raw,
		Body:       body,
		Persistent: m.Persistent,
		Priority:   m.Priority,
	}
	headers := func() map[string]any { return props.Headers }
	qs := v.RouteKeys(x, key, cc, headers, nil, nil)
	// rabbitmq: a message that would come back to a queue it already died in,
	// with no rejection on the way, is in an automatic cycle: it is dropped
	// for that queue.
	kept := qs[:0]
	for _, target := range qs {
		if !deathCycle(deaths, target.Name) {
			kept = append(kept, target)
		}
	}
	v.b.enqueue(out, kept, nil, 0, nil)
}

// recordDeath adds a death to the message's x-death header, RabbitMQ
// 3.10's format: an array of tables, one per queue and reason with a
// count, the newest death first; plus x-first-death-* (set once) and
// x-last-death-*. A per-message expiration moves to original-expiration.
// It returns the updated x-death.
func recordDeath(p *amqp.Properties, queueName, reason string, m *queue.Message) []any {
	h := amqp.Table{}
	for k, val := range p.Headers {
		h[k] = val
	}
	old, _ := h["x-death"].([]any)
	if len(old) >= 2 {
		old = groupDeaths(old)
	}
	var death amqp.Table
	rest := make([]any, 0, len(old)+1)
	for _, d := range old {
		t, ok := d.(amqp.Table)
		if ok && death == nil && t["queue"] == queueName && t["reason"] == reason {
			// rabbitmq 3.10: the entry of an earlier death in the same queue
			// for the same reason keeps its fields, time included; its count
			// grows, and it moves to the front.
			death = amqp.Table{}
			for k, v := range t {
				death[k] = v
			}
			n, _ := amqp.IntValue(t["count"])
			death["count"] = n + 1
			continue
		}
		rest = append(rest, d)
	}
	if death == nil {
		death = amqp.Table{
			"count":        int64(1),
			"reason":       reason,
			"queue":        queueName,
			"time":         time.Now().Truncate(time.Second),
			"exchange":     m.Exchange,
			"routing-keys": deathKeys(m.RoutingKey, ccKeys(p.Headers)),
		}
		if p.Expiration != "" {
			death["original-expiration"] = p.Expiration
		}
	}
	if p.Expiration != "" {
		p.Expiration = ""
		p.Flags &^= amqp.FlagExpiration
	}
	deaths := append([]any{death}, rest...)
	h["x-death"] = deaths
	if _, ok := h["x-first-death-queue"]; !ok {
		h["x-first-death-queue"] = queueName
		h["x-first-death-reason"] = reason
		h["x-first-death-exchange"] = m.Exchange
	}
	h["x-last-death-queue"] = queueName
	h["x-last-death-reason"] = reason
	h["x-last-death-exchange"] = m.Exchange
	p.Headers = h
	return deaths
}

// ccKeys returns the longstr elements of a CC header (amqp.HeaderCC).
func ccKeys(h amqp.Table) []string {
	arr, _ := h[amqp.HeaderCC].([]any)
	var keys []string
	for _, v := range arr {
		if k, ok := v.(string); ok {
			keys = append(keys, k)
		}
	}
	return keys
}

// deathKeys is an x-death's routing-keys: rabbitmq, the key the message
// was published with, then its CC keys (BCC is gone by then).
func deathKeys(key string, cc []string) []any {
	keys := make([]any, 0, 1+len(cc))
	keys = append(keys, key)
	for _, k := range cc {
		keys = append(keys, k)
	}
	return keys
}

// groupDeaths is rabbitmq 3.10's rabbit_dead_letter:group_by_queue_and_reason,
// applied to an x-death of two entries or more before each new death: one
// entry per queue and reason (the first; given a count of how many there
// were if it had none), and, as its fold accumulates, in reverse order.
// So only the newest entry is reliably first, and clients that read
// x-death by position see what they saw with RabbitMQ.
func groupDeaths(old []any) []any {
	// Keys as text: a client may have put any field value there.
	key := func(t amqp.Table) string {
		return fmt.Sprintf("%T:%v\x00%T:%v", t["queue"], t["queue"], t["reason"], t["reason"])
	}
	seen := map[string]bool{}
	out := make([]any, 0, len(old))
	for _, d := range old {
		t, ok := d.(amqp.Table)
		if !ok {
			out = append(out, d)
			continue
		}
		k := key(t)
		if seen[k] {
			continue
		}
		seen[k] = true
		if _, ok := t["count"]; !ok {
			n := 0
			for _, o := range old {
				if ot, ok := o.(amqp.Table); ok && key(ot) == k {
					n++
				}
			}
			c := amqp.Table{"count": int64(n)}
			for f, v := range t {
				c[f] = v
			}
			t = c
		}
		out = append(out, t)
	}
	slices.Reverse(out)
	return out
}

// deathCycle reports whether dead-lettering to target closes a cycle with
// no rejection in it (rabbitmq rabbit_dead_letter:is_cycle).
func deathCycle(deaths []any, target string) bool {
	for _, d := range deaths {
		t, _ := d.(amqp.Table)
		if t["reason"] == string(queue.ReasonRejected) {
			return false
		}
		if t["queue"] == target {
			return true
		}
	}
	return false
}
