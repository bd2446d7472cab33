package server_test

import (
	"fmt"
	"strings"
	"testing"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
)

// A policy's max-length-bytes applies to a live stream: the oldest
// segments go at once.
func TestStreamRetentionPolicy(t *testing.T) {
	t.Parallel()
	srv, url := servertest.StartServer(t, server.Config{StreamDir: t.TempDir()})
	conn, err := amqp091.Dial(url)
	must(t, err, "dial")
	defer conn.Close()
	ch, err := conn.Channel()
	must(t, err, "channel.open")
	declareDurableQueue(t, ch, "logs", amqp091.Table{"x-queue-type": "stream", "x-stream-max-segment-size-bytes": int64(200)})
	pub, err := conn.Channel()
	must(t, err, "channel.open")
	must(t, pub.Confirm(false), "confirm.select")
	for i := range 50 {
		// One at a time: one chunk each, so there are segments to remove.
		publishConfirmed(t, pub, "", "logs", transient(fmt.Sprintf("m-%d-%s", i, strings.Repeat("x", 100))))
	}
	first := func() string {
		c, err := conn.Channel()
		must(t, err, "channel.open")
		defer c.Close()
		_, offs := streamRead(t, c, "logs", 1)
		return fmt.Sprint(offs[0])
	}
	if f := first(); f != "0" {
		t.Fatalf("before the policy the first offset is %s", f)
	}
	setPolicy(t, srv, broker.Policy{Name: "keep-1k", Pattern: "^logs$", ApplyTo: "queues",
		Definition: map[string]any{"max-length-bytes": 1000.0}})
	if f := first(); f == "0" {
		t.Fatal("after a max-length-bytes policy of 1000 the first offset is still 0")
	}
}
