package main

import (
	"testing"
	"time"

	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/stream"

	"github.com/warrenmq/warren/tlsconf/tlstest"
)

// --stream-tls-listen: auto is :5551 beside --tls-listen (RabbitMQ's
// stream.listeners.ssl.default) unless the stream protocol is off; an
// address asks for the TLS files.
func TestStreamTLSAddr(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"--tls-listen", ":5671"}, ":5551"},
		{[]string{"--tls-listen", ":5671", "--stream-listen", "off"}, ""},
		{[]string{"--tls-listen", ":5671", "--stream-tls-listen", "off"}, ""},
		{[]string{"--stream-tls-listen", "127.0.0.1:5554"}, "127.0.0.1:5554"},
	} {
		c, err := loadConfig(tc.args, func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := c.streamTLSAddr(); got != tc.want {
			t.Errorf("%v: stream TLS address %q, want %q", tc.args, got, tc.want)
		}
		if tc.want != "" && !c.tlsWanted() {
			t.Errorf("%v: the TLS files are not asked for", tc.args)
		}
	}
}

// The broker serves the stream protocol over TLS with the AMQPS
// listener's files; the official Go stream client logs in with EXTERNAL
// from its certificate's CN, and a client without a certificate is
// refused at the TLS handshake (--tls-client-auth require).
func TestStreamTLSListener(t *testing.T) {
	ca := tlstest.NewCA(t, "warren-stream-cmd")
	sc := ca.Issue(tlstest.Options{CommonName: "localhost"})
	client := ca.Issue(tlstest.Options{CommonName: "guest", Client: true})
	p := startWarren(t, nil, "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-format", "json",
		"--tls-listen", "127.0.0.1:0", "--tls-cert", sc.CertFile, "--tls-key", sc.KeyFile, "--tls-ca", ca.File,
		"--tls-client-auth", "require", "--tls-external-identity", "cn", "--stream-tls-listen", "127.0.0.1:0")
	addr := logAddr(t, p, "stream protocol listening for TLS")
	open := func(cert *tlstest.Cert) (*stream.Environment, error) {
		opts := stream.NewEnvironmentOptions().SetUri("rabbitmq-stream+tls://" + addr + "/").
			SetTLSConfig(ca.ClientConfig(cert)).SetSaslConfiguration(stream.SaslConfigurationExternal).SetRPCTimeout(10 * time.Second)
		opts.IsTLS(true)
		return stream.NewEnvironment(opts)
	}
	env, err := open(client)
	if err != nil {
		t.Fatalf("stream over TLS with EXTERNAL: %v\n%s", err, p.output())
	}
	defer env.Close()
	if err := env.DeclareStream("over-tls", nil); err != nil {
		t.Fatal(err)
	}
	if env2, err := open(nil); err == nil {
		env2.Close()
		t.Fatal("a client without a certificate got in with --tls-client-auth require")
	}
}
