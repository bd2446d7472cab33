package broker

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/warrenmq/warren/amqp"
)

// A vhost's own definitions besides its exchanges, queues and bindings:
// runtime parameters (stored and exported; "vhost-limits" is the one
// Warren gives a meaning, as RabbitMQ keeps its vhost limits), limits and
// policies (policy.go). They live under Vhost.mu.

// SetParameter sets a runtime parameter of the vhost. Component
// "vhost-limits", name "limits", sets the vhost's limits (value: an
// object of max-connections and max-queues, negative for none);
// other components are stored and exported only.
type SetParameter struct {
	Component, Name string
	Value           any // JSON
}

// ClearParameter removes a runtime parameter.
type ClearParameter struct{ Component, Name string }

// SetVhostLimit sets one of the vhost's limits ("max-connections",
// "max-queues"), keeping the other; negative means none.
type SetVhostLimit struct {
	Name  string
	Value int64
}

// ClearVhostLimit removes one of the vhost's limits.
type ClearVhostLimit struct{ Name string }

func (SetParameter) command()    {}
func (ClearParameter) command()  {}
func (SetVhostLimit) command()   {}
func (ClearVhostLimit) command() {}

// Parameter is a runtime parameter of a vhost.
type Parameter struct {
	Vhost, Component, Name string
	Value                  any // shared: read only
}

const (
	defParameter = "parameter"
	// the component and name RabbitMQ keeps vhost limits under
	limitsComponent = "vhost-limits"
	limitsName      = "limits"
)

type parameterJSON struct {
	Vhost     string `json:"vhost"`
	Component string `json:"component"`
	Name      string `json:"name"`
	Value     any    `json:"value"`
}

// vhostLimits are a vhost's limits; -1: none.
type vhostLimits struct{ maxConnections, maxQueues int64 }

var limitNames = []string{"max-connections", "max-queues"}

// parseLimits validates a vhost-limits value as RabbitMQ does.
func parseLimits(value any) (vhostLimits, error) {
	l := vhostLimits{-1, -1}
	m, ok := value.(map[string]any)
	if !ok {
		return l, invalid("limits should be an object, actually was %s", erlTerm(value))
	}
	var unknown []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(limitNames, k) {
			unknown = append(unknown, "{"+erlTerm(k)+","+erlTerm(m[k])+"}")
		}
	}
	if len(unknown) > 0 {
		return l, invalid("Unrecognised terms [%s] in limits", strings.Join(unknown, ","))
	}
	for _, k := range limitNames {
		v, ok := m[k]
		if !ok {
			continue
		}
		n, ok := jsonInt(v)
		if !ok {
			return l, invalid("%s should be a number, actually was %s", k, erlTerm(v))
		}
		if n < 0 {
			n = -1
		}
		if k == "max-connections" {
			l.maxConnections = n
		} else {
			l.maxQueues = n
		}
	}
	return l, nil
}

func (v *Vhost) setParameter(c SetParameter) error {
	if c.Component == "" || c.Name == "" {
		return invalid("a parameter needs a component and a name")
	}
	if c.Component == defPolicy || c.Component == defOpPolicy {
		return invalid("component %s: set policies with SetPolicy", c.Component)
	}
	var lim vhostLimits
	if c.Component == limitsComponent {
		if c.Name != limitsName {
			return invalid("vhost-limits parameter must be called 'limits', not '%s'", c.Name)
		}
		var err error
		if lim, err = parseLimits(c.Value); err != nil {
			return err
		}
	}
	d := v.defs()
	v.mu.Lock()
	if c.Component == limitsComponent {
		v.mu.limits = lim
	}
	v.mu.params[[2]string{c.Component, c.Name}] = c.Value
	d.put(defParameter, defKey(v.name, c.Component, c.Name), parameterJSON{v.name, c.Component, c.Name, c.Value})
	d.submit()
	v.mu.Unlock()
	return d.wait()
}

func (v *Vhost) clearParameter(c ClearParameter) error {
	d := v.defs()
	v.mu.Lock()
	k := [2]string{c.Component, c.Name}
	if _, ok := v.mu.params[k]; !ok {
		v.mu.Unlock()
		return amqp.Errorf(amqp.NotFound, "no parameter '%s' of component '%s' in vhost '%s'", c.Name, c.Component, v.name)
	}
	delete(v.mu.params, k)
	if c.Component == limitsComponent {
		v.mu.limits = vhostLimits{-1, -1}
	}
	d.del(defParameter, defKey(v.name, c.Component, c.Name))
	d.submit()
	v.mu.Unlock()
	return d.wait()
}

// limitsValueLocked is the vhost-limits parameter's value, a new map.
func (v *Vhost) limitsValueLocked() map[string]any {
	m := map[string]any{}
	if cur, ok := v.mu.params[[2]string{limitsComponent, limitsName}].(map[string]any); ok {
		maps.Copy(m, cur)
	}
	return m
}

func (v *Vhost) setVhostLimit(c SetVhostLimit) error {
	if !slices.Contains(limitNames, c.Name) {
		return invalid("Unrecognised terms [{%s,%d}] in limits", erlTerm(c.Name), c.Value)
	}
	v.mu.RLock()
	m := v.limitsValueLocked()
	v.mu.RUnlock()
	m[c.Name] = float64(c.Value)
	return v.setParameter(SetParameter{Component: limitsComponent, Name: limitsName, Value: m})
}

func (v *Vhost) clearVhostLimit(c ClearVhostLimit) error {
	v.mu.RLock()
	m := v.limitsValueLocked()
	v.mu.RUnlock()
	delete(m, c.Name)
	if len(m) == 0 {
		err := v.clearParameter(ClearParameter{Component: limitsComponent, Name: limitsName})
		if e, ok := err.(*amqp.Error); ok && e.Code == amqp.NotFound {
			return nil
		}
		return err
	}
	return v.setParameter(SetParameter{Component: limitsComponent, Name: limitsName, Value: m})
}

// Parameters lists the vhost's runtime parameters, by component and name
// (vhost-limits among them, as RabbitMQ lists it).
func (v *Vhost) Parameters() []Parameter {
	v.mu.RLock()
	out := make([]Parameter, 0, len(v.mu.params))
	for k, val := range v.mu.params {
		out = append(out, Parameter{Vhost: v.name, Component: k[0], Name: k[1], Value: val})
	}
	v.mu.RUnlock()
	slices.SortFunc(out, func(a, b Parameter) int {
		return cmp.Or(cmp.Compare(a.Component, b.Component), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// Limits returns the vhost's limits that are set ("max-connections",
// "max-queues"), as RabbitMQ's /api/vhost-limits shows them.
func (v *Vhost) Limits() map[string]int64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := map[string]int64{}
	if v.mu.limits.maxConnections >= 0 {
		out["max-connections"] = v.mu.limits.maxConnections
	}
	if v.mu.limits.maxQueues >= 0 {
		out["max-queues"] = v.mu.limits.maxQueues
	}
	return out
}

// checkQueueLimitLocked refuses a new queue past max-queues (rabbitmq's
// text, a 406 on the channel). v.mu is held.
func (v *Vhost) checkQueueLimitLocked(name string) error {
	if max := v.mu.limits.maxQueues; max >= 0 && !v.b.replaying && int64(len(v.mu.queues)) >= max {
		return amqp.Errorf(amqp.PreconditionFailed, "cannot declare queue '%s': queue limit in vhost '%s' (%d) is reached", name, v.name, max)
	}
	return nil
}

// OpenConnection counts a connection opening the vhost as user, refusing
// it past max-connections with RabbitMQ's 530; CloseConnection uncounts
// it.
func (v *Vhost) OpenConnection(user string) error {
	v.mu.RLock()
	max := v.mu.limits.maxConnections
	v.mu.RUnlock()
	n := v.conns.Add(1)
	if max >= 0 && n > max {
		v.conns.Add(-1)
		return amqp.Errorf(amqp.NotAllowed, "access to vhost '%s' refused for user '%s': connection limit (%d) is reached", v.name, user, max)
	}
	return nil
}

// CloseConnection uncounts a connection counted by OpenConnection.
func (v *Vhost) CloseConnection() { v.conns.Add(-1) }

// ConnectionCount is how many connections have the vhost open.
func (v *Vhost) ConnectionCount() int64 { return v.conns.Load() }

// VhostMeta is a vhost's description, tags and default queue type (shown
// by the HTTP API and definitions).
type VhostMeta struct {
	Description      string
	Tags             []string
	DefaultQueueType string
}

// Meta returns the vhost's metadata.
func (v *Vhost) Meta() VhostMeta {
	v.mu.RLock()
	defer v.mu.RUnlock()
	m := v.mu.meta
	m.Tags = slices.Clone(m.Tags)
	return m
}

type vhostJSON struct {
	Name             string   `json:"name"`
	Description      string   `json:"description,omitempty"`
	Tags             []string `json:"tags,omitempty"`
	DefaultQueueType string   `json:"default_queue_type,omitempty"`
}
