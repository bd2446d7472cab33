package broker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/exchange"
)

// RestoreDefinitions makes this node's definitions those of raw, a whole
// broker's export (Export, MarshalDefinitions): what raw lacks, or holds
// with other properties, is deleted first, then raw is imported; all on
// this node only (ApplyLocal). It is how a cluster node installs a Raft
// snapshot. Exclusive queues, which no export holds, are left alone; a
// queue that is in raw as it is here keeps its messages.
func (b *Broker) RestoreDefinitions(raw []byte) error {
	want, err := parseDefinitions(raw)
	if err != nil {
		return err
	}
	here, err := MarshalDefinitions(b.Export(""))
	if err != nil {
		return err
	}
	have, err := parseDefinitions(here)
	if err != nil {
		return err
	}
	for _, s := range staleSteps(have, want) {
		if _, err := b.ApplyLocal(s.vhost, s.cmd); err != nil {
			var ae *amqp.Error
			if errors.As(err, &ae) && ae.Code == amqp.NotFound {
				continue // gone with its vhost or user
			}
			return fmt.Errorf("restoring definitions: %s: %w", s.entry, err)
		}
	}
	return b.importWith(raw, "", b.ApplyLocal)
}

func parseDefinitions(raw []byte) (*Definitions, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var d Definitions
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("definitions: %w", err)
	}
	return &d, nil
}

// canon is a definition's identity for comparison: its JSON, both sides
// having been through the same encoding and decoding.
func canon(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func keySet[T any](xs []T, key func(T) string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[key(x)] = true
	}
	return m
}

// staleSteps are the commands that delete what have holds and want does
// not (or holds differently): bindings, queues, exchanges, policies and
// parameters, permissions, users, vhosts, in that order.
func staleSteps(have, want *Definitions) []step {
	var out []step
	vhosts := keySet(want.Vhosts, func(v DefVhost) string { return v.Name })
	bindings := keySet(want.Bindings, func(d DefBinding) string { return canon(d) })
	for _, d := range have.Bindings {
		if vhosts[d.Vhost] && !bindings[canon(d)] {
			args, _ := ArgsFromJSON(d.Arguments)
			dest := exchange.Destination{Exchange: d.DestinationType == "exchange", Name: d.Destination}
			out = append(out, step{d.Vhost, Unbind{Source: d.Source, Destination: dest, Key: d.RoutingKey, Args: args}, "binding " + canon(d)})
		}
	}
	queues := keySet(want.Queues, func(d DefQueue) string { return canon(d) })
	for _, d := range have.Queues {
		if vhosts[d.Vhost] && !queues[canon(d)] {
			out = append(out, step{d.Vhost, DeleteQueue{Name: d.Name}, "queue " + d.Name})
		}
	}
	xs := keySet(want.Exchanges, func(d DefExchange) string { return canon(d) })
	for _, d := range have.Exchanges {
		if vhosts[d.Vhost] && !xs[canon(d)] {
			out = append(out, step{d.Vhost, DeleteExchange{Name: d.Name}, "exchange " + d.Name})
		}
	}
	policies := keySet(want.Policies, func(d DefPolicy) string { return d.Vhost + "\x00" + d.Name })
	for _, d := range have.Policies {
		if vhosts[d.Vhost] && !policies[d.Vhost+"\x00"+d.Name] {
			out = append(out, step{d.Vhost, ClearPolicy{Name: d.Name}, "policy " + d.Name})
		}
	}
	params := keySet(want.Parameters, func(d DefParameter) string { return defKey(d.Vhost, d.Component, d.Name) })
	for _, d := range have.Parameters {
		if !vhosts[d.Vhost] || params[defKey(d.Vhost, d.Component, d.Name)] {
			continue
		}
		var cmd Command = ClearParameter{Component: d.Component, Name: d.Name}
		if d.Component == defOpPolicy {
			cmd = ClearPolicy{Name: d.Name, Operator: true}
		}
		out = append(out, step{d.Vhost, cmd, "parameter " + d.Name})
	}
	globals := keySet(want.GlobalParameters, func(d DefGlobalParam) string { return d.Name })
	for _, d := range have.GlobalParameters {
		if !globals[d.Name] {
			out = append(out, step{"", ClearGlobalParameter{Name: d.Name}, "global parameter " + d.Name})
		}
	}
	perms := keySet(want.Permissions, func(p Permission) string { return p.Vhost + "\x00" + p.User })
	for _, p := range have.Permissions {
		if !perms[p.Vhost+"\x00"+p.User] {
			out = append(out, step{p.Vhost, ClearPermissions{Vhost: p.Vhost, User: p.User}, "permission " + p.User})
		}
	}
	tperms := keySet(want.TopicPermissions, func(p TopicPermission) string { return defKey(p.Vhost, p.User, p.Exchange) })
	for _, p := range have.TopicPermissions {
		if !tperms[defKey(p.Vhost, p.User, p.Exchange)] {
			out = append(out, step{p.Vhost, ClearTopicPermissions{Vhost: p.Vhost, User: p.User, Exchange: p.Exchange}, "topic permission " + p.User})
		}
	}
	users := keySet(want.Users, func(u DefUser) string { return u.Name })
	for _, u := range have.Users {
		if !users[u.Name] {
			out = append(out, step{"", DeleteUser{Name: u.Name}, "user " + u.Name})
		}
	}
	for _, v := range have.Vhosts {
		if !vhosts[v.Name] {
			out = append(out, step{"", DeleteVhost{Name: v.Name}, "vhost " + v.Name})
		}
	}
	return out
}
