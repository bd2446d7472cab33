package broker

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sync"

	"github.com/warrenmq/warren/amqp"
)

// Users, permissions, topic permissions and global parameters: the
// broker's definitions that belong to no vhost (policies, parameters and
// limits are the vhost's: vhost_defs.go). They are held in brokerDefs
// under its own lock, a leaf: nothing else is taken while it is held but
// the store's (Submit).

// User is an account. PasswordHash is in RabbitMQ's format for
// HashingAlgorithm (password.go); Tags gate the HTTP API (administrator,
// monitoring, management, policymaker, impersonator); Limits are
// RabbitMQ's user limits (max-connections, max-channels), kept and
// exported.
type User struct {
	Name             string
	PasswordHash     string
	HashingAlgorithm string // HashSHA256 when empty
	Tags             []string
	Limits           map[string]any
}

// HasTag reports whether u has tag.
func (u User) HasTag(tag string) bool { return slices.Contains(u.Tags, tag) }

// Permission is what a user may do in a vhost: configure, write and read
// regular expressions over resource names (rabbitmq: matched anywhere in
// the name; the empty expression matches nothing).
type Permission struct {
	Vhost     string `json:"vhost"`
	User      string `json:"user"`
	Configure string `json:"configure"`
	Write     string `json:"write"`
	Read      string `json:"read"`
}

// TopicPermission limits the routing keys a user may publish with (Write)
// and bind with to consume (Read) on one topic exchange of a vhost.
type TopicPermission struct {
	Vhost    string `json:"vhost"`
	User     string `json:"user"`
	Exchange string `json:"exchange"`
	Write    string `json:"write"`
	Read     string `json:"read"`
}

// PutUser creates a user or replaces one of that name.
type PutUser struct{ User User }

// DeleteUser deletes a user with its permissions.
type DeleteUser struct{ Name string }

// SetPermissions gives a user permissions in a vhost, replacing any.
type SetPermissions struct{ Permission Permission }

// ClearPermissions removes a user's permissions in a vhost.
type ClearPermissions struct{ Vhost, User string }

// SetTopicPermissions sets a user's topic permissions on one exchange.
type SetTopicPermissions struct{ Permission TopicPermission }

// ClearTopicPermissions removes a user's topic permissions in a vhost: on
// Exchange only, or on every exchange when it is empty.
type ClearTopicPermissions struct{ Vhost, User, Exchange string }

// SetGlobalParameter sets a global runtime parameter (stored and exported;
// Warren gives none a meaning).
type SetGlobalParameter struct {
	Name  string
	Value any // JSON: string, float64, bool, nil, []any, map[string]any
}

// ClearGlobalParameter removes a global parameter.
type ClearGlobalParameter struct{ Name string }

func (PutUser) command()               {}
func (DeleteUser) command()            {}
func (SetPermissions) command()        {}
func (ClearPermissions) command()      {}
func (SetTopicPermissions) command()   {}
func (ClearTopicPermissions) command() {}
func (SetGlobalParameter) command()    {}
func (ClearGlobalParameter) command()  {}

// ErrValidation is what a definition refused by validation wraps
// (*ValidationError): the HTTP API answers 400.
var ErrValidation = errors.New("validation failed")

// ValidationError is a definition refused as RabbitMQ refuses it; Error is
// RabbitMQ's reason text ("Validation failed\n\n<reason>\n").
type ValidationError struct{ Reason string }

func (e *ValidationError) Error() string { return "Validation failed\n\n" + e.Reason + "\n" }
func (e *ValidationError) Unwrap() error { return ErrValidation }

func invalid(format string, a ...any) error {
	return &ValidationError{Reason: fmt.Sprintf(format, a...)}
}

// ErrNoUser is the 404 for a user that does not exist.
func ErrNoUser(name string) *amqp.Error {
	return amqp.Errorf(amqp.NotFound, "no user '%s'", name)
}

// ErrNoVhost is the 404 for a vhost that does not exist.
func ErrNoVhost(name string) *amqp.Error {
	return amqp.Errorf(amqp.NotFound, "no vhost '%s'", name)
}

// Store kinds of the broker's own definitions.
const (
	defVhost       = "vhost"
	defUser        = "user"
	defPermission  = "permission"
	defTopicPerm   = "topic_permission"
	defGlobalParam = "global_parameter"
	defMeta        = "meta" // key "seeded": the configured users were created
)

// perm is a Permission with its expressions compiled.
type perm struct {
	Permission
	configure, write, read *regexp.Regexp // nil: the empty expression, matching nothing
}

type topicPerm struct {
	TopicPermission
	write, read *regexp.Regexp
}

type globalParam struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

// brokerDefs holds the definitions of no vhost. mu is a leaf lock.
type brokerDefs struct {
	mu     sync.RWMutex
	users  map[string]*User
	perms  map[[2]string]*perm      // vhost, user
	topic  map[[3]string]*topicPerm // vhost, user, exchange
	global map[string]any           // global parameters
	seeded bool                     // the configured users were created once
}

func (d *brokerDefs) init() {
	d.users = map[string]*User{}
	d.perms = map[[2]string]*perm{}
	d.topic = map[[3]string]*topicPerm{}
	d.global = map[string]any{}
}

// compilePattern compiles a permission expression; "" gives nil.
func compilePattern(field, expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, invalid("%s should be a regular expression but is invalid: %v", field, err)
	}
	return re, nil
}

func matchPattern(re *regexp.Regexp, name string) bool { return re != nil && re.MatchString(name) }

func (b *Broker) putUser(c PutUser) error {
	u := c.User
	if u.Name == "" {
		return invalid("user name must not be empty")
	}
	if u.HashingAlgorithm == "" {
		u.HashingAlgorithm = HashSHA256
	}
	if err := checkHash(u.HashingAlgorithm, u.PasswordHash); err != nil {
		return invalid("user '%s': %v", u.Name, err)
	}
	u.Tags = slices.Clone(u.Tags)
	if u.Tags == nil {
		u.Tags = []string{}
	}
	return b.changeBrokerDefs(func(d *defBatch) error {
		b.bd.users[u.Name] = &u
		d.put(defUser, u.Name, UserRecord(u))
		return nil
	})
}

func (b *Broker) deleteUser(c DeleteUser) error {
	return b.changeBrokerDefs(func(d *defBatch) error {
		if b.bd.users[c.Name] == nil {
			return ErrNoUser(c.Name)
		}
		delete(b.bd.users, c.Name)
		d.del(defUser, c.Name)
		for k := range b.bd.perms {
			if k[1] == c.Name {
				delete(b.bd.perms, k)
				d.del(defPermission, defKey(k[0], k[1]))
			}
		}
		for k := range b.bd.topic {
			if k[1] == c.Name {
				delete(b.bd.topic, k)
				d.del(defTopicPerm, defKey(k[0], k[1], k[2]))
			}
		}
		return nil
	})
}

// changeBrokerDefs runs change under bd.mu with a batch for the store,
// and submits what it put or deleted unless it fails; the wait for the
// store (group commit) is outside the lock.
func (b *Broker) changeBrokerDefs(change func(d *defBatch) error) error {
	d := b.defs()
	b.bd.mu.Lock()
	if err := change(d); err != nil {
		b.bd.mu.Unlock()
		return err
	}
	d.submit()
	b.bd.mu.Unlock()
	return d.wait()
}

// checkVhostUserLocked refuses a permission for a vhost or user that does
// not exist. bd.mu is held.
func (b *Broker) checkVhostUserLocked(vhost, user string) error {
	if b.Vhost(vhost) == nil {
		return ErrNoVhost(vhost)
	}
	if b.bd.users[user] == nil {
		return ErrNoUser(user)
	}
	return nil
}

func compilePerm(p Permission) (*perm, error) {
	cp := &perm{Permission: p}
	var err error
	if cp.configure, err = compilePattern("configure", p.Configure); err != nil {
		return nil, err
	}
	if cp.write, err = compilePattern("write", p.Write); err != nil {
		return nil, err
	}
	if cp.read, err = compilePattern("read", p.Read); err != nil {
		return nil, err
	}
	return cp, nil
}

func (b *Broker) setPermissions(c SetPermissions) error {
	p := c.Permission
	cp, err := compilePerm(p)
	if err != nil {
		return err
	}
	return b.changeBrokerDefs(func(d *defBatch) error {
		if err := b.checkVhostUserLocked(p.Vhost, p.User); err != nil {
			return err
		}
		b.bd.perms[[2]string{p.Vhost, p.User}] = cp
		d.put(defPermission, defKey(p.Vhost, p.User), p)
		return nil
	})
}

func (b *Broker) clearPermissions(c ClearPermissions) error {
	return b.changeBrokerDefs(func(d *defBatch) error {
		k := [2]string{c.Vhost, c.User}
		if b.bd.perms[k] != nil {
			delete(b.bd.perms, k)
			d.del(defPermission, defKey(c.Vhost, c.User))
		}
		return nil
	})
}

func (b *Broker) setTopicPermissions(c SetTopicPermissions) error {
	p := c.Permission
	if p.Exchange == "" {
		return invalid("topic permissions need an exchange")
	}
	tp := &topicPerm{TopicPermission: p}
	var err error
	if tp.write, err = compilePattern("write", p.Write); err != nil {
		return err
	}
	if tp.read, err = compilePattern("read", p.Read); err != nil {
		return err
	}
	return b.changeBrokerDefs(func(d *defBatch) error {
		if err := b.checkVhostUserLocked(p.Vhost, p.User); err != nil {
			return err
		}
		b.bd.topic[[3]string{p.Vhost, p.User, p.Exchange}] = tp
		d.put(defTopicPerm, defKey(p.Vhost, p.User, p.Exchange), p)
		return nil
	})
}

func (b *Broker) clearTopicPermissions(c ClearTopicPermissions) error {
	return b.changeBrokerDefs(func(d *defBatch) error {
		for k := range b.bd.topic {
			if k[0] == c.Vhost && k[1] == c.User && (c.Exchange == "" || k[2] == c.Exchange) {
				delete(b.bd.topic, k)
				d.del(defTopicPerm, defKey(k[0], k[1], k[2]))
			}
		}
		return nil
	})
}

func (b *Broker) setGlobalParameter(c SetGlobalParameter) error {
	if c.Name == "" {
		return invalid("a global parameter needs a name")
	}
	return b.changeBrokerDefs(func(d *defBatch) error {
		b.bd.global[c.Name] = c.Value
		d.put(defGlobalParam, c.Name, globalParam{Name: c.Name, Value: c.Value})
		return nil
	})
}

func (b *Broker) clearGlobalParameter(c ClearGlobalParameter) error {
	return b.changeBrokerDefs(func(d *defBatch) error {
		if _, ok := b.bd.global[c.Name]; ok {
			delete(b.bd.global, c.Name)
			d.del(defGlobalParam, c.Name)
		}
		return nil
	})
}

// forgetVhostLocked drops the permissions of a deleted vhost. bd.mu is held.
func (b *Broker) forgetVhostLocked(d *defBatch, vhost string) {
	for k := range b.bd.perms {
		if k[0] == vhost {
			delete(b.bd.perms, k)
			d.del(defPermission, defKey(k[0], k[1]))
		}
	}
	for k := range b.bd.topic {
		if k[0] == vhost {
			delete(b.bd.topic, k)
			d.del(defTopicPerm, defKey(k[0], k[1], k[2]))
		}
	}
}

// The read side. Each returns copies, sorted.

// Users lists the users by name.
func (b *Broker) Users() []User {
	b.bd.mu.RLock()
	defer b.bd.mu.RUnlock()
	return sortedValues(b.bd.users, func(u *User) User { return *u },
		func(a, b User) int { return cmp.Compare(a.Name, b.Name) })
}

// User returns the user called name.
func (b *Broker) User(name string) (User, bool) {
	b.bd.mu.RLock()
	defer b.bd.mu.RUnlock()
	if u := b.bd.users[name]; u != nil {
		return *u, true
	}
	return User{}, false
}

// Permissions lists every permission, by vhost then user.
func (b *Broker) Permissions() []Permission {
	b.bd.mu.RLock()
	defer b.bd.mu.RUnlock()
	return sortedValues(b.bd.perms, func(p *perm) Permission { return p.Permission }, func(a, b Permission) int {
		return cmp.Or(cmp.Compare(a.Vhost, b.Vhost), cmp.Compare(a.User, b.User))
	})
}

// Permission returns user's permissions in vhost.
func (b *Broker) Permission(vhost, user string) (Permission, bool) {
	b.bd.mu.RLock()
	defer b.bd.mu.RUnlock()
	if p := b.bd.perms[[2]string{vhost, user}]; p != nil {
		return p.Permission, true
	}
	return Permission{}, false
}

// TopicPermissions lists every topic permission, by vhost, user, exchange.
func (b *Broker) TopicPermissions() []TopicPermission {
	b.bd.mu.RLock()
	defer b.bd.mu.RUnlock()
	return sortedValues(b.bd.topic, func(p *topicPerm) TopicPermission { return p.TopicPermission }, func(a, b TopicPermission) int {
		return cmp.Or(cmp.Compare(a.Vhost, b.Vhost), cmp.Compare(a.User, b.User), cmp.Compare(a.Exchange, b.Exchange))
	})
}

// GlobalParameters returns the global parameters, by name (a copy of the
// map; the values are shared and read only).
func (b *Broker) GlobalParameters() map[string]any {
	b.bd.mu.RLock()
	defer b.bd.mu.RUnlock()
	return maps.Clone(b.bd.global)
}

// UserJSON is a user as it is stored and as RabbitMQ 3.10 shows it (in
// definitions and the HTTP API).
type UserJSON struct {
	Name             string         `json:"name"`
	PasswordHash     string         `json:"password_hash"`
	HashingAlgorithm string         `json:"hashing_algorithm"`
	Tags             []string       `json:"tags"`
	Limits           map[string]any `json:"limits"`
}

// UserRecord is u as UserJSON, with {} for no limits.
func UserRecord(u User) UserJSON {
	l := u.Limits
	if l == nil {
		l = map[string]any{}
	}
	return UserJSON{Name: u.Name, PasswordHash: u.PasswordHash, HashingAlgorithm: u.HashingAlgorithm, Tags: u.Tags, Limits: l}
}
