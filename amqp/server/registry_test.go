package server_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
)

// regWait bounds every wait of the registry and listing tests.
const regWait = 10 * time.Second

// startServer runs an in-memory server on 127.0.0.1:0 until the test
// ends and returns it with its amqp:// URL.
func startServer(t *testing.T) (*server.Server, string) {
	t.Helper()
	return servertest.StartServer(t, server.Config{Users: guestUsers})
}

// dialNamed connects with a connection_name client property (amqp091-go
// then sends no product, version or platform of its own).
func dialNamed(t *testing.T, url, name string) *amqp091.Connection {
	t.Helper()
	c, err := amqp091.DialConfig(url, amqp091.Config{Dial: amqp091.DefaultDial(regWait),
		Properties: amqp091.Table{"connection_name": name, "product": "registry test", "version": "1.0", "platform": "Go"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// eventually polls cond until it returns "" (met) or the deadline passes,
// when it fails with cond's last complaint.
func eventually(t *testing.T, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(regWait)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(why)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, not synchronising
	}
}

func connByName(srv *server.Server, name string) (server.ConnectionInfo, bool) {
	for _, c := range srv.Connections() {
		if c.ClientProperties["connection_name"] == name {
			return c, true
		}
	}
	return server.ConnectionInfo{}, false
}

// TestConnectionRegistry lists two amqp091-go clients with their
// properties and channels, watches the byte counters grow with traffic,
// and closes one as the management API does.
func TestConnectionRegistry(t *testing.T) {
	srv, url := startServer(t)
	one := dialNamed(t, url, "one")
	two := dialNamed(t, url, "two")
	ch1, err := one.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := one.Channel(); err != nil {
		t.Fatal(err)
	}
	ch3, err := two.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch3.Tx(); err != nil {
		t.Fatal(err)
	}

	var c1, c2 server.ConnectionInfo
	eventually(t, func() string {
		var ok1, ok2 bool
		c1, ok1 = connByName(srv, "one")
		c2, ok2 = connByName(srv, "two")
		if !ok1 || !ok2 || c1.Channels != 2 || c2.Channels != 1 {
			return fmt.Sprintf("connections %+v", srv.Connections())
		}
		return ""
	})
	if c1.User != "guest" || c1.Vhost != "/" || c1.State != "running" || c1.FrameMax == 0 || c1.ChannelMax == 0 || c1.ConnectedAt.IsZero() {
		t.Fatalf("connection one: %+v", c1)
	}
	if c1.Peer != one.LocalAddr().String() || c1.Name != c1.Peer+" -> "+c1.Local || !strings.HasPrefix(c1.Local, "127.0.0.1:") {
		t.Fatalf("connection one is %q, peer %q, local %q; client at %v", c1.Name, c1.Peer, c1.Local, one.LocalAddr())
	}
	if p := c1.ClientProperties; p["product"] != "registry test" || p["version"] != "1.0" || p["platform"] != "Go" || p["capabilities"] == nil {
		t.Fatalf("client properties %v", p)
	}
	if c1.ID == c2.ID || len(srv.Connections()) != 2 {
		t.Fatalf("connections %+v", srv.Connections())
	}

	chans := srv.Channels()
	if len(chans) != 3 {
		t.Fatalf("channels %+v", chans)
	}
	for _, ch := range chans {
		if ch.User != "guest" || ch.Vhost != "/" || ch.Name != ch.ConnName+fmt.Sprintf(" (%d)", ch.Number) {
			t.Fatalf("channel %+v", ch)
		}
		if want := ch.Conn == c2.ID; ch.Tx != want || ch.Confirm {
			t.Fatalf("channel %+v: tx %v, want %v", ch, ch.Tx, want)
		}
	}

	// Bytes in and out grow with a publish and its confirm.
	if err := ch1.Confirm(false); err != nil {
		t.Fatal(err)
	}
	q, err := ch1.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("x", 10000)
	for range 3 {
		dc, err := ch1.PublishWithDeferredConfirmWithContext(context.Background(), "", q.Name, false, false, amqp091.Publishing{Body: []byte(body)})
		if err != nil {
			t.Fatal(err)
		}
		if !dc.Wait() {
			t.Fatal("nacked")
		}
	}
	eventually(t, func() string {
		now, _ := connByName(srv, "one")
		if now.BytesIn < c1.BytesIn+3*uint64(len(body)) || now.BytesOut <= c1.BytesOut {
			return fmt.Sprintf("bytes in %d -> %d, out %d -> %d", c1.BytesIn, now.BytesIn, c1.BytesOut, now.BytesOut)
		}
		return ""
	})
	for _, ch := range srv.Channels() {
		if ch.Conn == c1.ID && ch.Number == 1 && !ch.Confirm {
			t.Fatalf("channel %+v not in confirm mode", ch)
		}
	}

	// Closed as the management API closes: 320 with the reason.
	closed := two.NotifyClose(make(chan *amqp091.Error, 1))
	if err := srv.CloseConnection(c2.ID, "Closed via management plugin"); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-closed:
		if e == nil || e.Code != 320 || e.Reason != "CONNECTION_FORCED - Closed via management plugin" {
			t.Fatalf("connection two closed with %v", e)
		}
	case <-time.After(regWait):
		t.Fatal("connection two was not closed")
	}
	eventually(t, func() string {
		if cs := srv.Connections(); len(cs) != 1 || cs[0].ID != c1.ID {
			return fmt.Sprintf("after the close: %+v", cs)
		}
		if cs := srv.Channels(); len(cs) != 2 {
			return fmt.Sprintf("channels after the close: %+v", cs)
		}
		return ""
	})
	if err := srv.CloseConnection(c2.ID, "again"); !errors.Is(err, server.ErrNoConnection) {
		t.Fatalf("closing a closed connection: %v", err)
	}
	if one.IsClosed() {
		t.Fatal("connection one closed too")
	}
}
