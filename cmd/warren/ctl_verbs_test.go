package main

import (
	"bytes"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// TestCtlVerbs drives the definition and message verbs of `warren ctl`
// against a spawned warren, checking each effect over AMQP, and the exit
// codes scripts rely on.
func TestCtlVerbs(t *testing.T) {
	b := startCtlBroker(t, t.TempDir())
	api := b.apiURL
	_, ch := dialCtl(t, b.amqpURL)

	ctlOK(t, api, "declare", "queue", "q1")
	ctlOK(t, api, "declare", "queue", "q2", "--durable=false")
	ctlOK(t, api, "declare", "exchange", "x1", "--type", "topic")
	ctlOK(t, api, "declare", "binding", "--source", "x1", "--destination", "q1", "--routing-key", "a.*")
	if err := ch.Publish("x1", "a.b", false, false, amqp091.Publishing{Body: []byte("over amqp")}); err != nil {
		t.Fatal(err)
	}
	if out := ctlOK(t, api, "publish", "over http", "--exchange", "x1", "--routing-key", "a.c",
		"--properties", `{"message_id":"m2","headers":{"h":"v"}}`); !strings.Contains(out, "Message published") || strings.Contains(out, "NOT") {
		t.Errorf("publish said %q", out)
	}
	if out := ctlOK(t, api, "publish", "lost", "--exchange", "x1", "--routing-key", "z"); !strings.Contains(out, "NOT routed") {
		t.Errorf("an unroutable publish said %q", out)
	}
	// The body from stdin.
	if r := runCtlIn(t, api, "from stdin", "publish", "--routing-key", "q2", "--persistent"); r.code != 0 {
		t.Fatalf("publish from stdin: %d %s", r.code, r.stderr)
	}
	if d := queueDepth(t, ch, "q1"); d != 2 {
		t.Fatalf("q1 holds %d messages, want 2", d)
	}
	d, ok, err := ch.Get("q2", true)
	if err != nil || !ok || string(d.Body) != "from stdin" || d.DeliveryMode != 2 {
		t.Fatalf("q2's message: %v %v %q mode %d", err, ok, d.Body, d.DeliveryMode)
	}

	// A listing as a table and as the API's JSON.
	table := ctlOK(t, api, "list", "queues", "--columns", "name,messages")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 3 || strings.Fields(lines[0])[0] != "name" {
		t.Fatalf("list queues:\n%s", table)
	}
	var qs []map[string]any
	if err := json.Unmarshal([]byte(ctlOK(t, api, "list", "queues", "--vhost", "/", "--format", "json")), &qs); err != nil || len(qs) != 2 {
		t.Fatalf("list queues --format json: %v, %d queues", err, len(qs))
	}
	if bs := ctlOK(t, api, "list", "bindings", "--columns", "source,destination,routing_key"); !strings.Contains(bs, "a.*") {
		t.Errorf("list bindings:\n%s", bs)
	}

	// get leaves the messages (ack_requeue_true) unless told otherwise.
	var got []map[string]any
	if err := json.Unmarshal([]byte(ctlOK(t, api, "get", "q1", "--count", "5", "--format", "json")), &got); err != nil || len(got) != 2 {
		t.Fatalf("get --count 5: %v, %d messages", err, len(got))
	}
	if got[1]["payload"] != "over http" {
		t.Errorf("second message %v", got[1])
	}
	if d := queueDepth(t, ch, "q1"); d != 2 {
		t.Errorf("q1 holds %d after get with ack_requeue_true, want 2", d)
	}

	// move and copy between queues, with a count.
	if out := ctlOK(t, api, "move", "q1", "--to-queue", "q2", "--count", "1", "--copy"); strings.TrimSpace(out) != "Copied 1 messages" {
		t.Errorf("copy said %q", out)
	}
	if q1, q2 := apiMessages(t, api, "q1"), queueDepth(t, ch, "q2"); q1 != 2 || q2 != 1 {
		t.Errorf("after a copy of 1: q1 %d q2 %d, want 2 and 1", q1, q2)
	}
	if out := ctlOK(t, api, "move", "q1", "--to-exchange", "amq.default", "--routing-key", "q2"); strings.TrimSpace(out) != "Moved 2 messages" {
		t.Errorf("move said %q", out)
	}
	if q1, q2 := apiMessages(t, api, "q1"), queueDepth(t, ch, "q2"); q1 != 0 || q2 != 3 {
		t.Errorf("after the move: q1 %d q2 %d, want 0 and 3", q1, q2)
	}
	if out := ctlOK(t, api, "move", "q2", "--to-origin"); strings.TrimSpace(out) != "Moved 0 messages; 3 without x-death, left on q2" {
		t.Errorf("move --to-origin of messages that never died said %q", out)
	}
	if q2, ready := apiMessages(t, api, "q2"), queueDepth(t, ch, "q2"); q2 != 3 || ready != 3 {
		t.Errorf("q2 holds %d (%d ready) after a move that found no origin, want 3 ready", q2, ready)
	}

	// A body over the store's body-file threshold (64 KiB) moves intact
	// between durable queues.
	big := bytes.Repeat([]byte("0123456789abcdef"), 200<<10/16)
	if err := ch.Publish("", "q1", false, false, amqp091.Publishing{DeliveryMode: 2, Body: big}); err != nil {
		t.Fatal(err)
	}
	ctlOK(t, api, "declare", "queue", "big")
	if out := ctlOK(t, api, "move", "q1", "--to-queue", "big"); strings.TrimSpace(out) != "Moved 1 messages" {
		t.Errorf("moving the large message said %q", out)
	}
	if d, ok, err := ch.Get("big", true); err != nil || !ok || !bytes.Equal(d.Body, big) || d.DeliveryMode != 2 {
		t.Errorf("the large message after the move: %v %v, %d bytes (want %d), mode %d", err, ok, len(d.Body), len(big), d.DeliveryMode)
	}

	ctlOK(t, api, "purge", "queue", "q2")
	if q2 := queueDepth(t, ch, "q2"); q2 != 0 {
		t.Errorf("q2 holds %d after purge, want 0", q2)
	}
	ctlOK(t, api, "delete", "binding", "--source", "x1", "--destination", "q1", "--routing-key", "a.*")
	if out := ctlOK(t, api, "publish", "x", "--exchange", "x1", "--routing-key", "a.b"); !strings.Contains(out, "NOT routed") {
		t.Errorf("after the binding's delete a publish said %q", out)
	}

	// A connection closed with a reason: the client hears it.
	conn2, err := amqp091.Dial(b.amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	closed := conn2.NotifyClose(make(chan *amqp091.Error, 1))
	var name string
	deadline := time.Now().Add(startWait)
	for name == "" {
		var cs []map[string]any
		json.Unmarshal([]byte(ctlOK(t, api, "list", "connections", "--format", "json")), &cs)
		for _, c := range cs {
			if port, _ := c["peer_port"].(float64); int(port) == conn2.LocalAddr().(*net.TCPAddr).Port {
				name, _ = c["name"].(string)
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the connection is not listed")
		}
	}
	ctlOK(t, api, "close", "connection", name, "--reason", "maintenance")
	select {
	case e := <-closed:
		if e == nil || e.Code != 320 || !strings.Contains(e.Reason, "maintenance") {
			t.Errorf("the client heard %v, want 320 with the reason", e)
		}
	case <-time.After(startWait):
		t.Fatal("the connection was not closed")
	}

	ctlOK(t, api, "delete", "queue", "q1")
	ctlOK(t, api, "delete", "exchange", "x1")
	if _, err := ch.QueueDeclarePassive("q1", true, false, false, false, nil); err == nil {
		t.Error("q1 still there after delete queue")
	}

	// Exit codes: refused (1) with the API's reason, bad usage (2),
	// unreachable (3).
	for _, c := range []struct {
		args   []string
		api    string
		code   int
		stderr string
	}{
		{[]string{"delete", "queue", "nope"}, api, 1, "404"},
		{[]string{"declare", "queue", "amq.x"}, api, 1, "Access refused"},
		{[]string{"--password", "wrong", "list", "queues"}, api, 1, "401"},
		{[]string{"frob"}, api, 2, "unknown verb"},
		{[]string{"list", "things"}, api, 2, "want list"},
		{[]string{"move", "q2"}, api, 2, "--to-queue"},
		{[]string{"--no-such-flag", "list", "queues"}, api, 2, "unknown flag"},
		{[]string{"declare", "queue", "q", "--arguments", "{"}, api, 2, "JSON"},
		{[]string{"list", "queues"}, "http://127.0.0.1:1", 3, "cannot reach"},
	} {
		r := runCtlIn(t, c.api, "", c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.stderr) {
			t.Errorf("warren ctl %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), r.code, r.stderr, c.code, c.stderr)
		}
	}
	if out := ctlOK(t, api, "--help"); !strings.Contains(out, "Exit codes:") {
		t.Errorf("--help does not document the exit codes:\n%s", out)
	}
}
