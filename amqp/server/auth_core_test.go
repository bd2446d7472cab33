package server_test

import (
	"errors"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
)

func applyCore(t *testing.T, srv *server.Server, vhost string, cmd broker.Command) {
	t.Helper()
	if _, err := srv.Broker().Apply(vhost, cmd); err != nil {
		t.Fatalf("%T: %v", cmd, err)
	}
}

func dialAs(url, user, pass, vhost string) (*amqp.Connection, error) {
	host := url[strings.Index(url, "@")+1:]
	host = strings.TrimSuffix(host, "/")
	return amqp.Dial("amqp://" + user + ":" + pass + "@" + host + "/" + strings.ReplaceAll(vhost, "/", "%2F"))
}

func wantRefused(t *testing.T, err error, code int, text string) {
	t.Helper()
	var ae *amqp.Error
	if !errors.As(err, &ae) || ae.Code != code || text != "" && ae.Reason != text {
		t.Fatalf("got %v, want %d %s", err, code, text)
	}
}

// TestLoginFromCoreUsers: AMQP login checks the core's users and
// permissions, changed at run time through commands: a user made with a
// SHA-512 hash logs in, a user without permissions in a vhost may not
// open it (530, RabbitMQ's text), a vhost added at run time opens, a
// deleted user is refused, and max-connections holds.
func TestLoginFromCoreUsers(t *testing.T) {
	srv, url := servertest.StartServer(t, server.Config{})
	hash, _ := broker.HashPassword(broker.HashSHA512, "pw")
	applyCore(t, srv, "", broker.PutUser{User: broker.User{Name: "bob", PasswordHash: hash, HashingAlgorithm: broker.HashSHA512}})

	_, err := dialAs(url, "bob", "pw", "/")
	wantRefused(t, err, 530, "NOT_ALLOWED - access to vhost '/' refused for user 'bob'")

	applyCore(t, srv, "", broker.AddVhost{Name: "orders"})
	applyCore(t, srv, "", broker.SetPermissions{Permission: broker.Permission{Vhost: "orders", User: "bob", Configure: ".*", Write: ".*", Read: ".*"}})
	conn, err := dialAs(url, "bob", "pw", "orders")
	if err != nil {
		t.Fatalf("bob on orders: %v", err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("bobs", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if srv.Broker().Vhost("orders").Queue("bobs") == nil {
		t.Errorf("the queue is not in vhost orders")
	}

	// max-connections: bob holds the one connection allowed.
	applyCore(t, srv, "orders", broker.SetVhostLimit{Name: "max-connections", Value: 1})
	_, err = dialAs(url, "bob", "pw", "orders")
	wantRefused(t, err, 530, "NOT_ALLOWED - access to vhost 'orders' refused for user 'bob': connection limit (1) is reached")
	conn.Close()
	eventuallyOK(t, func() error {
		c, err := dialAs(url, "bob", "pw", "orders")
		if err == nil {
			c.Close()
		}
		return err
	})

	_, err = dialAs(url, "bob", "wrong", "orders")
	wantRefused(t, err, 403, "") // amqp091-go words it itself
	applyCore(t, srv, "", broker.DeleteUser{Name: "bob"})
	_, err = dialAs(url, "bob", "pw", "orders")
	wantRefused(t, err, 403, "") // amqp091-go words it itself
}

// eventuallyOK retries f until it succeeds, for up to 5 seconds.
func eventuallyOK(t *testing.T, f func() error) {
	t.Helper()
	var err error
	for range 500 {
		if err = f(); err == nil {
			return
		}
	}
	t.Fatal(err)
}

// TestConfiguredUsersSeedOnce: the configured users are created at the
// first start over a store (guest with permissions on every vhost); at the
// next start the stored users rule, whatever the configuration says.
func TestConfiguredUsersSeedOnce(t *testing.T) {
	b := startDurable(t)
	conn, err := amqp.Dial(b.url)
	if err != nil {
		t.Fatalf("guest at first start: %v", err)
	}
	conn.Close()
	applyCore(t, b.srv, "", broker.PutUser{User: broker.User{Name: "guest", PasswordHash: server.HashPassword("changed"), Tags: []string{"monitoring"}}})
	b.restart()
	_, err = amqp.Dial(b.url)
	wantRefused(t, err, 403, "") // amqp091-go words it itself
	conn, err = amqp.Dial(strings.Replace(b.url, "guest:guest", "guest:changed", 1))
	if err != nil {
		t.Fatalf("guest with the stored password: %v", err)
	}
	conn.Close()
	if u, _ := b.srv.Broker().User("guest"); !u.HasTag("monitoring") {
		t.Errorf("guest's tags %v, want the stored [monitoring]", u.Tags)
	}
}
