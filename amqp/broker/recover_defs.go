package broker

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/warrenmq/warren/amqp"
)

// recoverDefinitions replays the stored vhosts, users, permissions,
// parameters and policies as the commands that made them, before the
// exchanges and queues (so that policies apply to those as they are
// declared). Recover calls it with b.replaying set.
func (b *Broker) recoverDefinitions(r *Recovered) error {
	st := b.store
	steps := []struct {
		kind  string
		apply func(raw []byte) error
	}{
		{defVhost, func(raw []byte) error {
			var d vhostJSON
			if err := json.Unmarshal(raw, &d); err != nil {
				return err
			}
			_, err := b.Apply("", AddVhost{Name: d.Name, Meta: VhostMeta{Description: d.Description, Tags: d.Tags, DefaultQueueType: d.DefaultQueueType}})
			return err
		}},
		{defUser, func(raw []byte) error {
			var d UserJSON
			if err := json.Unmarshal(raw, &d); err != nil {
				return err
			}
			r.Users++
			_, err := b.Apply("", PutUser{User: User{Name: d.Name, PasswordHash: d.PasswordHash, HashingAlgorithm: d.HashingAlgorithm, Tags: d.Tags, Limits: d.Limits}})
			return err
		}},
		{defPermission, func(raw []byte) error {
			var p Permission
			if err := json.Unmarshal(raw, &p); err != nil {
				return err
			}
			return b.skipGone(b.Apply("", SetPermissions{Permission: p}))
		}},
		{defTopicPerm, func(raw []byte) error {
			var p TopicPermission
			if err := json.Unmarshal(raw, &p); err != nil {
				return err
			}
			return b.skipGone(b.Apply("", SetTopicPermissions{Permission: p}))
		}},
		{defGlobalParam, func(raw []byte) error {
			var p globalParam
			if err := json.Unmarshal(raw, &p); err != nil {
				return err
			}
			_, err := b.Apply("", SetGlobalParameter{Name: p.Name, Value: p.Value})
			return err
		}},
		{defParameter, func(raw []byte) error {
			var p parameterJSON
			if err := json.Unmarshal(raw, &p); err != nil {
				return err
			}
			return b.skipGone(b.Apply(p.Vhost, SetParameter{Component: p.Component, Name: p.Name, Value: p.Value}))
		}},
		{defPolicy, b.recoverPolicy(false, r)},
		{defOpPolicy, b.recoverPolicy(true, r)},
		{defMeta, func(raw []byte) error {
			b.bd.seeded = true
			return nil
		}},
	}
	for _, s := range steps {
		err := st.Definitions(s.kind, func(key string, raw []byte) error {
			if err := s.apply(raw); err != nil {
				return fmt.Errorf("%s %q: %w", s.kind, key, err)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("recover %ss: %w", s.kind, err)
		}
	}
	return nil
}

func (b *Broker) recoverPolicy(operator bool, r *Recovered) func(raw []byte) error {
	return func(raw []byte) error {
		var p PolicyJSON
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		r.Policies++
		return b.skipGone(b.Apply(p.Vhost, SetPolicy{Policy: Policy{Name: p.Name, Pattern: p.Pattern, ApplyTo: p.ApplyTo,
			Priority: p.Priority, Definition: p.Definition, Operator: operator}}))
	}
}

// skipGone ignores a definition whose vhost or user is no longer there
// (the store keeps what an unconfigured vhost had).
func (b *Broker) skipGone(_ Result, err error) error {
	var ae *amqp.Error
	if errors.As(err, &ae) && ae.Code == amqp.NotFound {
		return nil
	}
	return err
}

// SeedUsers creates users with their permissions through PutUser and
// SetPermissions, and records the broker's vhosts, the first time the
// broker starts over its store (rabbitmq: default_user and
// default_permissions apply to a fresh node only); after that the stored
// users rule and SeedUsers does nothing. It reports whether it seeded.
// Without a store it always seeds. Call it after Recover. It applies on
// this node only (ApplyLocal): in a cluster each node seeds the same
// configured users at its first start.
func (b *Broker) SeedUsers(users []User, perms []Permission) (bool, error) {
	b.bd.mu.RLock()
	seeded := b.bd.seeded
	b.bd.mu.RUnlock()
	if seeded {
		return false, nil
	}
	for _, v := range b.Vhosts() {
		if _, err := b.ApplyLocal("", AddVhost{Name: v.Name()}); err != nil {
			return false, err
		}
	}
	for _, u := range users {
		if _, err := b.ApplyLocal("", PutUser{User: u}); err != nil {
			return false, err
		}
	}
	for _, p := range perms {
		if _, err := b.ApplyLocal("", SetPermissions{Permission: p}); err != nil {
			return false, err
		}
	}
	d := b.defs()
	b.bd.mu.Lock()
	b.bd.seeded = true
	d.put(defMeta, "seeded", struct{}{})
	d.submit()
	b.bd.mu.Unlock()
	return true, d.wait()
}
