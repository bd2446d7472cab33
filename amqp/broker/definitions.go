package broker

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/warrenmq/warren/amqp"
)

// Definitions in RabbitMQ's JSON format (GET and POST /api/definitions,
// load_definitions): export here, import in definitions_import.go.
//
//	{"rabbit_version","rabbitmq_version","product_name","product_version",
//	 "users":[{"name","password_hash","hashing_algorithm","tags":[..],"limits":{}}],
//	 "vhosts":[{"name"}], "permissions":[{"user","vhost","configure","write","read"}],
//	 "topic_permissions":[{"user","vhost","exchange","write","read"}],
//	 "parameters":[{"value","vhost","component","name"}],   (vhost-limits, operator_policy, ...)
//	 "global_parameters":[{"name","value"}],
//	 "policies":[{"vhost","name","pattern","apply-to","definition","priority"}],
//	 "queues":[{"name","vhost","durable","auto_delete","arguments"}],
//	 "exchanges":[{"name","vhost","type","durable","auto_delete","internal","arguments"}],
//	 "bindings":[{"source","vhost","destination","destination_type","routing_key","arguments"}]}
//
// A vhost's export has rabbit_version, parameters, policies, queues,
// exchanges and bindings, without "vhost" in queues, exchanges and
// bindings, as RabbitMQ writes it.

// CompatVersion is the RabbitMQ version whose behaviour Warren follows,
// written as rabbit_version in definitions.
const CompatVersion = "3.10.8"

// Definitions is a whole broker's definitions.
type Definitions struct {
	RabbitVersion    string            `json:"rabbit_version"`
	RabbitMQVersion  string            `json:"rabbitmq_version"`
	ProductName      string            `json:"product_name"`
	ProductVersion   string            `json:"product_version"`
	Users            []DefUser         `json:"users"`
	Vhosts           []DefVhost        `json:"vhosts"`
	Permissions      []Permission      `json:"permissions"`
	TopicPermissions []TopicPermission `json:"topic_permissions"`
	Parameters       []DefParameter    `json:"parameters"`
	GlobalParameters []DefGlobalParam  `json:"global_parameters"`
	Policies         []DefPolicy       `json:"policies"`
	Queues           []DefQueue        `json:"queues"`
	Exchanges        []DefExchange     `json:"exchanges"`
	Bindings         []DefBinding      `json:"bindings"`
}

// VhostDefinitions is one vhost's definitions.
type VhostDefinitions struct {
	RabbitVersion string         `json:"rabbit_version"`
	Parameters    []DefParameter `json:"parameters"`
	Policies      []DefPolicy    `json:"policies"`
	Queues        []DefQueue     `json:"queues"`
	Exchanges     []DefExchange  `json:"exchanges"`
	Bindings      []DefBinding   `json:"bindings"`
}

// DefUser is a user in definitions. Tags are a list (RabbitMQ 3.10 and
// later) or a comma-separated string (earlier versions) on import.
type DefUser struct {
	Name             string         `json:"name"`
	PasswordHash     string         `json:"password_hash"`
	HashingAlgorithm string         `json:"hashing_algorithm"`
	Tags             Tags           `json:"tags"`
	Limits           map[string]any `json:"limits"`
}

// Tags reads a JSON list of strings or a comma-separated string.
type Tags []string

func (t *Tags) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*t = Tags{}
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				*t = append(*t, p)
			}
		}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("tags should be a list of strings or a comma-separated string")
	}
	*t = l
	return nil
}

// DefVhost is a vhost in definitions (newer RabbitMQ versions add its
// metadata, read on import).
type DefVhost struct {
	Name             string         `json:"name"`
	Description      string         `json:"description,omitempty"`
	Tags             Tags           `json:"tags,omitempty"`
	DefaultQueueType string         `json:"default_queue_type,omitempty"`
	Metadata         *DefVhostMeta  `json:"metadata,omitempty"`
	Limits           map[string]any `json:"limits,omitempty"`
}

// DefVhostMeta is a vhost's metadata object (RabbitMQ 3.11+).
type DefVhostMeta struct {
	Description      string `json:"description,omitempty"`
	Tags             Tags   `json:"tags,omitempty"`
	DefaultQueueType string `json:"default_queue_type,omitempty"`
}

// DefParameter is a vhost's runtime parameter.
type DefParameter struct {
	Value     any    `json:"value"`
	Vhost     string `json:"vhost"`
	Component string `json:"component"`
	Name      string `json:"name"`
}

// DefGlobalParam is a global parameter.
type DefGlobalParam struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

// DefPolicy is a policy.
type DefPolicy struct {
	Vhost      string         `json:"vhost,omitempty"`
	Name       string         `json:"name"`
	Pattern    string         `json:"pattern"`
	ApplyTo    string         `json:"apply-to"`
	Definition map[string]any `json:"definition"`
	Priority   any            `json:"priority"` // a number; checked on import
}

// DefQueue is a queue; Arguments are JSON (ArgsToJSON).
type DefQueue struct {
	Name       string         `json:"name"`
	Vhost      string         `json:"vhost,omitempty"`
	Durable    bool           `json:"durable"`
	AutoDelete bool           `json:"auto_delete"`
	Arguments  map[string]any `json:"arguments"`
}

// DefExchange is an exchange.
type DefExchange struct {
	Name       string         `json:"name"`
	Vhost      string         `json:"vhost,omitempty"`
	Type       string         `json:"type"`
	Durable    bool           `json:"durable"`
	AutoDelete bool           `json:"auto_delete"`
	Internal   bool           `json:"internal"`
	Arguments  map[string]any `json:"arguments"`
}

// DefBinding is a binding.
type DefBinding struct {
	Source          string         `json:"source"`
	Vhost           string         `json:"vhost,omitempty"`
	Destination     string         `json:"destination"`
	DestinationType string         `json:"destination_type"`
	RoutingKey      string         `json:"routing_key"`
	Arguments       map[string]any `json:"arguments"`
}

// ArgsToJSON writes an AMQP field table (arguments, headers, client
// properties) as RabbitMQ 3.10's HTTP API and definitions show it; nil is
// {}. The one renderer of field values to JSON (the management API calls
// it too). See ValueToJSON.
func ArgsToJSON(t map[string]any) map[string]any {
	out := make(map[string]any, len(t))
	for k, v := range t {
		out[k] = ValueToJSON(v)
	}
	return out
}

// ValueToJSON writes one field value as RabbitMQ 3.10 does
// (rabbit_mgmt_format; conformance/api TestFieldValuesRendered checks it
// against RabbitMQ): integers and floats as numbers; a long string or
// byte array that is UTF-8 as a string, else "Not UTF-8, base64 is: "
// and its base64; a timestamp as Unix seconds; a decimal as its scale, a
// dot and its value read unsigned (rabbitmq: {2, 12345} is 2.12345, {1,
// -5} is 1.4294967291 — its rendering, not the decimal's value); tables
// and arrays nested.
func ValueToJSON(v any) any {
	switch x := v.(type) {
	case string:
		return utf8OrBase64(x)
	case []byte:
		return utf8OrBase64(string(x))
	case time.Time:
		return x.Unix()
	case amqp.Table:
		return ArgsToJSON(x)
	case map[string]any:
		return ArgsToJSON(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = ValueToJSON(e)
		}
		return out
	case amqp.Decimal:
		return json.Number(strconv.Itoa(int(x.Scale)) + "." + strconv.FormatUint(uint64(uint32(x.Value)), 10))
	case float32:
		return float64(x)
	}
	return v
}

// utf8OrBase64 is s, or RabbitMQ's rendering of bytes that are not UTF-8.
func utf8OrBase64(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return "Not UTF-8, base64 is: " + base64.StdEncoding.EncodeToString([]byte(s))
}

// ArgsFromJSON reads arguments decoded from JSON (with
// json.Decoder.UseNumber, or float64 numbers) into AMQP field values as
// RabbitMQ does: whole numbers as long integers, others as doubles,
// objects as tables, lists as arrays.
func ArgsFromJSON(m map[string]any) (map[string]any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		fv, err := valueFromJSON(v)
		if err != nil {
			return nil, fmt.Errorf("argument '%s': %w", k, err)
		}
		out[k] = fv
	}
	return out, nil
}

func valueFromJSON(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("bad number %s", x)
		}
		return f, nil
	case float64:
		if n, ok := jsonInt(x); ok {
			return n, nil
		}
		return x, nil
	case map[string]any:
		t, err := ArgsFromJSON(x)
		if t == nil {
			t = map[string]any{}
		}
		return amqp.Table(t), err
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			fe, err := valueFromJSON(e)
			if err != nil {
				return nil, err
			}
			out[i] = fe
		}
		return out, nil
	case string, bool, nil, int, int64, int32:
		return x, nil
	}
	return nil, fmt.Errorf("unsupported value %v", v)
}

// NormalizeJSON turns json.Number values (from a UseNumber decoder) into
// float64, as plain decoding gives, for parameters and policies: the
// form the core keeps JSON values in.
func NormalizeJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = NormalizeJSON(e)
		}
	case []any:
		for i, e := range x {
			x[i] = NormalizeJSON(e)
		}
	}
	return v
}

// Export returns the whole broker's definitions: product fields, users,
// vhosts, permissions, parameters, policies, and every exchange, queue
// and binding but the standard exchanges (the default and amq.*), the
// exclusive queues and what belongs to them, as RabbitMQ exports them.
// productVersion is Warren's version.
func (b *Broker) Export(productVersion string) *Definitions {
	d := &Definitions{RabbitVersion: CompatVersion, RabbitMQVersion: CompatVersion, ProductName: "Warren", ProductVersion: productVersion,
		Users: []DefUser{}, Vhosts: []DefVhost{}, GlobalParameters: []DefGlobalParam{}}
	for _, u := range b.Users() {
		r := UserRecord(u)
		d.Users = append(d.Users, DefUser{Name: r.Name, PasswordHash: r.PasswordHash, HashingAlgorithm: r.HashingAlgorithm, Tags: r.Tags, Limits: r.Limits})
	}
	d.Permissions = b.Permissions()
	d.TopicPermissions = b.TopicPermissions()
	g := b.GlobalParameters()
	for _, name := range slices.Sorted(mapsKeys(g)) {
		d.GlobalParameters = append(d.GlobalParameters, DefGlobalParam{Name: name, Value: g[name]})
	}
	vs := b.Vhosts()
	slices.SortFunc(vs, func(a, b *Vhost) int { return strings.Compare(a.name, b.name) })
	var all VhostDefinitions
	for _, v := range vs {
		m := v.Meta()
		dv := DefVhost{Name: v.name}
		if m.Description != "" || len(m.Tags) > 0 || m.DefaultQueueType != "" {
			dv.Description, dv.Tags, dv.DefaultQueueType = m.Description, m.Tags, m.DefaultQueueType
			dv.Metadata = &DefVhostMeta{Description: m.Description, Tags: m.Tags, DefaultQueueType: m.DefaultQueueType}
		}
		d.Vhosts = append(d.Vhosts, dv)
		v.appendDefinitions(&all, true)
	}
	d.Parameters, d.Policies, d.Queues, d.Exchanges, d.Bindings = all.Parameters, all.Policies, all.Queues, all.Exchanges, all.Bindings
	for _, s := range []*[]Permission{&d.Permissions} {
		if *s == nil {
			*s = []Permission{}
		}
	}
	if d.TopicPermissions == nil {
		d.TopicPermissions = []TopicPermission{}
	}
	fillEmpty(&d.Parameters, &d.Policies, &d.Queues, &d.Exchanges, &d.Bindings)
	return d
}

// Export returns the vhost's definitions, as RabbitMQ's
// GET /api/definitions/{vhost}.
func (v *Vhost) Export() *VhostDefinitions {
	d := &VhostDefinitions{RabbitVersion: CompatVersion}
	v.appendDefinitions(d, false)
	fillEmpty(&d.Parameters, &d.Policies, &d.Queues, &d.Exchanges, &d.Bindings)
	return d
}

func fillEmpty(ps *[]DefParameter, pol *[]DefPolicy, qs *[]DefQueue, xs *[]DefExchange, bs *[]DefBinding) {
	if *ps == nil {
		*ps = []DefParameter{}
	}
	if *pol == nil {
		*pol = []DefPolicy{}
	}
	if *qs == nil {
		*qs = []DefQueue{}
	}
	if *xs == nil {
		*xs = []DefExchange{}
	}
	if *bs == nil {
		*bs = []DefBinding{}
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// appendDefinitions appends the vhost's parameters (its operator policies
// among them, as RabbitMQ 3.10 exports them), policies, exchanges, queues
// and bindings to d; withVhost names the vhost in each.
func (v *Vhost) appendDefinitions(d *VhostDefinitions, withVhost bool) {
	vh := ""
	if withVhost {
		vh = v.name
	}
	for _, p := range v.Parameters() {
		d.Parameters = append(d.Parameters, DefParameter{Value: p.Value, Vhost: v.name, Component: p.Component, Name: p.Name})
	}
	for _, p := range v.Policies(true) {
		d.Parameters = append(d.Parameters, DefParameter{Vhost: v.name, Component: defOpPolicy, Name: p.Name,
			Value: map[string]any{"pattern": p.Pattern, "definition": p.Definition, "priority": p.Priority, "apply-to": p.ApplyTo}})
	}
	for _, p := range v.Policies(false) {
		d.Policies = append(d.Policies, DefPolicy{Vhost: v.name, Name: p.Name, Pattern: p.Pattern, ApplyTo: p.ApplyTo, Definition: p.Definition, Priority: p.Priority})
	}
	exclusive := map[string]bool{}
	for _, q := range v.queuesSorted() {
		if q.Exclusive {
			exclusive[q.Name] = true
			continue
		}
		d.Queues = append(d.Queues, DefQueue{Name: q.Name, Vhost: vh, Durable: q.Durable, AutoDelete: q.AutoDelete, Arguments: ArgsToJSON(q.Args)})
	}
	for _, x := range v.exchangesSorted() {
		if x.Name == "" || ReservedName(x.Name) {
			continue
		}
		d.Exchanges = append(d.Exchanges, DefExchange{Name: x.Name, Vhost: vh, Type: x.Kind.String(), Durable: x.Durable,
			AutoDelete: x.AutoDelete, Internal: x.Internal, Arguments: ArgsToJSON(x.Args)})
	}
	for _, b := range v.appendDeclaredBindings(nil) {
		if b.DestinationType == "queue" && exclusive[b.Destination] {
			continue
		}
		d.Bindings = append(d.Bindings, DefBinding{Source: b.Source, Vhost: vh, Destination: b.Destination,
			DestinationType: b.DestinationType, RoutingKey: b.Key, Arguments: ArgsToJSON(b.Args)})
	}
}

// MarshalIndent writes definitions as JSON, indented as RabbitMQ's
// export file.
func MarshalDefinitions(d any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
