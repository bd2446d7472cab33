package broker

import (
	"errors"
	"strings"
	"testing"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue"
)

func applyB(t *testing.T, b *Broker, vhost string, cmd Command) {
	t.Helper()
	if _, err := b.Apply(vhost, cmd); err != nil {
		t.Fatalf("%T%+v: %v", cmd, cmd, err)
	}
}

// TestDefinitionsSurviveRestart: users, permissions, topic permissions,
// parameters, limits, policies and vhosts are stored by their commands
// and replayed at Recover: a broker restarted over the same store exports
// the same definitions, with nothing written back.
func TestDefinitionsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	b := started(t, st)
	hash, _ := HashPassword(HashSHA512, "secret")
	applyB(t, b, "", AddVhost{Name: "orders", Meta: VhostMeta{Description: "the orders", Tags: []string{"prod"}}})
	applyB(t, b, "", PutUser{User: User{Name: "bob", PasswordHash: hash, HashingAlgorithm: HashSHA512, Tags: []string{"management"}}})
	applyB(t, b, "", PutUser{User: User{Name: "gone"}})
	applyB(t, b, "", SetPermissions{Permission: Permission{Vhost: "orders", User: "bob", Configure: "^bob\\.", Write: ".*", Read: ""}})
	applyB(t, b, "", SetPermissions{Permission: Permission{Vhost: "/", User: "gone", Configure: ".*", Write: ".*", Read: ".*"}})
	applyB(t, b, "", SetTopicPermissions{Permission: TopicPermission{Vhost: "orders", User: "bob", Exchange: "amq.topic", Write: "^eu\\.", Read: ".*"}})
	applyB(t, b, "", SetGlobalParameter{Name: "cluster_name", Value: "warren-1"})
	applyB(t, b, "orders", SetParameter{Component: "federation-upstream", Name: "up", Value: map[string]any{"uri": "amqp://elsewhere"}})
	applyB(t, b, "orders", SetVhostLimit{Name: "max-queues", Value: 10})
	applyB(t, b, "orders", SetPolicy{Policy: Policy{Name: "cap", Pattern: "^q", ApplyTo: "queues", Priority: 2, Definition: map[string]any{"max-length": 5.0}}})
	applyB(t, b, "orders", SetPolicy{Policy: Policy{Name: "ops", Pattern: ".*", Definition: map[string]any{"max-length": 3.0}, Operator: true}})
	applyB(t, b, "orders", DeclareQueue{Name: "q1", Durable: true})
	applyB(t, b, "", DeleteUser{Name: "gone"}) // its permissions go with it
	before := marshal(t, b.Export("test"))
	b.Stop()
	st.Close()

	st = openStore(t, dir)
	defer st.Close()
	written := st.Metrics().OpsWritten
	b = New(Config{Store: st})
	r, err := b.Recover()
	if err != nil {
		t.Fatalf("recover: %v", err)
	}
	defer b.Stop()
	if r.Users != 1 || r.Policies != 2 || r.Queues != 1 {
		t.Errorf("recovered %d users, %d policies, %d queues; want 1, 2, 1", r.Users, r.Policies, r.Queues)
	}
	after := marshal(t, b.Export("test"))
	if string(before) != string(after) {
		t.Errorf("definitions changed over a restart:\nbefore %s\nafter  %s", before, after)
	}
	if n := st.Metrics().OpsWritten - written; n != 0 {
		t.Errorf("recovery wrote %d operations back", n)
	}
	u, _ := b.User("bob")
	if !u.CheckPassword("secret") {
		t.Errorf("bob's password does not check after the restart")
	}
	info, _ := b.Vhost("orders").QueueInfo("q1")
	if info.Policy != "cap" || info.OperatorPolicy != "ops" || info.EffectivePolicy["max-length"] != 3.0 {
		t.Errorf("q1 after restart: policy %q, operator %q, effective %v", info.Policy, info.OperatorPolicy, info.EffectivePolicy)
	}
	if _, ok := b.Permission("/", "gone"); ok {
		t.Errorf("a deleted user's permissions came back")
	}
	// SeedUsers does nothing over a store that was seeded... this one never
	// was: it seeds once, then never again.
	if seeded, err := b.SeedUsers([]User{{Name: "guest"}}, nil); !seeded || err != nil {
		t.Fatalf("first SeedUsers: %v %v", seeded, err)
	}
	if seeded, _ := b.SeedUsers([]User{{Name: "other"}}, nil); seeded {
		t.Errorf("SeedUsers seeded twice")
	}
	// Deleting the vhost takes its permissions, parameters and policies.
	applyB(t, b, "", DeleteVhost{Name: "orders"})
	if _, ok := b.Permission("orders", "bob"); ok || len(b.TopicPermissions()) != 0 {
		t.Errorf("the deleted vhost's permissions remain")
	}
}

// TestPolicyValidation: what RabbitMQ 3.10 refuses, with its texts
// (checked against RabbitMQ with PUT /api/policies/%2F/x).
func TestPolicyValidation(t *testing.T) {
	b := New(Config{})
	cases := []struct {
		p    Policy
		want string // "" accepted
	}{
		{Policy{Pattern: "(", Definition: map[string]any{"max-length": 1.0}}, "pattern should be regular expression but is invalid: error parsing regexp: missing closing ): `(`"},
		{Policy{Pattern: "x", ApplyTo: "bogus", Definition: map[string]any{"max-length": 1.0}}, "apply-to 'bogus' unrecognised; should be 'queues', 'exchanges' or 'all'"},
		{Policy{Pattern: "x", Definition: map[string]any{"foo": 1.0}}, `[{<<"foo">>,1}] are not recognised policy settings`},
		{Policy{Pattern: "x", Definition: map[string]any{"max-length": "a"}}, `<<"a">> is not a valid maximum length`},
		{Policy{Pattern: "x", Definition: map[string]any{}}, "no policy provided"},
		{Policy{Pattern: "x", Definition: map[string]any{"message-ttl": -1.0}}, "-1 is not a valid message TTL"},
		{Policy{Pattern: "x", Definition: map[string]any{"expires": 0.0}}, "0 is not a valid queue expiry"},
		{Policy{Pattern: "x", Definition: map[string]any{"overflow": "zz"}}, `<<"zz">> is not a valid overflow value`},
		{Policy{Pattern: "x", Definition: map[string]any{"queue-mode": "zz"}}, `<<"zz">> is not a valid queue-mode value`},
		{Policy{Pattern: "x", Definition: map[string]any{"alternate-exchange": 1.0}}, "1 is not a valid alternate exchange name"},
		{Policy{Pattern: "x", Definition: map[string]any{"delivery-limit": -2.0}}, "-2 is not a valid delivery limit"},
		{Policy{Pattern: "x", Definition: map[string]any{"ha-mode": "all", "queue-mode": "lazy", "consumer-timeout": 5.0}}, ""},
		{Policy{Pattern: "x", Definition: map[string]any{"dead-letter-routing-key": "k"}}, ""},
		{Policy{Pattern: "x", Operator: true, Definition: map[string]any{"overflow": "reject-publish", "max-length": 1.0}}, `[{<<"overflow">>,<<"reject-publish">>}] are not recognised policy settings`},
		{Policy{Pattern: "x", Operator: true, Definition: map[string]any{"delivery-limit": 3.0, "expires": 100.0}}, ""},
	}
	for _, c := range cases {
		c.p.Name = "x"
		_, err := b.Apply("/", SetPolicy{Policy: c.p})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v refused: %v", c.p, err)
		case c.want != "" && (err == nil || err.Error() != "Validation failed\n\n"+c.want+"\n" || !errors.Is(err, ErrValidation)):
			t.Errorf("%+v: got %q, want %q", c.p, err, c.want)
		}
	}
	if _, err := ParsePriority("5"); err == nil || err.Error() != "Validation failed\n\npriority should be a number, actually was <<\"5\">>\n" {
		t.Errorf("priority \"5\": %v", err)
	}
	if _, err := b.Apply("/", ClearPolicy{Name: "nope"}); err == nil {
		t.Errorf("clearing a missing policy succeeded")
	}
}

// TestVhostLimits: max-queues refuses the next queue with RabbitMQ's
// text; max-connections the next connection; bad limits are refused.
func TestVhostLimits(t *testing.T) {
	b := New(Config{})
	v := b.Vhost("/")
	if _, err := v.Apply(SetParameter{Component: "vhost-limits", Name: "limits", Value: map[string]any{"max-queues": "a"}}); err == nil ||
		!strings.Contains(err.Error(), `max-queues should be a number, actually was <<"a">>`) {
		t.Errorf("bad max-queues: %v", err)
	}
	if _, err := v.Apply(SetParameter{Component: "vhost-limits", Name: "limits", Value: map[string]any{"max-foo": 3.0}}); err == nil ||
		!strings.Contains(err.Error(), `Unrecognised terms [{<<"max-foo">>,3}] in limits`) {
		t.Errorf("max-foo: %v", err)
	}
	apply(t, v, SetVhostLimit{Name: "max-queues", Value: 1})
	apply(t, v, SetVhostLimit{Name: "max-connections", Value: 1})
	apply(t, v, DeclareQueue{Name: "q1"})
	_, err := v.Apply(DeclareQueue{Name: "q2"})
	wantCode(t, err, amqp.PreconditionFailed, "cannot declare queue 'q2': queue limit in vhost '/' (1) is reached")
	if got := v.Limits(); got["max-queues"] != 1 || got["max-connections"] != 1 {
		t.Errorf("limits %v", got)
	}
	if err := v.OpenConnection("guest"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, v.OpenConnection("guest"), amqp.NotAllowed, "access to vhost '/' refused for user 'guest': connection limit (1) is reached")
	v.CloseConnection()
	if err := v.OpenConnection("guest"); err != nil {
		t.Errorf("after a close: %v", err)
	}
	apply(t, v, ClearVhostLimit{Name: "max-queues"})
	apply(t, v, DeclareQueue{Name: "q2"})
}

// TestPolicyAppliesLive: a policy changes an existing queue's limits at
// once (a lower max-length drops from the head), arguments and operator
// policies combine as RabbitMQ's rules say, and clearing it restores the
// arguments.
func TestPolicyAppliesLive(t *testing.T) {
	b := New(Config{})
	v := b.Vhost("/")
	q := apply(t, v, DeclareQueue{Name: "jobs"}).Queue
	argq := apply(t, v, DeclareQueue{Name: "jobs.args", Args: map[string]any{"x-max-length": int32(2), "x-dead-letter-exchange": "mine"}}).Queue
	for i := 0; i < 10; i++ {
		if _, err := q.Publish(&queue.Message{Body: []byte("m")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	apply(t, v, SetPolicy{Policy: Policy{Name: "cap", Pattern: "^jobs", ApplyTo: "queues", Definition: map[string]any{"max-length": 4.0, "dead-letter-exchange": "dlx", "message-ttl": 1000.0}}})
	if n := q.Snapshot().Ready; n != 4 {
		t.Errorf("after max-length 4: %d ready, want 4", n)
	}
	if l := argq.Limits(); l.MaxLength != 2 || l.DeadLetterExchange != "mine" || l.MessageTTL != 1000 {
		t.Errorf("jobs.args: max-length %d, dlx %q, ttl %d; want 2 (the argument, smaller), mine (the argument), 1000", l.MaxLength, l.DeadLetterExchange, l.MessageTTL)
	}
	apply(t, v, SetPolicy{Policy: Policy{Name: "ops", Pattern: ".*", Operator: true, Definition: map[string]any{"max-length": 3.0, "message-ttl": 5000.0}}})
	if l := q.Limits(); l.MaxLength != 3 || l.MessageTTL != 1000 {
		t.Errorf("with the operator policy: max-length %d, ttl %d; want 3 (operator's, stricter), 1000 (policy's, stricter)", l.MaxLength, l.MessageTTL)
	}
	info, _ := v.QueueInfo("jobs")
	if info.Policy != "cap" || info.OperatorPolicy != "ops" || info.EffectivePolicy["max-length"] != 3.0 || info.EffectivePolicy["dead-letter-exchange"] != "dlx" {
		t.Errorf("info: %q %q %v", info.Policy, info.OperatorPolicy, info.EffectivePolicy)
	}
	if info.Ready != 3 {
		t.Errorf("%d ready, want 3", info.Ready)
	}
	// A queue declared later gets the policies too; a higher priority wins.
	apply(t, v, SetPolicy{Policy: Policy{Name: "big", Pattern: "^jobs\\.late", Priority: 9, Definition: map[string]any{"max-length": 100.0}}})
	late := apply(t, v, DeclareQueue{Name: "jobs.late"}).Queue
	if l := late.Limits(); l.MaxLength != 3 || l.Source.(*AppliedPolicy).Policy != "big" {
		t.Errorf("jobs.late: max-length %d from %+v", l.MaxLength, l.Source)
	}
	apply(t, v, ClearPolicy{Name: "ops", Operator: true})
	apply(t, v, ClearPolicy{Name: "cap"})
	if l := q.Limits(); l.MaxLength != -1 || l.DLX || l.Source != nil {
		t.Errorf("after clearing: %+v", *l)
	}
	// Exchanges: a policy's alternate exchange, unless the argument sets one.
	apply(t, v, DeclareQueue{Name: "unrouted"})
	apply(t, v, SetPolicy{Policy: Policy{Name: "ae", Pattern: "^amq\\.direct$", ApplyTo: "exchanges", Definition: map[string]any{"alternate-exchange": "amq.fanout"}}})
	apply(t, v, Bind{Source: "amq.fanout", Destination: exchange.Destination{Name: "unrouted"}})
	if got := routeNames(v, "amq.direct", "nothing-bound"); len(got) != 1 || got[0] != "unrouted" {
		t.Errorf("amq.direct with the policy's alternate exchange routes to %v", got)
	}
	if p := v.ExchangePolicy("amq.direct"); p == nil || p.Policy != "ae" {
		t.Errorf("exchange policy %+v", p)
	}
}
