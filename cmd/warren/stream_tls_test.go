package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
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
	open := func(cert *tlstest.Cert, rpc time.Duration) (*stream.Environment, error) {
		opts := stream.NewEnvironmentOptions().SetUri("rabbitmq-stream+tls://" + addr + "/").
			SetTLSConfig(ca.ClientConfig(cert)).SetSaslConfiguration(stream.SaslConfigurationExternal).SetRPCTimeout(rpc)
		opts.IsTLS(true)
		return stream.NewEnvironment(opts)
	}
	env, err := open(client, 10*time.Second)
	if err != nil {
		t.Fatalf("stream over TLS with EXTERNAL: %v\n%s", err, p.output())
	}
	defer env.Close()
	if err := env.DeclareStream("over-tls", nil); err != nil {
		t.Fatal(err)
	}
	// Refused at the handshake: the client only gives up after its RPC timeout.
	if env2, err := open(nil, 2*time.Second); err == nil {
		env2.Close()
		t.Fatal("a client without a certificate got in with --tls-client-auth require")
	}
}

// Stream connections count in the connection figures: the Prometheus
// endpoint's rabbitmq_connections and opened/closed totals and the
// management API's object_totals, as RabbitMQ counts every protocol's.
func TestStreamConnectionsCounted(t *testing.T) {
	p := startWarren(t, []string{"WARREN_PROMETHEUS_LISTEN=127.0.0.1:0"}, "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(),
		"--log-format", "json", "--stream-listen", "127.0.0.1:0")
	saddr := logAddr(t, p, "stream protocol listening")
	maddr, aaddr := metricsAddr(t, p), logAddr(t, p, "management API listening")
	metric := func(name string) string {
		resp, err := http.Get("http://" + maddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, l := range strings.Split(string(body), "\n") {
			if f := strings.Fields(l); len(f) == 2 && f[0] == name {
				return f[1]
			}
		}
		return ""
	}
	overview := func() float64 {
		req, _ := http.NewRequest("GET", "http://"+aaddr+"/api/overview", nil)
		req.SetBasicAuth("guest", "guest")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var o struct {
			ObjectTotals struct{ Connections float64 } `json:"object_totals"`
		}
		json.NewDecoder(resp.Body).Decode(&o)
		return o.ObjectTotals.Connections
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("not within 10 s: %s (rabbitmq_connections %s, opened %s, closed %s, overview %v)", what,
					metric("rabbitmq_connections"), metric("rabbitmq_connections_opened_total"), metric("rabbitmq_connections_closed_total"), overview())
			}
			time.Sleep(20 * time.Millisecond) // polling, with a deadline
		}
	}
	env, err := stream.NewEnvironment(stream.NewEnvironmentOptions().SetUri("rabbitmq-stream://guest:guest@" + saddr + "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	if err := env.DeclareStream("counted", nil); err != nil {
		t.Fatal(err)
	}
	prod, err := env.NewProducer("counted", nil)
	if err != nil {
		t.Fatal(err)
	}
	// The client opens and closes connections of its own (a probe at
	// the start, a locator): the figures must agree with each other.
	num := func(name string) int {
		n, err := strconv.Atoi(metric(name))
		if err != nil {
			return -1
		}
		return n
	}
	waitFor("the producer's connection counted", func() bool {
		open := num("rabbitmq_connections")
		return open >= 1 && open == num("rabbitmq_connections_opened_total")-num("rabbitmq_connections_closed_total") && overview() == float64(open)
	})
	prod.Close()
	env.Close()
	waitFor("every stream connection counted closed", func() bool {
		opened := num("rabbitmq_connections_opened_total")
		return num("rabbitmq_connections") == 0 && opened >= 2 && num("rabbitmq_connections_closed_total") == opened && overview() == 0
	})
}
