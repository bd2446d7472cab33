package broker

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
)

// Policy is a policy or an operator policy of a vhost: Definition applies
// to the queues and/or exchanges (ApplyTo: "queues", "exchanges", "all")
// whose names Pattern matches (anywhere in the name, as RabbitMQ's
// re:run); of those matching an object, the one with the highest Priority
// applies, one policy and one operator policy (policy_apply.go).
// Definition holds JSON values (float64 numbers from decoding; Go
// integers are accepted too).
type Policy struct {
	Vhost      string
	Name       string
	Pattern    string
	ApplyTo    string
	Priority   int
	Definition map[string]any
	Operator   bool
}

// SetPolicy creates or replaces a policy (Policy.Operator: an operator
// policy) of the vhost it is applied to, and applies it to the existing
// queues and exchanges at once.
type SetPolicy struct{ Policy Policy }

// ClearPolicy deletes a policy; deleting a missing one is a 404.
type ClearPolicy struct {
	Name     string
	Operator bool
}

func (SetPolicy) command()   {}
func (ClearPolicy) command() {}

// Store kinds of policies.
const (
	defPolicy   = "policy"
	defOpPolicy = "operator_policy"
)

// policy is a validated Policy with its pattern compiled.
type policy struct {
	Policy
	re *regexp.Regexp
}

func (p *policy) appliesTo(exchange bool) bool {
	switch p.ApplyTo {
	case "all":
		return true
	case "exchanges":
		return exchange
	}
	return !exchange
}

// policyKeys are the definition keys of a policy and their checks
// (rabbitmq rabbit_policies:validate_policy0, with consumer-timeout of
// 3.12). The ha-* keys of classic mirroring are accepted and ignored.
var policyKeys = map[string]func(v any) error{
	"alternate-exchange":            stringKey("%s is not a valid alternate exchange name"),
	"dead-letter-exchange":          stringKey("%s is not a valid dead letter exchange name"),
	"dead-letter-routing-key":       stringKey("%s is not a valid dead letter routing key"),
	"message-ttl":                   intKey(0, "%s is not a valid message TTL"),
	"expires":                       intKey(1, "%s is not a valid queue expiry"),
	"max-length":                    intKey(0, "%s is not a valid maximum length"),
	"max-length-bytes":              intKey(0, "%s is not a valid maximum length in bytes"),
	"max-in-memory-length":          intKey(0, "%s is not a valid maximum memory in bytes"),
	"max-in-memory-bytes":           intKey(0, "%s is not a valid maximum memory in bytes"),
	"delivery-limit":                intKey(0, "%s is not a valid delivery limit"),
	"consumer-timeout":              intKey(0, "%s is not a valid consumer timeout"),
	"queue-mode":                    oneOf("%s is not a valid queue-mode value", "default", "lazy"),
	"queue-version":                 intKey(1, "%s is not a valid queue version"),
	"overflow":                      oneOf("%s is not a valid overflow value", "drop-head", "reject-publish", "reject-publish-dlx"),
	"queue-master-locator":          oneOf("%s is not a valid master locator", "min-masters", "client-local", "random"),
	"max-age":                       stringKey("%s is not a valid max age"),
	"stream-max-segment-size-bytes": intKey(0, "%s is not a valid segment size"),
}

// operatorPolicyKeys are the keys an operator policy may set (rabbitmq
// 3.10: limits only).
var operatorPolicyKeys = []string{"expires", "message-ttl", "max-length", "max-length-bytes",
	"max-in-memory-length", "max-in-memory-bytes", "delivery-limit"}

func stringKey(format string) func(any) error {
	return func(v any) error {
		if _, ok := v.(string); !ok {
			return invalid(format, erlTerm(v))
		}
		return nil
	}
}

func intKey(min int64, format string) func(any) error {
	return func(v any) error {
		if n, ok := jsonInt(v); !ok || n < min {
			return invalid(format, erlTerm(v))
		}
		return nil
	}
}

func oneOf(format string, values ...string) func(any) error {
	return func(v any) error {
		if s, ok := v.(string); !ok || !slices.Contains(values, s) {
			return invalid(format, erlTerm(v))
		}
		return nil
	}
}

// jsonInt reads an integer from a JSON-decoded number or a Go integer.
func jsonInt(v any) (int64, bool) {
	switch n := v.(type) {
	case float64:
		if n != math.Trunc(n) || math.IsInf(n, 0) || n > 1<<62 || n < -(1<<62) {
			return 0, false
		}
		return int64(n), true
	case int:
		return int64(n), true
	case int64:
		return n, true
	case int32:
		return int64(n), true
	}
	return 0, false
}

// erlTerm writes a JSON value as RabbitMQ's messages show the Erlang term
// it decodes to: <<"text">>, 1, true, [..].
func erlTerm(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("<<%q>>", x)
	case nil:
		return "null"
	case float64:
		if n, ok := jsonInt(x); ok {
			return fmt.Sprint(n)
		}
		return fmt.Sprint(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = erlTerm(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case map[string]any:
		keys := slices.Sorted(maps.Keys(x))
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = "{" + erlTerm(k) + "," + erlTerm(x[k]) + "}"
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return fmt.Sprint(v)
}

// validatePolicy checks p as RabbitMQ does and compiles it.
func validatePolicy(p Policy) (*policy, error) {
	if p.Name == "" {
		return nil, invalid("a policy needs a name")
	}
	re, err := regexp.Compile(p.Pattern)
	if err != nil {
		return nil, invalid("pattern should be regular expression but is invalid: %v", err)
	}
	if p.ApplyTo == "" {
		p.ApplyTo = "all"
	}
	switch p.ApplyTo {
	case "all", "queues", "exchanges":
	default:
		return nil, invalid("apply-to '%s' unrecognised; should be 'queues', 'exchanges' or 'all'", p.ApplyTo)
	}
	if len(p.Definition) == 0 {
		return nil, invalid("no policy provided")
	}
	var unknown []string
	for _, k := range slices.Sorted(maps.Keys(p.Definition)) {
		v := p.Definition[k]
		if p.Operator && !slices.Contains(operatorPolicyKeys, k) {
			unknown = append(unknown, "{"+erlTerm(k)+","+erlTerm(v)+"}")
			continue
		}
		check := policyKeys[k]
		if check == nil && strings.HasPrefix(k, "ha-") && !p.Operator {
			continue // classic mirroring: accepted, ignored
		}
		if check == nil {
			unknown = append(unknown, "{"+erlTerm(k)+","+erlTerm(v)+"}")
			continue
		}
		if err := check(v); err != nil {
			return nil, err
		}
	}
	if len(unknown) > 0 {
		return nil, invalid("[%s] are not recognised policy settings", strings.Join(unknown, ","))
	}
	p.Definition = maps.Clone(p.Definition)
	return &policy{Policy: p, re: re}, nil
}

// ParsePriority reads a policy's priority from a JSON value, as RabbitMQ
// checks it ("priority should be a number, actually was ..."); a
// fraction is truncated.
func ParsePriority(v any) (int, error) {
	switch n := v.(type) {
	case nil:
		return 0, nil
	case json.Number:
		f, err := n.Float64()
		if err == nil {
			return int(f), nil
		}
	case float64:
		return int(n), nil
	case int:
		return n, nil
	}
	return 0, invalid("priority should be a number, actually was %s", erlTerm(v))
}

func (v *Vhost) setPolicy(c SetPolicy) error {
	c.Policy.Vhost = v.name
	p, err := validatePolicy(c.Policy)
	if err != nil {
		return err
	}
	return v.changePolicies(func(d *defBatch) error {
		m, kind := v.policyMapLocked(p.Operator)
		m[p.Name] = p
		d.put(kind, defKey(v.name, p.Name), PolicyRecord(p.Policy))
		return nil
	})
}

func (v *Vhost) clearPolicy(c ClearPolicy) error {
	return v.changePolicies(func(d *defBatch) error {
		m, kind := v.policyMapLocked(c.Operator)
		if m[c.Name] == nil {
			return amqp404Policy(c.Name, v.name)
		}
		delete(m, c.Name)
		d.del(kind, defKey(v.name, c.Name))
		return nil
	})
}

func (v *Vhost) policyMapLocked(operator bool) (map[string]*policy, string) {
	if operator {
		return v.mu.opPolicies, defOpPolicy
	}
	return v.mu.policies, defPolicy
}

// Policies lists the vhost's policies (operator: its operator policies),
// by name.
func (v *Vhost) Policies(operator bool) []Policy {
	v.mu.RLock()
	defer v.mu.RUnlock()
	m, _ := v.policyMapLocked(operator)
	return sortedValues(m, func(p *policy) Policy { return p.Policy },
		func(a, b Policy) int { return cmp.Compare(a.Name, b.Name) })
}

// PolicyJSON is a policy as it is stored and as RabbitMQ 3.10 shows it
// (in definitions and the HTTP API).
type PolicyJSON struct {
	Vhost      string         `json:"vhost"`
	Name       string         `json:"name"`
	Pattern    string         `json:"pattern"`
	ApplyTo    string         `json:"apply-to"`
	Definition map[string]any `json:"definition"`
	Priority   int            `json:"priority"`
}

// PolicyRecord is p as PolicyJSON.
func PolicyRecord(p Policy) PolicyJSON {
	return PolicyJSON{Vhost: p.Vhost, Name: p.Name, Pattern: p.Pattern, ApplyTo: p.ApplyTo, Definition: p.Definition, Priority: p.Priority}
}
