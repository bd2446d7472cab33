package server_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
)

// TestPermissionMatrix: each AMQP method checks the permission RabbitMQ's
// access-control table names, on the resource it names, and refuses with
// 403 and RabbitMQ's text; the channel closes, the connection stays.
// The user "lim" may configure, write and read only what starts with
// "lim.", and write to the default exchange; "ro.q" and "ro.x" are made by
// guest, readable by lim but not writable.
func TestPermissionMatrix(t *testing.T) {
	perm := broker.Permission{Vhost: "/", User: "lim", Configure: "^lim\\.", Write: "^lim\\.|^amq\\.default$", Read: "^lim\\.|^ro\\."}
	topic := broker.TopicPermission{Vhost: "/", User: "lim", Exchange: "lim.topic", Write: "^{username}\\.", Read: "^ok\\."}
	var url string
	if amqpURL, mgmt := os.Getenv("AMQP_URL"), os.Getenv("MANAGEMENT_URL"); amqpURL != "" && mgmt != "" {
		// The same matrix against RabbitMQ, the user made over its HTTP API.
		url = amqpURL
		rabbitPut(t, mgmt, "/api/users/lim", `{"password":"pw","tags":""}`)
		rabbitPut(t, mgmt, "/api/permissions/%2F/lim", fmt.Sprintf(`{"configure":%q,"write":%q,"read":%q}`, perm.Configure, perm.Write, perm.Read))
		rabbitPut(t, mgmt, "/api/topic-permissions/%2F/lim", fmt.Sprintf(`{"exchange":%q,"write":%q,"read":%q}`, topic.Exchange, topic.Write, topic.Read))
		t.Cleanup(func() {
			for _, p := range []string{"/api/users/lim", "/api/queues/%2F/ro.q", "/api/queues/%2F/other.q", "/api/queues/%2F/lim.q",
				"/api/exchanges/%2F/ro.x", "/api/exchanges/%2F/lim.x", "/api/exchanges/%2F/lim.topic"} {
				rabbitDo(t, mgmt, "DELETE", p, "")
			}
		})
	} else {
		var srv *server.Server
		srv, url = servertest.StartServer(t, server.Config{})
		applyCore(t, srv, "", broker.PutUser{User: broker.User{Name: "lim", PasswordHash: server.HashPassword("pw")}})
		applyCore(t, srv, "", broker.SetPermissions{Permission: perm})
		applyCore(t, srv, "", broker.SetTopicPermissions{Permission: topic})
	}

	admin, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ach, _ := admin.Channel()
	for _, q := range []string{"ro.q", "other.q"} {
		if _, err := ach.QueueDeclare(q, false, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := ach.ExchangeDeclare("ro.x", "direct", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}

	conn, err := dialAs(url, "lim", "pw", "/")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	refused := func(what string) string {
		return "ACCESS_REFUSED - access to " + what + " in vhost '/' refused for user 'lim'"
	}
	cases := []struct {
		name string
		op   func(ch *amqp.Channel) error
		want string // "" allowed
	}{
		{"queue.declare own", func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclare("lim.q", false, false, false, false, nil)
			return err
		}, ""},
		{"queue.declare other", func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclare("x.q", false, false, false, false, nil)
			return err
		}, refused("queue 'x.q'")},
		{"queue.declare server-named", func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclare("", false, false, true, false, nil)
			return err
		}, "prefix"},
		{"queue.declare passive other", func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclarePassive("other.q", false, false, false, false, nil)
			return err
		}, ""},
		{"queue.declare with a DLX it cannot write", func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclare("lim.dl", false, false, false, false, amqp.Table{"x-dead-letter-exchange": "ro.x"})
			return err
		}, refused("exchange 'ro.x'")},
		{"exchange.declare own", func(ch *amqp.Channel) error {
			return ch.ExchangeDeclare("lim.x", "direct", false, false, false, false, nil)
		}, ""},
		{"exchange.declare topic", func(ch *amqp.Channel) error {
			return ch.ExchangeDeclare("lim.topic", "topic", false, false, false, false, nil)
		}, ""},
		{"exchange.declare other", func(ch *amqp.Channel) error {
			return ch.ExchangeDeclare("x.x", "direct", false, false, false, false, nil)
		}, refused("exchange 'x.x'")},
		{"exchange.declare with an AE it cannot write", func(ch *amqp.Channel) error {
			return ch.ExchangeDeclare("lim.ae", "direct", false, false, false, false, amqp.Table{"alternate-exchange": "ro.x"})
		}, refused("exchange 'ro.x'")},
		{"queue.bind own", func(ch *amqp.Channel) error { return ch.QueueBind("lim.q", "k", "lim.x", false, nil) }, ""},
		{"queue.bind from a readable exchange", func(ch *amqp.Channel) error { return ch.QueueBind("lim.q", "k", "ro.x", false, nil) }, ""},
		{"queue.bind from amq.direct", func(ch *amqp.Channel) error { return ch.QueueBind("lim.q", "k", "amq.direct", false, nil) }, refused("exchange 'amq.direct'")},
		{"queue.bind a queue it cannot write", func(ch *amqp.Channel) error { return ch.QueueBind("ro.q", "k", "lim.x", false, nil) }, refused("queue 'ro.q'")},
		{"queue.bind topic key allowed", func(ch *amqp.Channel) error { return ch.QueueBind("lim.q", "ok.a", "lim.topic", false, nil) }, ""},
		{"queue.bind topic key refused", func(ch *amqp.Channel) error { return ch.QueueBind("lim.q", "no.a", "lim.topic", false, nil) },
			"ACCESS_REFUSED - access to topic 'no.a' in exchange 'lim.topic' in vhost '/' refused for user 'lim'"},
		{"exchange.bind", func(ch *amqp.Channel) error { return ch.ExchangeBind("lim.x", "k", "ro.x", false, nil) }, ""},
		{"exchange.bind into a read-only exchange", func(ch *amqp.Channel) error { return ch.ExchangeBind("ro.x", "k", "lim.x", false, nil) }, refused("exchange 'ro.x'")},
		{"queue.unbind own", func(ch *amqp.Channel) error { return ch.QueueUnbind("lim.q", "k", "lim.x", nil) }, ""},
		{"queue.unbind a queue it cannot write", func(ch *amqp.Channel) error { return ch.QueueUnbind("ro.q", "k", "lim.x", nil) }, refused("queue 'ro.q'")},
		{"queue.unbind from amq.direct", func(ch *amqp.Channel) error { return ch.QueueUnbind("lim.q", "k", "amq.direct", nil) }, refused("exchange 'amq.direct'")},
		{"exchange.unbind", func(ch *amqp.Channel) error { return ch.ExchangeUnbind("lim.x", "k", "ro.x", false, nil) }, ""},
		{"exchange.unbind into a read-only exchange", func(ch *amqp.Channel) error { return ch.ExchangeUnbind("ro.x", "k", "lim.x", false, nil) }, refused("exchange 'ro.x'")},
		{"exchange.declare passive other", func(ch *amqp.Channel) error {
			return ch.ExchangeDeclarePassive("ro.x", "direct", false, false, false, false, nil)
		}, ""},
		{"basic.consume readable", func(ch *amqp.Channel) error {
			_, err := ch.Consume("ro.q", "", false, false, false, false, nil)
			return err
		}, ""},
		{"queue.purge readable", func(ch *amqp.Channel) error { _, err := ch.QueuePurge("ro.q", false); return err }, ""},
		{"basic.get readable", func(ch *amqp.Channel) error { _, _, err := ch.Get("ro.q", true); return err }, ""},
		{"basic.get other", func(ch *amqp.Channel) error { _, _, err := ch.Get("other.q", true); return err }, refused("queue 'other.q'")},
		{"basic.consume other", func(ch *amqp.Channel) error {
			_, err := ch.Consume("other.q", "", true, false, false, false, nil)
			return err
		}, refused("queue 'other.q'")},
		{"queue.purge other", func(ch *amqp.Channel) error { _, err := ch.QueuePurge("other.q", false); return err }, refused("queue 'other.q'")},
		{"queue.delete other", func(ch *amqp.Channel) error { _, err := ch.QueueDelete("ro.q", false, false, false); return err }, refused("queue 'ro.q'")},
		{"exchange.delete other", func(ch *amqp.Channel) error { return ch.ExchangeDelete("ro.x", false, false) }, refused("exchange 'ro.x'")},
		{"basic.publish default exchange", publishTo("", "lim.q"), ""},
		{"basic.publish read-only exchange", publishTo("ro.x", "k"), refused("exchange 'ro.x'")},
		{"basic.publish topic key allowed", publishTo("lim.topic", "lim.a"), ""},
		{"basic.publish topic key refused", publishTo("lim.topic", "other.a"),
			"ACCESS_REFUSED - access to topic 'other.a' in exchange 'lim.topic' in vhost '/' refused for user 'lim'"},
		{"exchange.delete own", func(ch *amqp.Channel) error { return ch.ExchangeDelete("lim.x", false, false) }, ""},
		{"queue.delete own", func(ch *amqp.Channel) error { _, err := ch.QueueDelete("lim.q", false, false, false); return err }, ""},
	}
	allowed, refusedN := 0, 0
	for _, c := range cases {
		ch, err := conn.Channel()
		if err != nil {
			t.Fatalf("%s: the connection is gone: %v", c.name, err)
		}
		closed := ch.NotifyClose(make(chan *amqp.Error, 1))
		err = c.op(ch)
		var ae *amqp.Error
		if c.want != "" && (err == nil || errors.As(err, &ae) && ae.Code == amqp.ChannelError) {
			// A publish is refused asynchronously: the reason is the close's.
			err = <-closed
		}
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.want == "prefix":
			// server-named queues are amq.gen-*, which lim may not configure
			var ae *amqp.Error
			if !errors.As(err, &ae) || ae.Code != 403 {
				t.Errorf("%s: got %v, want 403", c.name, err)
			}
			refusedN++
		case c.want != "":
			var ae *amqp.Error
			if !errors.As(err, &ae) || ae.Code != 403 || ae.Reason != c.want {
				t.Errorf("%s: got %v, want 403 %s", c.name, err, c.want)
			}
			refusedN++
		default:
			allowed++
			ch.Close()
		}
	}
	t.Logf("permission matrix: %d allowed, %d refused as expected, of %d", allowed, refusedN, len(cases))
}

func publishTo(x, key string) func(ch *amqp.Channel) error {
	return func(ch *amqp.Channel) error {
		if err := ch.Publish(x, key, false, false, amqp.Publishing{Body: []byte("m")}); err != nil {
			return err
		}
		// A round trip: a refused publish has closed the channel by now.
		_, err := ch.QueueDeclarePassive("lim.q", false, false, false, false, nil)
		return err
	}
}

func rabbitPut(t *testing.T, mgmt, path, body string) { rabbitDo(t, mgmt, "PUT", path, body) }

// rabbitDo calls RabbitMQ's HTTP API at mgmt (http://user:pass@host:port).
func rabbitDo(t *testing.T, mgmt, method, path, body string) {
	t.Helper()
	u, err := url.Parse(mgmt)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(method, u.Scheme+"://"+u.Host+path, strings.NewReader(body))
	pass, _ := u.User.Password()
	req.SetBasicAuth(u.User.Username(), pass)
	req.Header.Set("content-type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if method != "DELETE" && resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %s", method, path, resp.Status)
	}
}
