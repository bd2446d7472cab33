package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

const rabbitExport = "../../amqp/broker/testdata/rabbitmq-3.10.8-definitions.json"

// TestLoadDefinitions starts the real broker with --load-definitions and
// a file exported from RabbitMQ 3.10.8: its users log in with their
// RabbitMQ password hashes and find their vhost's queues; a second start
// over the same data directory loads it again; a bad file stops the
// start, naming the bad entry.
func TestLoadDefinitions(t *testing.T) {
	dir := t.TempDir()
	for i := range 2 {
		p := startWarren(t, nil, "--listen", "127.0.0.1:0", "--data-dir", dir, "--load-definitions", rabbitExport)
		addr := listeningAddr(t, p)
		conn, err := amqp.Dial("amqp://defs-md5:md5pw@" + addr + "/defs-probe")
		if err != nil {
			t.Fatalf("start %d: defs-md5 on defs-probe: %v\n%s", i, err, p.output())
		}
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"orders.eu", "orders.dead", "work.qq"} {
			if _, err := ch.QueueDeclarePassive(q, true, false, false, false, nil); err != nil {
				t.Fatalf("start %d: queue %s: %v", i, q, err)
			}
		}
		if err := ch.ExchangeDeclarePassive("orders", "topic", true, false, false, false, nil); err != nil {
			t.Fatalf("exchange orders: %v", err)
		}
		conn.Close()
		p.cmd.Process.Signal(os.Interrupt)
		if code := p.exitCode(); code != 0 {
			t.Fatalf("exit code %d:\n%s", code, p.output())
		}
	}

	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"queues":[{"name":"q","vhost":"/","durable":true,"auto_delete":false,"arguments":{"x-max-length":"ten"}}]}`), 0o600)
	p := startWarren(t, nil, "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--load-definitions", bad)
	if code := p.exitCode(); code != 1 {
		t.Fatalf("exit code %d with a bad file, want 1:\n%s", code, p.output())
	}
	want := "cannot import definitions: queue 'q' in vhost '/': PRECONDITION_FAILED - invalid arg 'x-max-length' for queue 'q' in vhost '/'"
	if !strings.Contains(p.output(), want) {
		t.Errorf("the error does not name the entry; want %q in\n%s", want, p.output())
	}
}

// listeningAddr waits for the broker's first stdout line and returns the
// address it names.
func listeningAddr(t *testing.T, p *warrenProc) string {
	t.Helper()
	var addr string
	if !p.wait(func(out, _ []string) bool {
		if len(out) > 0 {
			if m := listeningLine.FindStringSubmatch(out[0]); m != nil {
				addr = m[2]
			}
		}
		return addr != ""
	}) {
		t.Fatalf("the broker did not start within %v:\n%s", startWait, p.output())
	}
	return addr
}
