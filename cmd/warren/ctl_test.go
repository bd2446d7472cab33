package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// ctlBroker is a spawned warren with its management API, for the
// `warren ctl` tests.
type ctlBroker struct {
	p       *warrenProc
	amqpURL string
	apiURL  string
	dataDir string
}

// startCtlBroker spawns warren over dir with the API on 127.0.0.1:0,
// plus extra flags.
func startCtlBroker(t *testing.T, dir string, extra ...string) *ctlBroker {
	t.Helper()
	p := startWarren(t, []string{"WARREN_LOG_FORMAT=json"}, append([]string{"--listen", "127.0.0.1:0", "--data-dir", dir,
		"--management-listen", "127.0.0.1:0"}, extra...)...)
	b := &ctlBroker{p: p, dataDir: dir}
	if !p.wait(func(_, errs []string) bool {
		for _, l := range errs {
			var e map[string]any
			json.Unmarshal([]byte(l), &e)
			addr, _ := e["addr"].(string)
			switch e["msg"] {
			case "management API listening":
				b.apiURL = "http://" + addr
			case "Warren listening":
				b.amqpURL = "amqp://guest:guest@" + addr + "/"
			}
		}
		return b.apiURL != "" && b.amqpURL != ""
	}) {
		t.Fatalf("warren did not announce its AMQP and API addresses:\n%s", p.output())
	}
	return b
}

// ctlRun is one `warren ctl` run: this test binary as main (TestMain).
type ctlRun struct {
	stdout, stderr string
	code           int
}

// startCtl starts `warren ctl args` against api with stdin.
func startCtl(t *testing.T, api, stdin string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	raw, err := json.Marshal(append([]string{"ctl"}, args...))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WARREN_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, brokerArgsEnv+"="+string(raw), "WARREN_API_URL="+api)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out, &errb
}

func runCtlIn(t *testing.T, api, stdin string, args ...string) ctlRun {
	t.Helper()
	cmd, out, errb := startCtl(t, api, stdin, args...)
	err := cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return ctlRun{out.String(), errb.String(), cmd.ProcessState.ExitCode()}
}

// ctlOK runs `warren ctl args` and fails the test unless it exits 0.
func ctlOK(t *testing.T, api string, args ...string) string {
	t.Helper()
	r := runCtlIn(t, api, "", args...)
	if r.code != 0 {
		t.Fatalf("warren ctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func dialCtl(t *testing.T, url string) (*amqp091.Connection, *amqp091.Channel) {
	t.Helper()
	conn, err := amqp091.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return conn, ch
}

// queueDepth is a queue's ready messages, by a passive declare.
func queueDepth(t *testing.T, ch *amqp091.Channel, name string) int {
	t.Helper()
	q, err := ch.QueueDeclarePassive(name, true, false, false, false, nil)
	if err != nil {
		t.Fatalf("passive declare of %s: %v", name, err)
	}
	return q.Messages
}

// TestCtlDeadLetterReplay is the dead-letter workflow: messages rejected
// by a consumer land in a dead-letter queue; `warren ctl move --to-origin`
// sends them back to the exchange and routing key they died from, and
// the origin's consumer gets them with their x-death history.
func TestCtlDeadLetterReplay(t *testing.T) {
	b := startCtlBroker(t, t.TempDir())
	api := b.apiURL
	ctlOK(t, api, "declare", "exchange", "orders", "--type", "direct")
	ctlOK(t, api, "declare", "exchange", "dlx", "--type", "fanout")
	ctlOK(t, api, "declare", "queue", "work", "--arguments", `{"x-dead-letter-exchange":"dlx"}`)
	ctlOK(t, api, "declare", "queue", "dlq")
	ctlOK(t, api, "declare", "binding", "--source", "orders", "--destination", "work", "--routing-key", "new")
	ctlOK(t, api, "declare", "binding", "--source", "dlx", "--destination", "dlq")

	_, ch := dialCtl(t, b.amqpURL)
	const n = 5
	for i := range n {
		if err := ch.Publish("orders", "new", false, false, amqp091.Publishing{
			DeliveryMode: 2, MessageId: string(rune('a' + i)), Body: []byte("order")}); err != nil {
			t.Fatal(err)
		}
	}
	// The consumer fails every order: rejected, not requeued.
	if err := ch.Qos(n, 0, false); err != nil {
		t.Fatal(err)
	}
	dels, err := ch.Consume("work", "failing", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		select {
		case d := <-dels:
			d.Reject(false)
		case <-time.After(startWait):
			t.Fatal("the consumer got no message")
		}
	}
	if err := ch.Cancel("failing", false); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(startWait)
	for queueDepth(t, ch, "dlq") != n {
		if time.Now().After(deadline) {
			t.Fatalf("dlq has %d messages, want %d", queueDepth(t, ch, "dlq"), n)
		}
		time.Sleep(10 * time.Millisecond) // poll with a deadline
	}

	// Look at what failed.
	list := ctlOK(t, api, "list", "queues", "--vhost", "/", "--columns", "name,messages_ready")
	if !strings.Contains(list, "name") || !strings.Contains(list, "dlq") {
		t.Errorf("list queues:\n%s", list)
	}
	// Replay.
	out := ctlOK(t, api, "move", "dlq", "--to-origin")
	if strings.TrimSpace(out) != "Moved 5 messages" {
		t.Errorf("move --to-origin said %q, want %q", out, "Moved 5 messages")
	}
	if d := apiMessages(t, api, "dlq"); d != 0 {
		t.Errorf("dlq holds %d messages (ready and unacknowledged) after the replay, want 0", d)
	}
	got := map[string]bool{}
	dels, err = ch.Consume("work", "fixed", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		select {
		case d := <-dels:
			got[d.MessageId] = true
			if d.Exchange != "orders" || d.RoutingKey != "new" {
				t.Errorf("replayed message came from %q/%q, want orders/new", d.Exchange, d.RoutingKey)
			}
			deaths, _ := d.Headers["x-death"].([]any)
			if len(deaths) != 1 {
				t.Fatalf("x-death %v, want one entry", d.Headers["x-death"])
			}
			death, _ := deaths[0].(amqp091.Table)
			if death["queue"] != "work" || death["reason"] != "rejected" || death["exchange"] != "orders" {
				t.Errorf("x-death entry %v, want queue work, reason rejected, exchange orders", death)
			}
			if d.DeliveryMode != 2 {
				t.Errorf("delivery mode %d, want 2 (persistent kept)", d.DeliveryMode)
			}
			d.Ack(false)
		case <-time.After(startWait):
			t.Fatalf("the origin's consumer got %d of %d replayed messages", len(got), n)
		}
	}
	if len(got) != n {
		t.Errorf("got message ids %v, want %d distinct", got, n)
	}
}

// apiMessages is a queue's messages, ready and unacknowledged, as
// `warren ctl list queues --format json` reports them: a move that forgot
// to ack its source would leave them unacknowledged.
func apiMessages(t *testing.T, api, name string) int {
	t.Helper()
	var qs []struct {
		Name     string `json:"name"`
		Messages int    `json:"messages"`
	}
	if err := json.Unmarshal([]byte(ctlOK(t, api, "list", "queues", "--format", "json")), &qs); err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		if q.Name == name {
			return q.Messages
		}
	}
	t.Fatalf("no queue %s listed", name)
	return 0
}
