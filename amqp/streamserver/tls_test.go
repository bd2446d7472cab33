package streamserver

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/amqp"
	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/stream"
	"go.uber.org/zap/zaptest"

	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
	"github.com/warrenmq/warren/tlsconf"
	"github.com/warrenmq/warren/tlsconf/tlstest"
)

// tlsStream is a stream server with a plain and a TLS listener, EXTERNAL
// reading the client certificate's CN through the AMQP server's check.
type tlsStream struct {
	ca             *tlstest.CA
	plain, tlsAddr string
	srv            *server.Server
	amqpURL        string
}

func startTLSStream(t *testing.T) *tlsStream {
	t.Helper()
	ca := tlstest.NewCA(t, "warren-stream")
	sc := ca.Issue(tlstest.Options{CommonName: "localhost"})
	loader, err := tlsconf.New(tlsconf.Config{CertFile: sc.CertFile, KeyFile: sc.KeyFile, CAFile: ca.File, ClientAuth: tlsconf.ClientAuthRequest})
	if err != nil {
		t.Fatal(err)
	}
	srv, amqpURL := servertest.StartServer(t, server.Config{
		StreamDir:        t.TempDir(),
		ExternalIdentity: tlsconf.Identity{From: tlsconf.FromCN},
		Users: []server.User{
			{Name: "guest", PasswordHash: server.HashPassword("guest")},
			{Name: "alice", PasswordHash: server.HashPassword("not-used-by-external"), Vhosts: []string{"/"}},
			{Name: "carol", PasswordHash: server.HashPassword("not-used-by-external"), Vhosts: []string{}},
		},
	})
	s, err := New(Config{
		Broker: srv.Broker(),
		Logger: zaptest.NewLogger(t),
		Auth: func(user, pass string, remote net.Addr) (User, error) {
			u, err := srv.Authenticate(user, pass, remote)
			return User{Name: u.Name, Vhosts: u.Vhosts}, err
		},
		External: func(st tls.ConnectionState, remote net.Addr) (User, error) {
			u, err := srv.AuthenticateExternal(st, remote)
			return User{Name: u.Name, Vhosts: u.Vhosts}, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	go func() { done <- s.Serve(pl) }()
	go func() { done <- s.Serve(tls.NewListener(tl, loader.ServerConfig())) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		for range 2 {
			if err := <-done; !errors.Is(err, ErrServerClosed) {
				t.Errorf("serve: %v", err)
			}
		}
	})
	return &tlsStream{ca: ca, plain: pl.Addr().String(), tlsAddr: tl.Addr().String(), srv: srv, amqpURL: amqpURL}
}

// envTLS opens an environment over TLS with client certificate cert (nil:
// none) and mechanism mech.
func (b *tlsStream) envTLS(cert *tlstest.Cert, mech, user, pass string) (*stream.Environment, error) {
	opts := stream.NewEnvironmentOptions().SetUri("rabbitmq-stream+tls://" + user + ":" + pass + "@" + b.tlsAddr + "/").
		SetTLSConfig(b.ca.ClientConfig(cert)).SetSaslConfiguration(mech).SetRPCTimeout(10 * time.Second)
	opts.IsTLS(true)
	return stream.NewEnvironment(opts)
}

// roundTrip publishes one message with a confirm on a new stream and
// reads it back from first.
func roundTrip(t *testing.T, env *stream.Environment, name string) {
	t.Helper()
	if err := env.DeclareStream(name, nil); err != nil {
		t.Fatalf("declare %s: %v", name, err)
	}
	prod, err := env.NewProducer(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	confirms := prod.NotifyPublishConfirmation()
	if err := prod.Send(amqp.NewMessage([]byte("over tls"))); err != nil {
		t.Fatal(err)
	}
	select {
	case cs := <-confirms:
		if len(cs) != 1 || !cs[0].IsConfirmed() {
			t.Fatalf("confirms %v", cs)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no confirm within 10 s")
	}
	got := make(chan string, 1)
	cons, err := env.NewConsumer(name, func(_ stream.ConsumerContext, m *amqp.Message) {
		select {
		case got <- string(m.GetData()):
		default:
		}
	}, stream.NewConsumerOptions().SetOffset(stream.OffsetSpecification{}.First()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	select {
	case body := <-got:
		if body != "over tls" {
			t.Fatalf("read %q", body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing read within 10 s")
	}
}

// The stream protocol over TLS with the official Go stream client: PLAIN
// with a password, EXTERNAL as the user the client certificate's CN names
// (the AMQP listener's check: a CN that is no user, or a user without the
// vhost, is refused), and EXTERNAL never offered on the plain listener.
func TestTLSAndExternal(t *testing.T) {
	b := startTLSStream(t)
	alice := b.ca.Issue(tlstest.Options{CommonName: "alice", Client: true})

	t.Run("PLAIN over TLS", func(t *testing.T) {
		env, err := b.envTLS(nil, stream.SaslConfigurationPlain, "guest", "guest")
		if err != nil {
			t.Fatalf("PLAIN over TLS: %v", err)
		}
		defer env.Close()
		roundTrip(t, env, "tls-plain")
	})
	t.Run("PLAIN over TLS, bad password", func(t *testing.T) {
		env, err := b.envTLS(nil, stream.SaslConfigurationPlain, "guest", "wrong")
		if err == nil {
			env.Close()
			t.Fatal("a wrong password logged in")
		}
	})
	t.Run("EXTERNAL as the certificate's CN", func(t *testing.T) {
		// The URL's user and password are guest's: EXTERNAL ignores them.
		env, err := b.envTLS(alice, stream.SaslConfigurationExternal, "guest", "guest")
		if err != nil {
			t.Fatalf("EXTERNAL with alice's certificate: %v", err)
		}
		defer env.Close()
		roundTrip(t, env, "tls-external")
		if n := b.srv.Broker().UserConnections("alice"); n < 1 {
			t.Fatalf("alice has %d connections, want the EXTERNAL ones counted as hers", n)
		}
	})
	t.Run("EXTERNAL, CN not a user", func(t *testing.T) {
		mallory := b.ca.Issue(tlstest.Options{CommonName: "mallory", Client: true})
		env, err := b.envTLS(mallory, stream.SaslConfigurationExternal, "guest", "guest")
		if err == nil {
			env.Close()
			t.Fatal("EXTERNAL as mallory (no such user) logged in")
		}
	})
	t.Run("EXTERNAL, user without the vhost", func(t *testing.T) {
		carol := b.ca.Issue(tlstest.Options{CommonName: "carol", Client: true})
		env, err := b.envTLS(carol, stream.SaslConfigurationExternal, "guest", "guest")
		if err == nil {
			env.Close()
			t.Fatal("EXTERNAL as carol (no permission on /) opened /")
		}
	})
	t.Run("EXTERNAL without a certificate", func(t *testing.T) {
		env, err := b.envTLS(nil, stream.SaslConfigurationExternal, "guest", "guest")
		if err == nil {
			env.Close()
			t.Fatal("EXTERNAL without a client certificate logged in")
		}
	})
	t.Run("EXTERNAL on the plain listener", func(t *testing.T) {
		c := dial(t, b.plain)
		c.Write(req(keyPeerProperties, 1, func(f *frame) { f.u32(0) }))
		readResponse(t, c, keyPeerProperties|responseBit)
		c.Write(req(keySaslHandshake, 2, nil))
		d := readResponse(t, c, keySaslHandshake|responseBit)
		d.u32()
		if code := d.u16(); code != codeOK {
			t.Fatalf("sasl handshake: code %d", code)
		}
		var mechs []string
		for n := d.u32(); n > 0; n-- {
			mechs = append(mechs, d.str())
		}
		if strings.Join(mechs, " ") != "PLAIN" {
			t.Fatalf("plain listener offers %v, want PLAIN only", mechs)
		}
		c.Write(req(keySaslAuthenticate, 3, func(f *frame) { f.str("EXTERNAL"); f.u32(0) }))
		d = readResponse(t, c, keySaslAuthenticate|responseBit)
		if d.u32(); d.u16() != codeSaslMechanismUnsupported {
			t.Fatal("EXTERNAL on the plain listener was not refused as an unsupported mechanism")
		}
	})
}
