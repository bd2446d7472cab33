package server_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/tlsconf"
	"github.com/warrenmq/warren/tlsconf/tlstest"
)

// tlsBroker is a server with a plain and a TLS listener side by side, on
// 127.0.0.1:0, with EXTERNAL taking the client certificate's CN.
type tlsBroker struct {
	srv       *server.Server
	loader    *tlsconf.Loader
	ca        *tlstest.CA
	plainAddr string
	tlsAddr   string
	certFile  string // the server certificate's files, for reloads
	keyFile   string
	logs      *observer.ObservedLogs
}

// expectHandshakeFailure waits for the server's log of a failed TLS
// handshake whose reason contains want.
func (b *tlsBroker) expectHandshakeFailure(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, e := range b.logs.FilterMessage("TLS handshake failed").All() {
			if r, _ := e.ContextMap()["reason"].(string); strings.Contains(r, want) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no \"TLS handshake failed\" log with %q; logs: %v", want, b.logs.All())
		}
		time.Sleep(10 * time.Millisecond) // polling the log, with a deadline
	}
}

func startTLSBroker(t *testing.T, auth tlsconf.ClientAuth) *tlsBroker {
	t.Helper()
	return startTLSBrokerWith(t, auth, tlsconf.Identity{From: tlsconf.FromCN}, "alice")
}

// startTLSBrokerWith starts a TLS broker whose EXTERNAL reads id, with
// guest and the users named (passwords unused by EXTERNAL).
func startTLSBrokerWith(t *testing.T, auth tlsconf.ClientAuth, id tlsconf.Identity, users ...string) *tlsBroker {
	t.Helper()
	us := []server.User{{Name: "guest", PasswordHash: server.HashPassword("guest")}}
	for _, u := range users {
		us = append(us, server.User{Name: u, PasswordHash: server.HashPassword("not-used-by-external")})
	}
	ca := tlstest.NewCA(t, "warren-test")
	sc := ca.Issue(tlstest.Options{CommonName: "localhost"})
	loader, err := tlsconf.New(tlsconf.Config{CertFile: sc.CertFile, KeyFile: sc.KeyFile, CAFile: ca.File, ClientAuth: auth})
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	srv, err := server.New(server.Config{
		Logger:           zap.New(core),
		Users:            us,
		Heartbeat:        server.NoHeartbeat,
		ExternalIdentity: id,
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
	go srv.Serve(pl)
	go srv.Serve(tls.NewListener(tl, loader.ServerConfig()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return &tlsBroker{srv: srv, loader: loader, ca: ca, plainAddr: pl.Addr().String(), tlsAddr: tl.Addr().String(),
		certFile: sc.CertFile, keyFile: sc.KeyFile, logs: logs}
}

func (b *tlsBroker) dialTLS(cfg *tls.Config, external bool) (*amqp091.Connection, error) {
	c := amqp091.Config{TLSClientConfig: cfg, Heartbeat: 0}
	url := "amqps://guest:guest@" + b.tlsAddr + "/"
	if external {
		c.SASL = []amqp091.Authentication{&amqp091.ExternalAuth{}}
		url = "amqps://" + b.tlsAddr + "/"
	}
	return amqp091.DialConfig(url, c)
}

// roundTripOn publishes and gets one message over conn.
func roundTripOn(t *testing.T, conn *amqp091.Connection) {
	t.Helper()
	ch, err := conn.Channel()
	must(t, err, "channel")
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	must(t, err, "declare")
	must(t, ch.Publish("", q.Name, false, false, amqp091.Publishing{Body: []byte("over tls")}), "publish")
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, ok, err := ch.Get(q.Name, true)
		must(t, err, "get")
		if ok {
			if string(d.Body) != "over tls" {
				t.Fatalf("body %q", d.Body)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("message not routed within 10s")
		}
	}
}

func userOf(t *testing.T, srv *server.Server, conn *amqp091.Connection) string {
	t.Helper()
	local := conn.LocalAddr().String()
	for _, c := range srv.Connections() {
		if c.Peer == local {
			return c.User
		}
	}
	t.Fatalf("no connection from %s", local)
	return ""
}

func TestTLSRequireClientCert(t *testing.T) {
	t.Parallel()
	b := startTLSBroker(t, tlsconf.ClientAuthRequire)
	good := b.ca.Issue(tlstest.Options{CommonName: "alice", Client: true})
	stranger := b.ca.Issue(tlstest.Options{CommonName: "mallory", Client: true})
	expired := b.ca.Issue(tlstest.Options{CommonName: "alice", Client: true, NotAfter: time.Now().Add(-time.Hour)})
	other := tlstest.NewCA(t, "other")
	untrusted := other.Issue(tlstest.Options{CommonName: "alice", Client: true})

	t.Run("good cert, PLAIN", func(t *testing.T) {
		conn, err := b.dialTLS(b.ca.ClientConfig(good), false)
		must(t, err, "dial amqps with a good client certificate")
		defer conn.Close()
		if st := conn.ConnectionState(); st.Version < tls.VersionTLS12 || len(st.PeerCertificates) == 0 {
			t.Fatalf("TLS state %+v", st)
		}
		roundTripOn(t, conn)
		if u := userOf(t, b.srv, conn); u != "guest" {
			t.Fatalf("user %q, want guest", u)
		}
	})
	t.Run("good cert, EXTERNAL", func(t *testing.T) {
		conn, err := b.dialTLS(b.ca.ClientConfig(good), true)
		must(t, err, "dial amqps with EXTERNAL")
		defer conn.Close()
		roundTripOn(t, conn)
		if u := userOf(t, b.srv, conn); u != "alice" {
			t.Fatalf("user %q, want alice (the certificate's CN)", u)
		}
	})
	t.Run("EXTERNAL, CN not a user", func(t *testing.T) {
		_, err := b.dialTLS(b.ca.ClientConfig(stranger), true)
		// amqp091-go reports a refused login as its ErrCredentials (403).
		var ae *amqp091.Error
		if !errors.As(err, &ae) || ae.Code != amqp091.AccessRefused {
			t.Fatalf("got %v, want 403 ACCESS_REFUSED for EXTERNAL", err)
		}
	})
	for _, tc := range []struct {
		name string
		cfg  *tls.Config
		log  string // in the server's log
	}{
		{"expired cert", b.ca.ClientConfig(expired), "certificate has expired"},
		{"untrusted cert", forceCert(b.ca.ClientConfig(nil), untrusted), "certificate signed by unknown authority"},
		{"missing cert", b.ca.ClientConfig(nil), "didn't provide a certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := b.dialTLS(tc.cfg, false)
			if err == nil {
				conn.Close()
				t.Fatal("connected; want the TLS handshake refused")
			}
			t.Logf("refused as expected: %v", err)
			b.expectHandshakeFailure(t, tc.log)
		})
	}
	t.Run("TLS 1.1", func(t *testing.T) {
		cfg := b.ca.ClientConfig(good)
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
		if conn, err := b.dialTLS(cfg, false); err == nil {
			conn.Close()
			t.Fatal("a TLS 1.1 client connected; want TLS 1.2 minimum")
		}
		b.expectHandshakeFailure(t, "unsupported versions")
	})
	t.Run("plain listener beside it", func(t *testing.T) {
		conn, err := amqp091.Dial("amqp://guest:guest@" + b.plainAddr + "/")
		must(t, err, "dial plain")
		defer conn.Close()
		roundTripOn(t, conn)
		if _, err := amqp091.DialConfig("amqp://"+b.plainAddr+"/", amqp091.Config{SASL: []amqp091.Authentication{&amqp091.ExternalAuth{}}}); err == nil ||
			!strings.Contains(err.Error(), "SASL") {
			t.Fatalf("EXTERNAL on the plain listener: %v, want no common SASL mechanism", err)
		}
	})
}

// With client authentication "request", a client without a certificate
// may log in with a password, but not with EXTERNAL.
func TestTLSRequestClientCert(t *testing.T) {
	t.Parallel()
	b := startTLSBroker(t, tlsconf.ClientAuthRequest)
	conn, err := b.dialTLS(b.ca.ClientConfig(nil), false)
	must(t, err, "dial amqps without a client certificate")
	roundTripOn(t, conn)
	conn.Close()
	_, err = b.dialTLS(b.ca.ClientConfig(nil), true)
	var ae *amqp091.Error
	if !errors.As(err, &ae) || ae.Code != amqp091.AccessRefused {
		t.Fatalf("EXTERNAL without a certificate: %v, want 403", err)
	}
	// Go's client sends no certificate the server's CA list does not
	// name; force it, as a careless client would.
	untrusted := tlstest.NewCA(t, "other").Issue(tlstest.Options{CommonName: "alice", Client: true})
	if conn, err := b.dialTLS(forceCert(b.ca.ClientConfig(nil), untrusted), false); err == nil {
		conn.Close()
		t.Fatal("an untrusted certificate was accepted under request")
	}
}

// Reload swaps the certificate for new handshakes while the connections
// already open go on; a reload from broken files keeps the old one.
func TestTLSReload(t *testing.T) {
	t.Parallel()
	b := startTLSBroker(t, tlsconf.ClientAuthNone)
	old, err := b.dialTLS(b.ca.ClientConfig(nil), false)
	must(t, err, "dial with the first certificate")
	defer old.Close()

	ca2 := tlstest.NewCA(t, "second")
	sc2 := ca2.Issue(tlstest.Options{CommonName: "localhost"})
	// Broken files first: the reload fails and the old certificate stays.
	writeFile(t, b.certFile, []byte("not a certificate"))
	if err := b.loader.Reload(); err == nil {
		t.Fatal("Reload of a broken certificate succeeded")
	}
	conn, err := b.dialTLS(b.ca.ClientConfig(nil), false)
	must(t, err, "dial after a failed reload")
	conn.Close()

	copyFile(t, sc2.CertFile, b.certFile)
	copyFile(t, sc2.KeyFile, b.keyFile)
	must(t, b.loader.Reload(), "reload")
	if _, err := b.dialTLS(b.ca.ClientConfig(nil), false); err == nil {
		t.Fatal("a client trusting only the old CA connected after the reload")
	}
	conn, err = b.dialTLS(ca2.ClientConfig(nil), false)
	must(t, err, "dial with the new certificate")
	roundTripOn(t, conn)
	conn.Close()
	roundTripOn(t, old) // not dropped
}

// forceCert makes cfg present c whatever CAs the server names.
func forceCert(cfg *tls.Config, c *tlstest.Cert) *tls.Config {
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c.TLS, nil }
	return cfg
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, b)
}

// pythonWithPika is a python3 that imports pika, or "".
func pythonWithPika() string {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import pika").Run() == nil {
			return py
		}
	}
	return ""
}

// pika over amqps: PLAIN and EXTERNAL with a good client certificate
// work; expired, untrusted and missing certificates are refused.
// Skipped, saying so, only where no python3 has pika (apt install
// python3-pika).
func TestTLSPika(t *testing.T) {
	t.Parallel()
	py := pythonWithPika()
	if py == "" {
		t.Skip("no python3 with pika here (apt install python3-pika or pip install pika): pika's amqps test not run")
	}
	b := startTLSBroker(t, tlsconf.ClientAuthRequire)
	good := b.ca.Issue(tlstest.Options{CommonName: "alice", Client: true})
	expired := b.ca.Issue(tlstest.Options{CommonName: "alice", Client: true, NotAfter: time.Now().Add(-time.Hour)})
	untrusted := tlstest.NewCA(t, "other").Issue(tlstest.Options{CommonName: "alice", Client: true})
	host, port, _ := net.SplitHostPort(b.tlsAddr)
	for _, tc := range []struct {
		name, mode string
		cert       *tlstest.Cert
		want       string
		log        string // the server's TLS handshake failure
	}{
		{"good cert, PLAIN", "plain", good, "ok TLSv1.3 pika over tls", ""},
		{"good cert, EXTERNAL", "external", good, "ok TLSv1.3 pika over tls", ""},
		{"expired cert", "plain", expired, "refused", "certificate has expired"},
		{"untrusted cert", "plain", untrusted, "refused", "certificate signed by unknown authority"},
		{"missing cert", "plain", nil, "refused", "didn't provide a certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"testdata/pika_tls.py", host, port, b.ca.File, tc.mode}
			if tc.cert != nil {
				args = append(args, tc.cert.CertFile, tc.cert.KeyFile)
			}
			out, err := exec.Command(py, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("pika: %v\n%s", err, out)
			}
			got := strings.TrimSpace(string(out))
			t.Logf("pika: %s", got)
			if !strings.HasPrefix(got, tc.want) {
				t.Fatalf("pika printed %q, want %q...", got, tc.want)
			}
			if tc.log != "" {
				b.expectHandshakeFailure(t, tc.log)
			}
		})
	}
	users := map[string]int{}
	for _, e := range b.logs.FilterMessage("connection opened").All() {
		u, _ := e.ContextMap()["user"].(string)
		users[u]++
	}
	if users["guest"] != 1 || users["alice"] != 1 {
		t.Fatalf("logins %v, want guest (PLAIN) and alice (EXTERNAL, the certificate's CN) once each", users)
	}
}
