package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/amqp/management"
	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/storage"
)

// testCluster is a cluster of in-process nodes on 127.0.0.1:0: each a
// store, a cluster Node, an AMQP server and (on demand) the HTTP API.
type testCluster struct {
	t     testing.TB
	peers map[string]string
	lns   map[string]net.Listener // peer listeners of nodes not running
	nodes map[string]*testNode
	dirs  map[string]string
	tune  func(*Config)
}

type testNode struct {
	name     string
	st       *storage.Store
	node     *Node
	srv      *server.Server
	amqpLn   net.Listener
	served   chan error
	apiURL   string
	stopAPI  func()
	amqpAddr string
}

// newCluster makes the listeners of every node named (so that each knows
// the others' addresses) and starts those in start.
func newCluster(t testing.TB, names []string, tune func(*Config), start ...string) *testCluster {
	t.Helper()
	c := &testCluster{t: t, peers: map[string]string{}, lns: map[string]net.Listener{}, nodes: map[string]*testNode{},
		dirs: map[string]string{}, tune: tune}
	for _, n := range names {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c.lns[n], c.peers[n], c.dirs[n] = ln, ln.Addr().String(), t.TempDir()
	}
	t.Cleanup(func() {
		for n := range c.nodes {
			c.stop(n)
		}
		for _, ln := range c.lns {
			ln.Close()
		}
	})
	for _, n := range start {
		c.start(n)
	}
	return c
}

func (c *testCluster) start(name string) *testNode {
	t := c.t
	t.Helper()
	ln := c.lns[name]
	if ln == nil { // restarted: the same peer address again
		var err error
		if ln, err = net.Listen("tcp", c.peers[name]); err != nil {
			t.Fatal(err)
		}
	}
	delete(c.lns, name)
	st, err := storage.Open(storage.Options{Dir: filepath.Join(c.dirs[name], "store")})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Name: name, Listener: ln, Peers: c.peers, Dir: filepath.Join(c.dirs[name], "raft"),
		Tick: 20 * time.Millisecond, ProposeTimeout: 5 * time.Second}
	if c.tune != nil {
		c.tune(&cfg)
	}
	node, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Store: st, Replicator: node, Heartbeat: server.NoHeartbeat,
		Users: []server.User{{Name: "guest", PasswordHash: server.HashPassword("guest"), Tags: []string{"administrator"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Start(srv.Broker()); err != nil {
		t.Fatal(err)
	}
	aln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tn := &testNode{name: name, st: st, node: node, srv: srv, amqpLn: aln, served: make(chan error, 1), amqpAddr: aln.Addr().String()}
	go func() { tn.served <- srv.Serve(aln) }()
	c.nodes[name] = tn
	return tn
}

// restartAll stops the nodes named, then starts them all again, and
// waits for a metadata leader.
func (c *testCluster) restartAll(names ...string) {
	c.t.Helper()
	for _, n := range names {
		c.stop(n)
	}
	for _, n := range names {
		c.start(n)
	}
	c.waitLeader()
}

// stop shuts a node down: its AMQP server, HTTP API, Raft node and store.
func (c *testCluster) stop(name string) {
	tn := c.nodes[name]
	delete(c.nodes, name)
	if tn.stopAPI != nil {
		tn.stopAPI()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tn.srv.Shutdown(ctx)
	<-tn.served
	if err := tn.node.Stop(); err != nil {
		c.t.Error(err)
	}
	tn.srv.Broker().Stop()
	if err := tn.st.Close(); err != nil {
		c.t.Error(err)
	}
}

// lose stops a node's Raft node alone, as a node lost to the others would
// be, its AMQP server still serving its clients (so their channels do not
// close and settle anything); the rest stops at the test's end.
func (c *testCluster) lose(name string) {
	tn := c.nodes[name]
	delete(c.nodes, name)
	if err := tn.node.Stop(); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		tn.srv.Shutdown(ctx)
		<-tn.served
		tn.srv.Broker().Stop()
		tn.st.Close()
	})
}

// api starts the management HTTP API of a node.
func (c *testCluster) api(name string) string {
	tn := c.nodes[name]
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	api, err := management.New(management.Config{Broker: tn.srv.Broker(), Registry: tn.srv,
		Auth: management.AuthFunc(func(user, pass string, remote net.Addr) (management.User, error) {
			u, err := tn.srv.Authenticate(user, pass, remote)
			return management.User{Name: u.Name, Tags: u.Tags, Vhosts: u.Vhosts}, err
		})})
	if err != nil {
		c.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); api.Serve(ln) }()
	tn.stopAPI = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		api.Shutdown(ctx)
		<-done
	}
	tn.apiURL = "http://" + ln.Addr().String()
	return tn.apiURL
}

// waitLeader waits until every running node knows the same leader, and
// returns it.
func (c *testCluster) waitLeader() string {
	c.t.Helper()
	var leader string
	eventually(c.t, 10*time.Second, func() error {
		leader = ""
		for _, tn := range c.nodes {
			s := tn.node.Status()
			if s.Leader == "" || (leader != "" && s.Leader != leader) {
				return fmt.Errorf("node %s sees leader %q", tn.name, s.Leader)
			}
			leader = s.Leader
		}
		return nil
	})
	return leader
}

func (c *testCluster) running() []string {
	var out []string
	for n := range c.nodes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (c *testCluster) dial(name, user, pass string) (*amqp091.Connection, error) {
	return amqp091.Dial(fmt.Sprintf("amqp://%s:%s@%s/", user, pass, c.nodes[name].amqpAddr))
}

func (c *testCluster) mustDial(name string) *amqp091.Connection {
	c.t.Helper()
	conn, err := c.dial(name, "guest", "guest")
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { conn.Close() })
	return conn
}

// passive runs fn on a fresh channel of conn (a failed passive declare
// closes its channel).
func passive(conn *amqp091.Connection, fn func(ch *amqp091.Channel) error) error {
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	return fn(ch)
}

// eventually polls cond until it returns nil or the deadline passes.
func eventually(t testing.TB, within time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %v", within, err)
		}
		<-tick.C
	}
}

// httpDo sends an authenticated request to the HTTP API and checks its
// status.
func httpDo(t *testing.T, method, url, body string, want int) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("guest", "guest")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %s, want %d", method, url, resp.Status, want)
	}
}

func amqpCode(err error) int {
	var ae *amqp091.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}
