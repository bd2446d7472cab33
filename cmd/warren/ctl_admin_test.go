package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// TestCtlAdminVerbs drives the vhost, user, permission, policy and
// definitions verbs against a spawned warren and, with MANAGEMENT_URL
// (and AMQP_URL, default amqp://guest:guest@127.0.0.1:5672/), against
// RabbitMQ 3.10, to prove the test itself.
func TestCtlAdminVerbs(t *testing.T) {
	t.Run("rabbitmq", func(t *testing.T) {
		api := os.Getenv("MANAGEMENT_URL")
		if api == "" {
			t.Skip("MANAGEMENT_URL is not set: no RabbitMQ to run against")
		}
		amqpURL := os.Getenv("AMQP_URL")
		if amqpURL == "" {
			amqpURL = "amqp://guest:guest@127.0.0.1:5672/"
		}
		adminVerbs(t, api, amqpURL)
	})
	t.Run("warren", func(t *testing.T) {
		b := startCtlBroker(t, t.TempDir())
		adminVerbs(t, b.apiURL, b.amqpURL)
	})
}

func adminVerbs(t *testing.T, api, amqpURL string) {
	vh := fmt.Sprintf("ctl-%d", time.Now().UnixNano())
	user := vh + "-user"
	ctlOK(t, api, "add", "vhost", vh)
	t.Cleanup(func() { runCtlIn(t, api, "", "delete", "vhost", vh); runCtlIn(t, api, "", "delete", "user", user) })
	if vs := ctlOK(t, api, "list", "vhosts", "--columns", "name"); !strings.Contains(vs, vh) {
		t.Fatalf("list vhosts does not show %s:\n%s", vh, vs)
	}
	ctlOK(t, api, "add", "user", user, "s3cret", "--tags", "management")
	ctlOK(t, api, "set", "permissions", user, "--vhost", vh, "--configure", ".*", "--write", ".*", "--read", ".*")
	if ps := ctlOK(t, api, "list", "permissions", "--vhost", vh); !strings.Contains(ps, user) {
		t.Errorf("list permissions --vhost %s:\n%s", vh, ps)
	}
	ctlOK(t, api, "set", "policy", "cap", "--vhost", vh, "--pattern", "^lim", "--definition", `{"max-length":2}`, "--apply-to", "queues")
	if ps := ctlOK(t, api, "list", "policies", "--vhost", vh); !strings.Contains(ps, `{"max-length":2}`) {
		t.Errorf("list policies:\n%s", ps)
	}

	// The new user reaches the vhost over AMQP, and the policy caps a queue.
	u, err := url.Parse(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, "s3cret")
	u.Path, u.RawPath = "/"+vh, "/"+url.PathEscape(vh)
	conn, err := amqp091.Dial(u.String())
	if err != nil {
		t.Fatalf("the user added by warren ctl cannot connect to %s: %v", vh, err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	ctlOK(t, api, "declare", "queue", "limited", "--vhost", vh)
	for i := range 3 {
		if err := ch.Publish("", "limited", false, false, amqp091.Publishing{Body: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(startWait)
	for {
		// The policy applies asynchronously on RabbitMQ: poll.
		if d := queueDepth(t, ch, "limited"); d == 2 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("limited holds %d messages under max-length 2", d)
		}
		time.Sleep(10 * time.Millisecond) // poll with a deadline
	}

	// Definitions: export to a file, which holds the vhost and the queue.
	file := filepath.Join(t.TempDir(), "defs.json")
	ctlOK(t, api, "export", "definitions", file)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var defs struct {
		Queues []struct{ Name, Vhost string }
	}
	if err := json.Unmarshal(raw, &defs); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, q := range defs.Queues {
		found = found || q.Name == "limited" && q.Vhost == vh
	}
	if !found {
		t.Errorf("exported definitions lack queue limited in %s", vh)
	}
	// Import: a queue from stdin.
	in := fmt.Sprintf(`{"queues":[{"name":"imported","vhost":%q,"durable":true,"auto_delete":false,"arguments":{}}]}`, vh)
	if r := runCtlIn(t, api, in, "import", "definitions"); r.code != 0 {
		t.Fatalf("import definitions: exit %d: %s", r.code, r.stderr)
	}
	queueDepth(t, ch, "imported") // fails the test if it is not there

	ctlOK(t, api, "clear", "policy", "cap", "--vhost", vh)
	ctlOK(t, api, "clear", "permissions", user, "--vhost", vh)
	ctlOK(t, api, "delete", "user", user)
	if r := runCtlIn(t, api, "", "delete", "user", user); r.code != exitRefused || !strings.Contains(r.stderr, "404") {
		t.Errorf("deleting a deleted user: exit %d %q, want 1 and a 404", r.code, r.stderr)
	}
	ctlOK(t, api, "delete", "vhost", vh)
}
