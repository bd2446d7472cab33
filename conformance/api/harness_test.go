package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/amqp/management/managementtest"
	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
)

// waitTimeout bounds every poll. RabbitMQ refreshes its statistics every
// 5 s, so a figure may take that long (and a rate two samples) to show.
const waitTimeout = 20 * time.Second

// env is one test's broker: its management API (through rabbit-hole and
// plain HTTP) and its AMQP URL.
type env struct {
	t        *testing.T
	rh       *rabbithole.Client
	mgmtURL  string // http://host:port, no credentials
	user     string
	pass     string
	amqpURL  string
	amqpPort int
	warren   bool // in-process Warren, not MANAGEMENT_URL's broker
}

// setup returns the broker under test: MANAGEMENT_URL and AMQP_URL when
// both are set (e.g. RabbitMQ 3.10), else an in-process Warren with its
// AMQP and HTTP listeners on 127.0.0.1:0.
func setup(t *testing.T) *env {
	t.Helper()
	t.Parallel()
	e := &env{t: t}
	mu, au := os.Getenv("MANAGEMENT_URL"), os.Getenv("AMQP_URL")
	if mu != "" && au != "" {
		u, err := url.Parse(mu)
		if err != nil {
			t.Fatalf("MANAGEMENT_URL: %v", err)
		}
		e.user = u.User.Username()
		e.pass, _ = u.User.Password()
		u.User = nil
		e.mgmtURL, e.amqpURL = strings.TrimRight(u.String(), "/"), au
	} else {
		e.startWarren()
	}
	au2, err := url.Parse(e.amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Sscan(au2.Port(), &e.amqpPort)
	if e.amqpPort == 0 {
		e.amqpPort = 5672
	}
	e.rh, err = rabbithole.NewClient(e.mgmtURL, e.user, e.pass)
	if err != nil {
		t.Fatal(err)
	}
	e.rh.SetTimeout(waitTimeout)
	return e
}

func (e *env) startWarren() {
	t := e.t
	e.warren = true
	srv, amqpURL := servertest.StartServer(t, server.Config{Users: []server.User{
		{Name: "guest", PasswordHash: server.HashPassword("guest"), Tags: []string{"administrator"}},
	}, StreamDir: t.TempDir()})
	_, mgmtURL := managementtest.Start(t, srv, amqpURL, 200*time.Millisecond)
	e.mgmtURL = mgmtURL
	e.user, e.pass, e.amqpURL = "guest", "guest", amqpURL
}

// name is a name unique to the test, with characters that need escaping
// in paths: a space, a slash and a percent sign.
func (e *env) name(what string) string {
	return fmt.Sprintf("api %s/%s %%%06x", strings.ReplaceAll(e.t.Name(), "/", "-"), what, rand.Uint32()&0xffffff)
}

// dial opens an AMQP connection to vhost ("" for the URL's own), closed
// when the test ends.
func (e *env) dial(vhost string, props amqp.Table) *amqp.Connection {
	e.t.Helper()
	c, err := e.dialErr(vhost, props)
	if err != nil {
		e.t.Fatalf("dial vhost %q: %v", vhost, err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

func (e *env) dialErr(vhost string, props amqp.Table) (*amqp.Connection, error) {
	cfg := amqp.Config{Properties: props, Dial: amqp.DefaultDial(waitTimeout)}
	if vhost != "" {
		cfg.Vhost = vhost
	}
	return amqp.DialConfig(e.amqpURL, cfg)
}

// channel opens a channel on a new connection to the default vhost.
func (e *env) channel() *amqp.Channel {
	e.t.Helper()
	ch, err := e.dial("", nil).Channel()
	if err != nil {
		e.t.Fatal(err)
	}
	return ch
}

// cleanupQueue deletes a queue of the default vhost when the test ends.
func (e *env) cleanupQueue(name string) {
	e.t.Cleanup(func() { e.rh.DeleteQueue("/", name) })
}

func (e *env) cleanupExchange(name string) {
	e.t.Cleanup(func() { e.rh.DeleteExchange("/", name) })
}

// do sends a request with the test's credentials; body is JSON-encoded
// unless it is a string or nil. It returns the status and the body.
func (e *env) do(method, path string, body any, header ...string) (int, []byte, http.Header) {
	e.t.Helper()
	return e.doAs(e.user, e.pass, method, path, body, header...)
}

func (e *env) doAs(user, pass, method, path string, body any, header ...string) (int, []byte, http.Header) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.mgmtURL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := (&http.Client{Timeout: waitTimeout}).Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return res.StatusCode, raw, res.Header
}

// getJSON GETs path and decodes the answer, failing unless 200.
func (e *env) getJSON(path string, into any) {
	e.t.Helper()
	code, raw, _ := e.do("GET", path, nil)
	if code != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", path, code, raw)
	}
	if err := json.Unmarshal(raw, into); err != nil {
		e.t.Fatalf("GET %s: %v in %s", path, err, raw)
	}
}

// wantError checks an error answer: status and the exact error body.
func (e *env) wantError(what string, code int, raw []byte, wantCode int, wantErr, wantReason string) {
	e.t.Helper()
	if code != wantCode {
		e.t.Errorf("%s: status %d, want %d (%s)", what, code, wantCode, raw)
		return
	}
	var body struct{ Error, Reason string }
	if err := json.Unmarshal(raw, &body); err != nil {
		e.t.Errorf("%s: body %q is not an error object: %v", what, raw, err)
		return
	}
	if body.Error != wantErr || body.Reason != wantReason {
		e.t.Errorf("%s: error %q reason %q, want %q %q", what, body.Error, body.Reason, wantErr, wantReason)
	}
}

// eventually polls cond until it holds or waitTimeout passes; it returns
// the last failure description.
func (e *env) eventually(what string, cond func() (ok bool, why string)) {
	e.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: not within %v: %s", what, waitTimeout, why)
		}
		<-tick.C
	}
}

// esc is a path segment as clients escape it ("/" is "%2F").
func esc(s string) string { return url.PathEscape(s) }

// amqpCode is the reply code of an amqp091 error, 0 if none.
func amqpCode(err error) int {
	var ae *amqp.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}

// timeoutC fires after waitTimeout.
func timeoutC() <-chan time.Time { return time.After(waitTimeout) }

// isStatus reports whether err is rabbit-hole's error for an HTTP status.
func isStatus(err error, code int) bool {
	var re rabbithole.ErrorResponse
	if errors.As(err, &re) {
		return re.StatusCode == code
	}
	var rp *rabbithole.ErrorResponse
	return errors.As(err, &rp) && rp.StatusCode == code
}

func jsonOf(v any) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}

func jsonInto(raw []byte, v any) error { return json.Unmarshal(raw, v) }
