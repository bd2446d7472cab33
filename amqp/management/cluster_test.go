package management_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"testing"

	"github.com/warrenmq/warren/amqp/management"
	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
)

// refusingCluster is a Cluster whose Join and Leave must not be reached
// (the request is refused before) unless err is set, which they return.
type refusingCluster struct {
	t   *testing.T
	st  management.ClusterStatus
	err error
}

func (c refusingCluster) Status() management.ClusterStatus { return c.st }
func (c refusingCluster) Join(ctx context.Context, name, addr string) error {
	if c.err == nil {
		c.t.Errorf("Join(%q, %q) reached", name, addr)
	}
	return c.err
}
func (c refusingCluster) Leave(ctx context.Context, name string) error {
	if c.err == nil {
		c.t.Errorf("Leave(%q) reached", name)
	}
	return c.err
}
func (c refusingCluster) QueueReplicas(vhost, name string) (string, []string, []string, bool) {
	return "", nil, nil, false
}

func startClusterAPI(t *testing.T, cl management.Cluster) *api {
	t.Helper()
	users := []server.User{{Name: "guest", PasswordHash: server.HashPassword("guest"), Tags: []string{"administrator"}},
		{Name: "mon", PasswordHash: server.HashPassword("mon"), Tags: []string{"monitoring"}}}
	srv, amqpURL := servertest.StartServer(t, server.Config{Users: users})
	m, err := management.New(management.Config{Broker: srv.Broker(), Registry: srv, NodeName: "n1", Cluster: cl,
		Auth: management.AuthFunc(func(user, pass string, remote net.Addr) (management.User, error) {
			u, err := srv.Authenticate(user, pass, remote)
			return management.User{Name: u.Name, Tags: u.Tags, Vhosts: u.Vhosts}, err
		})})
	if err != nil {
		t.Fatal(err)
	}
	return &api{tb: t, url: "http://" + servertest.Serve(t, m, management.ErrServerClosed), amqpURL: amqpURL, broker: srv.Broker(), srv: srv, api: m}
}

// TestClusterBadInput: the cluster paths refuse bad input, a single node
// and non-administrators with RabbitMQ's error shape and a readable
// reason, and map the membership errors to their statuses.
func TestClusterBadInput(t *testing.T) {
	single := startClusterAPI(t, nil)
	code, raw := single.do("guest", "guest", "GET", "/api/warren/cluster", "")
	if code != 200 || !json.Valid(raw) || string(raw) != `{"clustered":false,"members":[],"node":"n1"}` {
		t.Errorf("GET /api/warren/cluster on a single node: %d %s", code, raw)
	}
	code, raw = single.do("guest", "guest", "POST", "/api/warren/cluster/members", `{"name":"n2","address":"127.0.0.1:1"}`)
	wantError(t, "join on a single node", code, raw, 400, "bad_request", "node 'n1' is not clustered: start it with --cluster-listen (and --node-name) to run Raft")

	a := startClusterAPI(t, refusingCluster{t: t, st: management.ClusterStatus{Node: "n1", Leader: "n1",
		Members: []management.ClusterMember{{Name: "n1", Voter: true, Leader: true, Running: true}, {Name: "n2", Voter: true}}}})
	for _, tc := range []struct {
		what, method, path, body string
		code                     int
		kind, reason             string
	}{
		{"no body", "POST", "/api/warren/cluster/members", "", 400, "bad_request", `want {"name": NODE, "address": "HOST:PORT"} (the new node's --node-name and --cluster-listen)`},
		{"no address", "POST", "/api/warren/cluster/members", `{"name":"n3"}`, 400, "bad_request", `want {"name": NODE, "address": "HOST:PORT"} (the new node's --node-name and --cluster-listen)`},
		{"bad timeout", "POST", "/api/warren/cluster/members?timeout=x", `{"name":"n3","address":"127.0.0.1:1"}`, 400, "bad_request", `timeout: want seconds, 1 to 600, got "x"`},
		{"bad timeout on leave", "DELETE", "/api/warren/cluster/members/n2?timeout=0", "", 400, "bad_request", `timeout: want seconds, 1 to 600, got "0"`},
	} {
		code, raw := a.do("guest", "guest", tc.method, tc.path, tc.body)
		wantError(t, tc.what, code, raw, tc.code, tc.kind, tc.reason)
	}
	for _, req := range [][2]string{{"GET", "/api/warren/cluster"}, {"POST", "/api/warren/cluster/members"}, {"DELETE", "/api/warren/cluster/members/n2"}} {
		if code, _ := a.do("mon", "mon", req[0], req[1], `{"name":"n3","address":"127.0.0.1:1"}`); code != http.StatusUnauthorized {
			t.Errorf("%s %s as a monitoring user: %d, want 401", req[0], req[1], code)
		}
	}

	// /api/nodes: both members; the one down shows running=false.
	var nodes []map[string]any
	code, raw = a.do("mon", "mon", "GET", "/api/nodes", "")
	if code != 200 || json.Unmarshal(raw, &nodes) != nil || len(nodes) != 2 {
		t.Fatalf("/api/nodes: %d %s", code, raw)
	}
	if nodes[0]["name"] != "n1" || nodes[0]["running"] != true || nodes[0]["uptime"] == nil ||
		nodes[1]["name"] != "n2" || nodes[1]["running"] != false || nodes[1]["type"] != "disc" {
		t.Fatalf("/api/nodes: %s", raw)
	}
	if code, _ := a.do("mon", "mon", "GET", "/api/nodes/n2", ""); code != 200 {
		t.Errorf("/api/nodes/n2: %d", code)
	}

	// The membership errors keep their statuses.
	for _, tc := range []struct {
		status int
		kind   string
	}{{404, "not_found"}, {409, "conflict"}, {400, "bad_request"}, {503, "unavailable"}} {
		e := &management.ClusterError{Status: tc.status, Err: errors.New("the reason")}
		b := startClusterAPI(t, refusingCluster{t: t, err: e})
		code, raw := b.do("guest", "guest", "DELETE", "/api/warren/cluster/members/n2?timeout=1", "")
		wantError(t, "leave refused", code, raw, tc.status, tc.kind, "the reason")
	}
	b := startClusterAPI(t, refusingCluster{t: t, err: context.DeadlineExceeded})
	code, raw = b.do("guest", "guest", "POST", "/api/warren/cluster/members", `{"name":"n3","address":"127.0.0.1:1"}`)
	wantError(t, "join not in time", code, raw, 503, "unavailable", context.DeadlineExceeded.Error())
}
