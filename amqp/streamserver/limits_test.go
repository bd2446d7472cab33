package streamserver

import (
	"net"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap/zaptest"

	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
)

// openAs runs the handshake as user on vhost and returns open's response
// code (the connection stays open on codeOK until the test ends).
func openAs(t *testing.T, addr, user, pass, vhost string) uint16 {
	t.Helper()
	c := dial(t, addr)
	c.Write(req(keyPeerProperties, 1, func(f *frame) { f.u32(0) }))
	readResponse(t, c, keyPeerProperties|responseBit)
	c.Write(req(keySaslHandshake, 2, nil))
	readResponse(t, c, keySaslHandshake|responseBit)
	creds := "\x00" + user + "\x00" + pass
	c.Write(req(keySaslAuthenticate, 3, func(f *frame) {
		f.str("PLAIN")
		f.u32(uint32(len(creds)))
		f.b = append(f.b, creds...)
	}))
	if d := readResponse(t, c, keySaslAuthenticate|responseBit); func() uint16 { d.u32(); return d.u16() }() != codeOK {
		t.Fatalf("login as %s refused", user)
	}
	readResponse(t, c, keyTune)
	tune := newFrame(keyTune|responseBit, 1, 8)
	tune.u32(1 << 20)
	tune.u32(0)
	c.Write(tune.done())
	c.Write(req(keyOpen, 4, func(f *frame) { f.str(vhost) }))
	d := readResponse(t, c, keyOpen|responseBit)
	d.u32()
	code := d.u16()
	if code == codeOK {
		c.SetDeadline(time.Time{})
	}
	return code
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10 s: %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling, with a deadline
	}
}

// A user's and a vhost's max-connections count stream and AMQP 0-9-1
// connections together: holding one of either kind at a limit of 1, the
// other is refused (open: VIRTUAL_HOST_ACCESS_FAILURE on the stream
// protocol, 530 on AMQP), and admitted again once the first closes.
// Warren-only: RabbitMQ 3.10's stream plugin does not enforce connection
// limits (a FIXME in rabbit_stream_reader; 3.11 and later do, with this
// code).
func TestConnectionLimitsAcrossProtocols(t *testing.T) {
	srv, amqpURL := servertest.StartServer(t, server.Config{StreamDir: t.TempDir(), Vhosts: []string{"/", "small"}, Users: []server.User{
		{Name: "guest", PasswordHash: server.HashPassword("guest")},
		{Name: "lim", PasswordHash: server.HashPassword("lim")},
	}})
	s, err := New(Config{Broker: srv.Broker(), Logger: zaptest.NewLogger(t),
		Auth: func(user, pass string, remote net.Addr) (User, error) {
			u, err := srv.Authenticate(user, pass, remote)
			return User{Name: u.Name, Vhosts: u.Vhosts}, err
		}})
	if err != nil {
		t.Fatal(err)
	}
	addr := servertest.Serve(t, s, ErrServerClosed)
	b := srv.Broker()
	u, _ := b.User("lim")
	u.Limits = map[string]any{"max-connections": int64(1)}
	if _, err := b.Apply("", broker.PutUser{User: u}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Vhost("small").Apply(broker.SetVhostLimit{Name: "max-connections", Value: 1}); err != nil {
		t.Fatal(err)
	}
	amqpAt := strings.TrimSuffix(strings.TrimPrefix(amqpURL, "amqp://guest:guest@"), "/")

	for _, tc := range []struct {
		name, user, vhost string
		amqpRefusal       string
	}{
		{"user max-connections", "lim", "/", "user connection limit (1) is reached"},
		{"vhost max-connections", "guest", "small", "connection limit (1) is reached"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := "amqp://" + tc.user + ":" + tc.user + "@" + amqpAt + "/"
			if tc.user == "guest" {
				url = "amqp://guest:guest@" + amqpAt + "/" + tc.vhost
			}
			count := func() int64 {
				if tc.user == "lim" {
					return b.UserConnections("lim")
				}
				return b.Vhost(tc.vhost).ConnectionCount()
			}
			// AMQP first: the stream connection is refused.
			ac, err := amqp091.Dial(url)
			if err != nil {
				t.Fatalf("the first AMQP connection: %v", err)
			}
			if code := openAs(t, addr, tc.user, tc.user, tc.vhost); code != codeVirtualHostAccessFailure {
				t.Fatalf("stream open past the limit: code %d, want %d (VIRTUAL_HOST_ACCESS_FAILURE)", code, codeVirtualHostAccessFailure)
			}
			ac.Close()
			waitFor(t, "the AMQP connection uncounted", func() bool { return count() == 0 })
			// Stream first: the AMQP connection is refused.
			if code := openAs(t, addr, tc.user, tc.user, tc.vhost); code != codeOK {
				t.Fatalf("stream open under the limit: code %d", code)
			}
			if ac, err := amqp091.Dial(url); err == nil {
				ac.Close()
				t.Fatal("an AMQP connection past the limit held by a stream connection was let in")
			} else if !strings.Contains(err.Error(), tc.amqpRefusal) {
				t.Fatalf("AMQP refusal %q, want it to say %q", err, tc.amqpRefusal)
			}
		})
	}
}
