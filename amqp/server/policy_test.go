package server_test

import (
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
)

func setPolicy(t *testing.T, srv *server.Server, p broker.Policy) {
	t.Helper()
	if _, err := srv.Broker().Apply("/", broker.SetPolicy{Policy: p}); err != nil {
		t.Fatal(err)
	}
}

// waitMessages polls a queue's message count over AMQP until it is want.
func waitMessages(t *testing.T, ch *amqp.Channel, queue string, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if q.Messages == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue %s has %d messages, want %d", queue, q.Messages, want)
		}
	}
}

// TestPolicyChangesLiveQueue: over a real client, a policy set on a queue
// that already holds messages applies at once, as RabbitMQ applies it: a
// lower max-length drops from the head to the policy's dead-letter
// exchange, with x-death reason maxlen; a message TTL applies to what is
// published next; clearing the policy lifts the limit.
func TestPolicyChangesLiveQueue(t *testing.T) {
	srv, url := servertest.StartServer(t, server.Config{})
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"jobs", "jobs.dead"} {
		if _, err := ch.QueueDeclare(q, true, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := ch.ExchangeDeclare("jobs.dlx", "fanout", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind("jobs.dead", "", "jobs.dlx", false, nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := ch.Publish("", "jobs", false, false, amqp.Publishing{Body: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	waitMessages(t, ch, "jobs", 10)

	setPolicy(t, srv, broker.Policy{Name: "cap", Pattern: "^jobs$", ApplyTo: "queues",
		Definition: map[string]any{"max-length": 3.0, "dead-letter-exchange": "jobs.dlx"}})
	waitMessages(t, ch, "jobs", 3)
	waitMessages(t, ch, "jobs.dead", 7)
	d, ok, err := ch.Get("jobs", true)
	if err != nil || !ok || string(d.Body) != "7" {
		t.Fatalf("head of jobs: %q %v %v; want 7 (0-6 dropped from the head)", d.Body, ok, err)
	}
	dd, ok, err := ch.Get("jobs.dead", true)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	deaths, _ := dd.Headers["x-death"].([]any)
	if len(deaths) != 1 || deaths[0].(amqp.Table)["reason"] != "maxlen" || string(dd.Body) != "0" {
		t.Errorf("dead-lettered %q with x-death %v; want 0 with reason maxlen", dd.Body, dd.Headers["x-death"])
	}
	info, _ := srv.Broker().Vhost("/").QueueInfo("jobs")
	if info.Policy != "cap" || info.EffectivePolicy["max-length"] != 3.0 {
		t.Errorf("queue info: policy %q, effective %v", info.Policy, info.EffectivePolicy)
	}

	// A new policy with a TTL of 0: what is published from now expires
	// (dead-lettered) unless a consumer takes it at once.
	setPolicy(t, srv, broker.Policy{Name: "cap", Pattern: "^jobs$", ApplyTo: "queues",
		Definition: map[string]any{"max-length": 3.0, "message-ttl": 0.0, "dead-letter-exchange": "jobs.dlx"}})
	if err := ch.Publish("", "jobs", false, false, amqp.Publishing{Body: []byte("late")}); err != nil {
		t.Fatal(err)
	}
	waitMessages(t, ch, "jobs.dead", 7) // 6 left + late
	waitMessages(t, ch, "jobs", 2)      // 8 and 9 stay: the TTL is not retroactive

	// Cleared: no limit any more.
	if _, err := srv.Broker().Apply("/", broker.ClearPolicy{Name: "cap"}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := ch.Publish("", "jobs", false, false, amqp.Publishing{Body: []byte("free")}); err != nil {
			t.Fatal(err)
		}
	}
	waitMessages(t, ch, "jobs", 7)
}

// TestOperatorPolicyCapsArgument: the stricter of an operator policy and
// the queue's own x-max-length wins, on a queue declared after it.
func TestOperatorPolicyCapsArgument(t *testing.T) {
	srv, url := servertest.StartServer(t, server.Config{})
	setPolicy(t, srv, broker.Policy{Name: "ops", Pattern: ".*", Operator: true, Definition: map[string]any{"max-length": 2.0}})
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, _ := conn.Channel()
	for _, c := range []struct {
		name string
		arg  int32
		want int
	}{{"loose", 100, 2}, {"strict", 1, 1}} {
		if _, err := ch.QueueDeclare(c.name, false, false, false, false, amqp.Table{"x-max-length": c.arg}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			ch.Publish("", c.name, false, false, amqp.Publishing{Body: []byte("m")})
		}
		waitMessages(t, ch, c.name, c.want)
	}
}
