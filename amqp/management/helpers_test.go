package management_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/amqp/management"
	"github.com/warrenmq/warren/amqp/management/managementtest"
	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
)

// api is an in-process Warren with its management API, both on
// 127.0.0.1:0.
type api struct {
	tb      testing.TB
	url     string // http://127.0.0.1:port
	amqpURL string // as guest
	broker  *broker.Broker
	srv     *server.Server
	api     *management.Server
}

// startAPI starts Warren with guest (administrator) and users, and the
// API over it with a short statistics interval.
func startAPI(tb testing.TB, users []server.User) *api {
	tb.Helper()
	users = append([]server.User{{Name: "guest", PasswordHash: server.HashPassword("guest"), Tags: []string{"administrator"}}}, users...)
	srv, amqpURL := servertest.StartServer(tb, server.Config{Users: users, Vhosts: []string{"/", "other"}})
	m, mgmtURL := managementtest.Start(tb, srv, amqpURL, statsInterval(tb))
	return &api{tb: tb, url: mgmtURL, amqpURL: amqpURL, broker: srv.Broker(), srv: srv, api: m}
}

// do sends a request as user (no credentials when user is "") and
// returns the status and the body.
func (a *api) do(user, pass, method, path, body string) (int, []byte) {
	a.tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.url+path, rd)
	if err != nil {
		a.tb.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.tb.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		a.tb.Fatal(err)
	}
	return res.StatusCode, raw
}

// wantError checks an error answer's status and body.
func wantError(t *testing.T, what string, code int, raw []byte, wantCode int, wantErr, wantReason string) {
	t.Helper()
	var body struct{ Error, Reason string }
	if code != wantCode || json.Unmarshal(raw, &body) != nil || body.Error != wantErr || body.Reason != wantReason {
		t.Errorf("%s: %d %s, want %d {%q %q}", what, code, raw, wantCode, wantErr, wantReason)
	}
}

// statsInterval is short for tests (rates show fast) and RabbitMQ's 5 s
// for benchmarks (a pass over 10,000 queues every 100 ms would be
// measured with them).
func statsInterval(tb testing.TB) time.Duration {
	if _, ok := tb.(*testing.B); ok {
		return 5 * time.Second
	}
	return 100 * time.Millisecond
}
