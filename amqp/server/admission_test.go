package server_test

import (
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
)

// A source address opening connections faster than HandshakeRate past
// its burst has the next ones closed at accept, while a client already
// logged in works on.
func TestHandshakeRatePerSource(t *testing.T) {
	t.Parallel()
	url := servertest.Start(t, server.Config{Users: guestUsers, HandshakeRate: 0.001, HandshakeBurst: 3})
	var conns []*amqp091.Connection
	for i := range 3 {
		c, err := amqp091.Dial(url)
		if err != nil {
			t.Fatalf("connection %d of the burst of 3: %v", i+1, err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	if c, err := amqp091.Dial(url); err == nil {
		c.Close()
		t.Fatal("a 4th connection right after a burst of 3 was let in")
	}
	ch, err := conns[0].Channel()
	must(t, err, "a channel on a connection logged in before")
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	must(t, err, "declare")
	must(t, ch.Publish("", q.Name, false, false, amqp091.Publishing{Body: []byte("x")}), "publish")
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, ok, err := ch.Get(q.Name, true)
		must(t, err, "get")
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the logged-in client's message never arrived")
		}
	}
}

// MaxConnections caps the open connections; closing one makes room.
func TestMaxConnections(t *testing.T) {
	t.Parallel()
	url := servertest.Start(t, server.Config{Users: guestUsers, MaxConnections: 2})
	c1, err := amqp091.Dial(url)
	must(t, err, "connection 1")
	c2, err := amqp091.Dial(url)
	must(t, err, "connection 2")
	defer c2.Close()
	if c, err := amqp091.Dial(url); err == nil {
		c.Close()
		t.Fatal("a 3rd connection was let in with MaxConnections 2")
	}
	must(t, c1.Close(), "close connection 1")
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := amqp091.Dial(url)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no room after closing a connection: %v", err)
		}
	}
}
