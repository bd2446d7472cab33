package main

import (
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/tlsconf/tlstest"
)

var tlsListeningLine = regexp.MustCompile(`^Warren \S+ listening on (\S+) \(AMQP 0-9-1 over TLS\)$`)

// tlsAddr waits for the stdout line announcing the AMQPS address.
func tlsAddr(t *testing.T, p *warrenProc) string {
	t.Helper()
	var addr string
	if !p.wait(func(out, _ []string) bool {
		for _, l := range out {
			if m := tlsListeningLine.FindStringSubmatch(l); m != nil {
				addr = m[1]
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no TLS listening line within %v:\n%s", startWait, p.output())
	}
	return addr
}

// The broker serves AMQPS beside plain AMQP and Prometheus over HTTPS; a
// client certificate logs in with EXTERNAL; SIGHUP swaps the certificate
// for new connections while an open one goes on.
func TestTLSListenerAndReload(t *testing.T) {
	ca := tlstest.NewCA(t, "warren-cmd")
	sc := ca.Issue(tlstest.Options{CommonName: "localhost"})
	client := ca.Issue(tlstest.Options{CommonName: "guest", Client: true})
	p := startWarren(t, nil, "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-format", "json",
		"--tls-listen", "127.0.0.1:0", "--tls-cert", sc.CertFile, "--tls-key", sc.KeyFile, "--tls-ca", ca.File,
		"--tls-client-auth", "require", "--tls-external-identity", "cn",
		"--prometheus-listen", "127.0.0.1:0", "--prometheus-tls",
		"--management-listen", "127.0.0.1:0", "--management-tls")
	addr := tlsAddr(t, p)
	dial := func(ca *tlstest.CA) (*amqp091.Connection, error) {
		return amqp091.DialConfig("amqps://"+addr+"/", amqp091.Config{
			TLSClientConfig: ca.ClientConfig(client), SASL: []amqp091.Authentication{&amqp091.ExternalAuth{}},
		})
	}
	old, err := dial(ca)
	if err != nil {
		t.Fatalf("amqps with EXTERNAL: %v\n%s", err, p.output())
	}
	defer old.Close()
	ch, err := old.Channel()
	if err != nil {
		t.Fatal(err)
	}

	maddr := metricsAddr(t, p)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: ca.ClientConfig(nil)}}
	resp, err := hc.Get("https://" + maddr + "/metrics")
	if err != nil {
		t.Fatalf("GET https://%s/metrics: %v", maddr, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "rabbitmq_alarms_memory_used_watermark 0") {
		t.Fatalf("metrics over HTTPS lack the memory alarm:\n%.1500s", body)
	}
	// The management API over HTTPS with the same files.
	aaddr := logAddr(t, p, "management API listening")
	req, _ := http.NewRequest("GET", "https://"+aaddr+"/api/overview", nil)
	req.SetBasicAuth("guest", "guest")
	aresp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET https://%s/api/overview: %v", aaddr, err)
	}
	abody, _ := io.ReadAll(aresp.Body)
	aresp.Body.Close()
	if aresp.StatusCode != http.StatusOK || !strings.Contains(string(abody), `"management_version"`) {
		t.Fatalf("the management API over HTTPS: %s %.300s", aresp.Status, abody)
	}
	// net/http answers plain HTTP on a TLS listener with a 400.
	if resp, err := http.Get("http://" + maddr + "/metrics"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP on the HTTPS metrics listener: %s, want 400", resp.Status)
		}
	}

	// A second CA and a certificate from it, written over the files.
	ca2 := tlstest.NewCA(t, "warren-cmd-2")
	sc2 := ca2.Issue(tlstest.Options{CommonName: "localhost"})
	for from, to := range map[string]string{sc2.CertFile: sc.CertFile, sc2.KeyFile: sc.KeyFile} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	if !p.wait(func(_, errs []string) bool {
		return strings.Contains(strings.Join(errs, "\n"), "TLS certificates reloaded")
	}) {
		t.Fatalf("no reload logged after SIGHUP:\n%s", p.output())
	}
	// The client's certificate is still from the first CA, which --tls-ca
	// still names; the server's is now from the second.
	both := ca.ClientConfig(client)
	both.RootCAs = ca2.Pool
	conn, err := amqp091.DialConfig("amqps://"+addr+"/", amqp091.Config{TLSClientConfig: both, SASL: []amqp091.Authentication{&amqp091.ExternalAuth{}}})
	if err != nil {
		t.Fatalf("dial with the new server certificate: %v\n%s", err, p.output())
	}
	if cn := conn.ConnectionState().PeerCertificates[0].Issuer.CommonName; cn != "warren-cmd-2" {
		t.Fatalf("server certificate issued by %q after reload", cn)
	}
	conn.Close()
	if c, err := dial(ca); err == nil {
		c.Close()
		t.Fatal("a client trusting only the old CA connected after the reload")
	}
	if _, err := ch.QueueDeclare("", false, true, true, false, nil); err != nil {
		t.Fatalf("the connection opened before the reload was dropped: %v", err)
	}
	old.Close()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.exitCode(); code != 0 {
		t.Fatalf("after SIGTERM the exit code is %d:\n%s", code, p.output())
	}
}

func TestTLSFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-listen", "127.0.0.1:0"}, "need --tls-cert and --tls-key"},
		{[]string{"--tls-listen", "127.0.0.1:0", "--tls-cert", "x", "--tls-key", "y", "--tls-client-auth", "maybe"}, "want none, request or require"},
		{[]string{"--tls-listen", "127.0.0.1:0", "--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent-key.pem"}, "/nonexistent.pem"},
	} {
		p := startWarren(t, nil, append([]string{"--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--prometheus-listen", "off"}, tc.args...)...)
		if code := p.exitCode(); code <= 0 {
			t.Fatalf("%v: exit code %d, want > 0:\n%s", tc.args, code, p.output())
		}
		if out := p.output(); !strings.Contains(out, tc.want) {
			t.Errorf("%v: output lacks %q:\n%s", tc.args, tc.want, out)
		}
	}
}
