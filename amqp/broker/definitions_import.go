package broker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/exchange"
)

// ImportError names the entry of a definitions file that was refused.
// It wraps ErrValidation (the HTTP API answers 400) and the cause.
type ImportError struct {
	Entry string // e.g. "queue 'orders' in vhost '/'"
	Err   error
}

func (e *ImportError) Error() string {
	var ve *ValidationError
	var ae *amqp.Error
	reason := e.Err.Error()
	switch {
	case errors.As(e.Err, &ve):
		reason = ve.Reason
	case errors.As(e.Err, &ae):
		reason = ae.Text
	}
	return "cannot import definitions: " + e.Entry + ": " + reason
}

func (e *ImportError) Unwrap() []error { return []error{ErrValidation, e.Err} }

// step is one command of an import, with the entry it comes from.
type step struct {
	vhost string
	cmd   Command
	entry string
}

// Import applies a definitions file in RabbitMQ's JSON format, all or
// nothing: every entry is checked first (against the broker and the rest
// of the file) and the first bad one is reported as an *ImportError
// naming it, with nothing applied. Then the entries are applied as
// commands, in order: vhosts, users, permissions and global parameters,
// parameters and policies, exchanges, queues, bindings; the commands of
// one kind run side by side, so their store writes share syncs. Only a
// store failure can stop it part way, and the error says so.
//
// With vhost set, the file is a vhost's export (GET
// /api/definitions/{vhost}): its entries go to that vhost whatever they
// name, and users, vhosts and permissions are ignored.
func (b *Broker) Import(raw []byte, vhost string) error {
	return b.importWith(raw, vhost, b.Apply)
}

// importWith is Import applying each command with apply (Apply, or
// ApplyLocal for a cluster's snapshot: restore.go).
func (b *Broker) importWith(raw []byte, vhost string, apply func(string, Command) (Result, error)) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var f Definitions // a whole broker's or a vhost's; unknown keys are ignored, as RabbitMQ ignores them
	if err := dec.Decode(&f); err != nil {
		return &ImportError{Entry: "the file", Err: invalid("not valid definitions JSON: %v", err)}
	}
	phases, err := b.planImport(&f, vhost)
	if err != nil {
		return err
	}
	for _, ph := range phases {
		if err := applySteps(ph, apply); err != nil {
			return err
		}
	}
	return nil
}

// applyPhase applies independent commands side by side with Apply.
func (b *Broker) applyPhase(steps []step) error { return applySteps(steps, b.Apply) }

// applySteps applies independent commands side by side (64 at a time).
func applySteps(steps []step, apply func(string, Command) (Result, error)) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, 64)
	for _, s := range steps {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if _, err := apply(s.vhost, s.cmd); err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("definitions applied in part: %s: %w", s.entry, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// importPlan collects the commands of an import by phase, and what the
// file adds, for checking the later entries against.
type importPlan struct {
	b      *Broker
	vhosts map[string]*Vhost // existing ones, and scratch ones for the file's new vhosts
	users  map[string]bool
	// exchanges and queues the file declares, by vhost and name
	exchanges map[[2]string]exchange.Kind
	queues    map[[2]string]bool
	phases    [7][]step
}

func (b *Broker) planImport(f *Definitions, into string) ([][]step, error) {
	p := &importPlan{b: b, vhosts: map[string]*Vhost{}, users: map[string]bool{},
		exchanges: map[[2]string]exchange.Kind{}, queues: map[[2]string]bool{}}
	for _, v := range b.Vhosts() {
		p.vhosts[v.name] = v
	}
	for _, u := range b.Users() {
		p.users[u.Name] = true
	}
	if into != "" {
		if p.vhosts[into] == nil {
			return nil, ErrNoVhost(into)
		}
		f.Users, f.Vhosts, f.Permissions, f.TopicPermissions, f.GlobalParameters = nil, nil, nil, nil, nil
	}
	vh := func(name string) string {
		if into != "" {
			return into
		}
		return name
	}
	for _, d := range f.Vhosts {
		entry := fmt.Sprintf("vhost '%s'", d.Name)
		if d.Name == "" {
			return nil, &ImportError{entry, invalid("a vhost needs a name")}
		}
		m := VhostMeta{Description: d.Description, Tags: d.Tags, DefaultQueueType: d.DefaultQueueType}
		if d.Metadata != nil {
			m = VhostMeta{Description: d.Metadata.Description, Tags: d.Metadata.Tags, DefaultQueueType: d.Metadata.DefaultQueueType}
		}
		if p.vhosts[d.Name] == nil {
			p.vhosts[d.Name] = newVhost(b, d.Name) // scratch, for checking only
		}
		p.add(0, step{"", AddVhost{Name: d.Name, Meta: m}, entry})
	}
	for _, d := range f.Users {
		entry := fmt.Sprintf("user '%s'", d.Name)
		u := User{Name: d.Name, PasswordHash: d.PasswordHash, HashingAlgorithm: d.HashingAlgorithm, Tags: d.Tags, Limits: d.Limits}
		if u.Name == "" {
			return nil, &ImportError{entry, invalid("a user needs a name")}
		}
		if u.HashingAlgorithm == "" {
			u.HashingAlgorithm = HashSHA256
		}
		if err := checkHash(u.HashingAlgorithm, u.PasswordHash); err != nil {
			return nil, &ImportError{entry, invalid("%v", err)}
		}
		if u.Limits != nil {
			u.Limits = NormalizeJSON(u.Limits).(map[string]any)
		}
		p.users[u.Name] = true
		p.add(1, step{"", PutUser{User: u}, entry})
	}
	for _, d := range f.Permissions {
		entry := fmt.Sprintf("permissions of user '%s' in vhost '%s'", d.User, d.Vhost)
		if err := p.checkVhostUser(d.Vhost, d.User); err != nil {
			return nil, &ImportError{entry, err}
		}
		if _, err := compilePerm(d); err != nil {
			return nil, &ImportError{entry, err}
		}
		p.add(2, step{"", SetPermissions{Permission: d}, entry})
	}
	for _, d := range f.TopicPermissions {
		entry := fmt.Sprintf("topic permissions of user '%s' on exchange '%s' in vhost '%s'", d.User, d.Exchange, d.Vhost)
		if err := p.checkVhostUser(d.Vhost, d.User); err != nil {
			return nil, &ImportError{entry, err}
		}
		_, err1 := compilePattern("write", d.Write)
		_, err2 := compilePattern("read", d.Read)
		if err := errors.Join(err1, err2); err != nil {
			return nil, &ImportError{entry, err}
		}
		if d.Exchange == "" {
			return nil, &ImportError{entry, invalid("topic permissions need an exchange")}
		}
		p.add(2, step{"", SetTopicPermissions{Permission: d}, entry})
	}
	for _, d := range f.GlobalParameters {
		entry := fmt.Sprintf("global parameter '%s'", d.Name)
		if d.Name == "" {
			return nil, &ImportError{entry, invalid("a global parameter needs a name")}
		}
		p.add(2, step{"", SetGlobalParameter{Name: d.Name, Value: NormalizeJSON(d.Value)}, entry})
	}
	for _, d := range f.Parameters {
		v := vh(d.Vhost)
		entry := fmt.Sprintf("parameter '%s' of component '%s' in vhost '%s'", d.Name, d.Component, v)
		if p.vhosts[v] == nil {
			return nil, &ImportError{entry, ErrNoVhost(v)}
		}
		value := NormalizeJSON(d.Value)
		switch d.Component {
		case defOpPolicy, defPolicy:
			m, _ := value.(map[string]any)
			pol, err := policyFromJSON(DefPolicy{Name: d.Name, Pattern: str(m["pattern"]), ApplyTo: str(m["apply-to"]),
				Definition: asMap(m["definition"]), Priority: m["priority"]}, d.Component == defOpPolicy)
			if err != nil {
				return nil, &ImportError{entry, err}
			}
			p.add(3, step{v, SetPolicy{Policy: pol}, entry})
			continue
		case limitsComponent:
			if _, err := parseLimits(value); err != nil {
				return nil, &ImportError{entry, err}
			}
		}
		if d.Component == "" || d.Name == "" {
			return nil, &ImportError{entry, invalid("a parameter needs a component and a name")}
		}
		p.add(3, step{v, SetParameter{Component: d.Component, Name: d.Name, Value: value}, entry})
	}
	for _, d := range f.Policies {
		v := vh(d.Vhost)
		entry := fmt.Sprintf("policy '%s' in vhost '%s'", d.Name, v)
		if p.vhosts[v] == nil {
			return nil, &ImportError{entry, ErrNoVhost(v)}
		}
		d.Definition = asMap(NormalizeJSON(d.Definition))
		pol, err := policyFromJSON(d, false)
		if err != nil {
			return nil, &ImportError{entry, err}
		}
		p.add(3, step{v, SetPolicy{Policy: pol}, entry})
	}
	for _, d := range f.Exchanges {
		if err := p.planExchange(vh(d.Vhost), d); err != nil {
			return nil, err
		}
	}
	for _, d := range f.Queues {
		if err := p.planQueue(vh(d.Vhost), d); err != nil {
			return nil, err
		}
	}
	for _, d := range f.Bindings {
		if err := p.planBinding(vh(d.Vhost), d); err != nil {
			return nil, err
		}
	}
	return p.phases[:], nil
}

func (p *importPlan) add(phase int, s step) { p.phases[phase] = append(p.phases[phase], s) }

func (p *importPlan) checkVhostUser(vhost, user string) error {
	if p.vhosts[vhost] == nil {
		return ErrNoVhost(vhost)
	}
	if !p.users[user] {
		return ErrNoUser(user)
	}
	return nil
}

func str(v any) string { s, _ := v.(string); return s }

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

// policyFromJSON checks a policy of a definitions file.
func policyFromJSON(d DefPolicy, operator bool) (Policy, error) {
	prio, err := ParsePriority(NormalizeJSON(d.Priority))
	if err != nil {
		return Policy{}, err
	}
	pol := Policy{Name: d.Name, Pattern: d.Pattern, ApplyTo: d.ApplyTo, Priority: prio, Definition: d.Definition, Operator: operator}
	if _, err := validatePolicy(pol); err != nil {
		return Policy{}, err
	}
	return pol, nil
}

func (p *importPlan) planExchange(vhost string, d DefExchange) error {
	entry := fmt.Sprintf("exchange '%s' in vhost '%s'", d.Name, vhost)
	v := p.vhosts[vhost]
	if v == nil {
		return &ImportError{entry, ErrNoVhost(vhost)}
	}
	kind, err := exchange.ParseKind(d.Type)
	if err != nil {
		return &ImportError{entry, amqp.Errorf(amqp.CommandInvalid, "unknown exchange type '%s'", d.Type)}
	}
	args, err := ArgsFromJSON(d.Arguments)
	if err != nil {
		return &ImportError{entry, invalid("%v", err)}
	}
	if d.Name == "" {
		return &ImportError{entry, amqp.Errorf(amqp.AccessRefused, "operation not permitted on the default exchange")}
	}
	if x := v.Exchange(d.Name); x != nil {
		if ReservedName(d.Name) {
			return nil // a standard exchange: there already
		}
		if x.Kind != kind || x.Durable != d.Durable || x.AutoDelete != d.AutoDelete || x.Internal != d.Internal {
			return &ImportError{entry, amqp.Errorf(amqp.PreconditionFailed, "an exchange '%s' with other properties exists in vhost '%s'", d.Name, vhost)}
		}
		if arg, ok := argsEquivalent(equivalentExchangeArgs, args, x.Args); !ok {
			return &ImportError{entry, inequivalent("exchange", d.Name, vhost, arg, args[arg], x.Args[arg])}
		}
	} else {
		if ReservedName(d.Name) {
			return &ImportError{entry, amqp.Errorf(amqp.AccessRefused, "exchange name '%s' contains reserved prefix 'amq.*'", d.Name)}
		}
		if err := v.checkNewExchangeArgs(d.Name, kind, args); err != nil {
			return &ImportError{entry, err}
		}
	}
	p.exchanges[[2]string{vhost, d.Name}] = kind
	p.add(4, step{vhost, DeclareExchange{Name: d.Name, Kind: kind, Durable: d.Durable, AutoDelete: d.AutoDelete, Internal: d.Internal, Args: args}, entry})
	return nil
}

// vhostArgs is the entry's vhost (an existing one or one the file adds)
// and its arguments as field values, or the entry's *ImportError.
func (p *importPlan) vhostArgs(entry, vhost string, args map[string]any) (*Vhost, map[string]any, error) {
	v := p.vhosts[vhost]
	if v == nil {
		return nil, nil, &ImportError{entry, ErrNoVhost(vhost)}
	}
	a, err := ArgsFromJSON(args)
	if err != nil {
		return nil, nil, &ImportError{entry, invalid("%v", err)}
	}
	return v, a, nil
}

func (p *importPlan) planQueue(vhost string, d DefQueue) error {
	entry := fmt.Sprintf("queue '%s' in vhost '%s'", d.Name, vhost)
	v, args, err := p.vhostArgs(entry, vhost, d.Arguments)
	if err != nil {
		return err
	}
	if d.Name == "" {
		return &ImportError{entry, invalid("a queue needs a name")}
	}
	c := DeclareQueue{Name: d.Name, Durable: d.Durable, AutoDelete: d.AutoDelete, Args: args}
	if err := v.checkNewQueue(c); err != nil {
		return &ImportError{entry, err}
	}
	if q := v.Queue(d.Name); q != nil {
		switch {
		case q.Exclusive:
			return &ImportError{entry, ErrLocked(d.Name, vhost)}
		case q.Durable != d.Durable:
			return &ImportError{entry, inequivalentFlag("queue", d.Name, vhost, "durable", d.Durable, q.Durable)}
		case q.AutoDelete != d.AutoDelete:
			return &ImportError{entry, inequivalentFlag("queue", d.Name, vhost, "auto_delete", d.AutoDelete, q.AutoDelete)}
		}
		if arg, ok := argsEquivalent(equivalentQueueArgs, args, q.Args); !ok {
			return &ImportError{entry, inequivalent("queue", d.Name, vhost, arg, args[arg], q.Args[arg])}
		}
	}
	p.queues[[2]string{vhost, d.Name}] = true
	p.add(5, step{vhost, c, entry})
	return nil
}

func (p *importPlan) planBinding(vhost string, d DefBinding) error {
	entry := fmt.Sprintf("binding from exchange '%s' to %s '%s' with key '%s' in vhost '%s'", d.Source, d.DestinationType, d.Destination, d.RoutingKey, vhost)
	v, args, err := p.vhostArgs(entry, vhost, d.Arguments)
	if err != nil {
		return err
	}
	if d.Source == "" {
		return &ImportError{entry, amqp.Errorf(amqp.AccessRefused, "operation not permitted on the default exchange")}
	}
	kind, ok := p.exchanges[[2]string{vhost, d.Source}]
	if !ok {
		x := v.Exchange(d.Source)
		if x == nil {
			return &ImportError{entry, v.ErrNoExchange(d.Source)}
		}
		kind = x.Kind
	}
	dest := exchange.Destination{Name: d.Destination}
	switch d.DestinationType {
	case "queue":
		if !p.queues[[2]string{vhost, d.Destination}] && v.Queue(d.Destination) == nil {
			return &ImportError{entry, v.ErrNoQueue(d.Destination)}
		}
	case "exchange":
		dest.Exchange = true
		if _, ok := p.exchanges[[2]string{vhost, d.Destination}]; !ok && v.Exchange(d.Destination) == nil || d.Destination == "" {
			return &ImportError{entry, v.ErrNoExchange(d.Destination)}
		}
	default:
		return &ImportError{entry, invalid("destination_type '%s' unrecognised; should be 'queue' or 'exchange'", d.DestinationType)}
	}
	b := exchange.Binding{Source: d.Source, Destination: dest, Key: d.RoutingKey, Args: args}
	scratch := &exchange.Exchange{Name: d.Source, Kind: kind}
	if err := scratch.ValidateBinding(b); err != nil {
		return &ImportError{entry, amqp.Errorf(amqp.PreconditionFailed, "%v", err)}
	}
	p.add(6, step{vhost, Bind{Source: d.Source, Destination: dest, Key: d.RoutingKey, Args: args}, entry})
	return nil
}
