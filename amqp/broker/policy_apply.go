package broker

import (
	"maps"
	"slices"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/queue"
)

// AppliedPolicy is what applies to a queue or exchange: the policy and
// operator policy that won (rabbitmq `policy`, `operator_policy`) and
// their merged definition (`effective_policy_definition`).
type AppliedPolicy struct {
	Policy, OperatorPolicy string
	Definition             map[string]any // shared: read only
}

func amqp404Policy(name, vhost string) error {
	return amqp.Errorf(amqp.NotFound, "no policy '%s' in vhost '%s'", name, vhost)
}

// bestLocked is the policy of m with the highest priority whose pattern
// matches name (ties: the first by name, so the choice is stable).
func bestLocked(m map[string]*policy, name string, exchange bool) *policy {
	var best *policy
	for _, p := range m {
		if !p.appliesTo(exchange) || !p.re.MatchString(name) {
			continue
		}
		if best == nil || p.Priority > best.Priority || p.Priority == best.Priority && p.Name < best.Name {
			best = p
		}
	}
	return best
}

// minMergeKeys are merged by the smaller value when both an operator
// policy and a policy (or a queue argument) set them (rabbitmq
// rabbit_policies:merge_policy_value, rabbit_amqqueue_process res_min).
var minMergeKeys = []string{"message-ttl", "expires", "max-length", "max-length-bytes",
	"max-in-memory-length", "max-in-memory-bytes", "delivery-limit", "consumer-timeout"}

// appliedLocked is what applies to the object called name, nil if no
// policy matches.
func (v *Vhost) appliedLocked(name string, exchange bool) *AppliedPolicy {
	p := bestLocked(v.mu.policies, name, exchange)
	op := bestLocked(v.mu.opPolicies, name, exchange)
	if p == nil && op == nil {
		return nil
	}
	a := &AppliedPolicy{Definition: map[string]any{}}
	if p != nil {
		a.Policy = p.Name
		maps.Copy(a.Definition, p.Definition)
	}
	if op != nil {
		a.OperatorPolicy = op.Name
		for k, ov := range op.Definition {
			pv, ok := a.Definition[k]
			if ok && slices.Contains(minMergeKeys, k) {
				pn, _ := jsonInt(pv)
				on, _ := jsonInt(ov)
				if pn <= on {
					continue
				}
			}
			a.Definition[k] = ov
		}
	}
	return a
}

// queueLimits is what a queue with args enforces under the applied
// policy a (rabbitmq rabbit_amqqueue_process:process_args_policy): for
// the limits, the smaller of argument and policy; for dead-lettering and
// overflow, the argument if there is one.
func queueLimits(args map[string]any, a *AppliedPolicy) queue.Limits {
	l, _ := queue.ParseArgs(args)
	if a == nil {
		return l
	}
	l.Source = a
	d := a.Definition
	minOf := func(cur *int64, key string) {
		pv, ok := jsonInt(d[key])
		if !ok {
			return
		}
		if *cur < 0 || pv < *cur {
			*cur = pv
		}
	}
	minOf(&l.MessageTTL, "message-ttl")
	minOf(&l.Expires, "expires")
	minOf(&l.MaxLength, "max-length")
	minOf(&l.MaxLengthBytes, "max-length-bytes")
	minOf(&l.DeliveryLimit, "delivery-limit")
	minOf(&l.ConsumerTimeout, "consumer-timeout")
	if _, ok := args["x-dead-letter-exchange"]; !ok {
		if s, ok := d["dead-letter-exchange"].(string); ok {
			l.DeadLetterExchange, l.DLX = s, true
		}
	}
	if _, ok := args["x-dead-letter-routing-key"]; !ok {
		if s, ok := d["dead-letter-routing-key"].(string); ok {
			l.DeadLetterRoutingKey, l.HasDeadLetterKey = s, true
		}
	}
	if _, ok := args["x-overflow"]; !ok {
		switch d["overflow"] {
		case "drop-head":
			l.Overflow = queue.DropHead
		case "reject-publish":
			l.Overflow = queue.RejectPublish
		case "reject-publish-dlx":
			l.Overflow = queue.RejectPublishDLX
		}
	}
	return l
}

// exchangePolicy is what applies to an exchange: the policy for listings
// and the alternate exchange it sets.
type exchangePolicy struct {
	applied   *AppliedPolicy
	alternate string
}

// exchangePolicyLocked recomputes what applies to the exchange called
// name. v.mu is held for writing.
func (v *Vhost) exchangePolicyLocked(name string) {
	if name == "" {
		return // the default exchange takes no policy
	}
	a := v.appliedLocked(name, true)
	if a == nil {
		delete(v.mu.xpolicy, name)
		return
	}
	ae, _ := a.Definition["alternate-exchange"].(string)
	v.mu.xpolicy[name] = &exchangePolicy{applied: a, alternate: ae}
}

// policyAlternateLocked is the alternate exchange a policy gives the
// exchange called name (rabbitmq: its alternate-exchange argument, when
// it has one, wins: Route asks only without one). v.mu is held.
func (v *Vhost) policyAlternateLocked(name string) string {
	if p := v.mu.xpolicy[name]; p != nil {
		return p.alternate
	}
	return ""
}

// changePolicies runs change under the vhost's lock, then applies the
// policies to every queue and exchange. The queues' new limits are set
// after the vhost's lock is released (a lower limit may dead-letter, which
// routes under that lock); policyMu keeps changes and their application
// in order.
func (v *Vhost) changePolicies(change func(d *defBatch) error) error {
	v.policyMu.Lock()
	defer v.policyMu.Unlock()
	d := v.defs()
	v.mu.Lock()
	if err := change(d); err != nil {
		v.mu.Unlock()
		return err
	}
	type update struct {
		q *queue.Queue
		l queue.Limits
	}
	var updates []update
	for name, q := range v.mu.queues {
		a := v.appliedLocked(name, false)
		if a == nil && q.Limits().Source == nil {
			continue // no policy before or after
		}
		updates = append(updates, update{q, queueLimits(q.Args, a)})
	}
	for name := range v.mu.exchanges {
		v.exchangePolicyLocked(name)
	}
	d.submit()
	v.mu.Unlock()
	for _, u := range updates {
		u.q.SetLimits(u.l)
		applyStreamPolicy(u.q) // a stream's retention (stream.go)
	}
	return d.wait()
}

// QueuePolicy is what policies apply to q, nil if none.
func (v *Vhost) QueuePolicy(q *queue.Queue) *AppliedPolicy {
	a, _ := q.Limits().Source.(*AppliedPolicy)
	return a
}

// ExchangePolicy is what applies to the exchange called name, nil if
// nothing.
func (v *Vhost) ExchangePolicy(name string) *AppliedPolicy {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if p := v.mu.xpolicy[name]; p != nil {
		return p.applied
	}
	return nil
}
