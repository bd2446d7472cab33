package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startClusterNode spawns a warren of a cluster: node name, peer link on
// peer, the API on 127.0.0.1:0, plus extra flags.
func startClusterNode(t *testing.T, dir, name, peer string, extra ...string) *ctlBroker {
	t.Helper()
	return startCtlBroker(t, dir, append([]string{"--prometheus-listen", "off", "--node-name", name, "--cluster-listen", peer}, extra...)...)
}

// apiGet GETs path from api as guest and decodes the JSON answer into v;
// it returns the status.
func apiGet(t *testing.T, api, path string, v any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", api+path, nil)
	req.SetBasicAuth("guest", "guest")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if v != nil && res.StatusCode == 200 {
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, raw)
		}
	}
	return res.StatusCode
}

type clusterView struct {
	Node, Leader string
	Removed      bool
	Term         uint64
	Commit       uint64 `json:"commit_index"`
	Applied      uint64 `json:"applied_index"`
	Members      []struct {
		Name, Role string
		Leader     bool
		Running    bool
		Lag        *uint64
		Match      *uint64 `json:"match_index"`
	}
}

// waitView polls GET /api/warren/cluster on b until ok holds.
func waitView(t *testing.T, b *ctlBroker, what string, ok func(v clusterView) bool) clusterView {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var v clusterView
		if apiGet(t, b.apiURL, "/api/warren/cluster", &v) == 200 && ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20s; last view %+v\n%s", what, v, b.p.output())
		}
		select {
		case <-time.After(50 * time.Millisecond): // poll
		case <-b.p.done:
			t.Fatalf("%s: the node exited:\n%s", what, b.p.output())
		}
	}
}

func voters(v clusterView) []string {
	var out []string
	for _, m := range v.Members {
		if m.Role == "voter" {
			out = append(out, m.Name)
		}
	}
	return out
}

func declareOn(t *testing.T, b *ctlBroker, queue string) {
	t.Helper()
	_, ch := dialCtl(t, b.amqpURL)
	if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
		t.Fatalf("declare %s: %v", queue, err)
	}
}

func waitQueueOn(t *testing.T, b *ctlBroker, queue string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for apiGet(t, b.apiURL, "/api/queues/%2F/"+queue, nil) != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("queue %s not on %s within 20s\n%s", queue, b.apiURL, b.p.output())
		}
		select {
		case <-time.After(50 * time.Millisecond): // poll
		case <-b.p.done:
			t.Fatalf("waiting for queue %s: the node exited:\n%s", queue, b.p.output())
		}
	}
}

// ctlFails runs `warren ctl args` and requires exit 1 with want in stderr.
func ctlFails(t *testing.T, api string, want string, args ...string) {
	t.Helper()
	r := runCtlIn(t, api, "", args...)
	if r.code != exitRefused || !strings.Contains(r.stderr, want) {
		t.Fatalf("warren ctl %s: exit %d, stderr %q; want exit 1 saying %q", strings.Join(args, " "), r.code, r.stderr, want)
	}
	t.Logf("warren ctl %s: %s", strings.Join(args, " "), strings.TrimSpace(r.stderr))
}

// TestCtlClusterMembership: real warren processes; one node, two more
// joined one at a time with `warren ctl cluster join` (each started empty
// with --cluster-join); declares on each reach all; status shows three
// voters with their lags; a node killed shows running=false in
// /api/nodes; one leaves, its Raft stops and says so, the two others go
// on with a quorum of two; restarts keep the membership; the refusals.
func TestCtlClusterMembership(t *testing.T) {
	names := []string{"n1", "n2", "n3"}
	peer, dir := map[string]string{}, map[string]string{}
	for _, n := range names {
		peer[n], dir[n] = freeAddr(t), t.TempDir()
	}
	nodes := map[string]*ctlBroker{}
	nodes["n1"] = startClusterNode(t, dir["n1"], "n1", peer["n1"])
	waitView(t, nodes["n1"], "n1 leads itself", func(v clusterView) bool { return v.Leader == "n1" })
	declareOn(t, nodes["n1"], "q-n1")

	joinArgs := func(n string) []string { // the members it can reach
		var ps []string
		for _, m := range names {
			if m != n && nodes[m] != nil {
				ps = append(ps, m+"="+peer[m])
			}
		}
		return []string{"--cluster-join", "--cluster-peers", strings.Join(ps, ",")}
	}
	args := map[string][]string{}
	for i, n := range names[1:] {
		args[n] = joinArgs(n)
		nodes[n] = startClusterNode(t, dir[n], n, peer[n], args[n]...)
		via := names[i] // n1 for n2, n2 (a follower) for n3
		out := ctlOK(t, nodes[via].apiURL, "cluster", "join", n+"="+peer[n])
		if !strings.Contains(out, "joined") {
			t.Fatalf("cluster join %s: %q", n, out)
		}
	}
	for _, n := range names {
		declareOn(t, nodes[n], "q-"+n+"-joined")
	}
	for _, n := range names {
		for _, m := range names {
			waitQueueOn(t, nodes[n], "q-"+m+"-joined")
		}
		waitQueueOn(t, nodes[n], "q-n1")
	}
	v := waitView(t, nodes["n1"], "a leader known", func(v clusterView) bool { return v.Leader != "" })
	leader := nodes[v.Leader]
	v = waitView(t, leader, "three voters, no lag, on the leader", func(v clusterView) bool {
		if len(voters(v)) != 3 {
			return false
		}
		for _, m := range v.Members {
			if !m.Running || m.Lag == nil || *m.Lag != 0 || m.Match == nil || *m.Match != v.Commit {
				return false
			}
		}
		return true
	})
	out := ctlOK(t, leader.apiURL, "cluster", "status")
	t.Logf("warren ctl cluster status (leader):\n%s", out)
	if strings.Count(out, "voter") != 3 || !strings.Contains(out, "leader "+v.Leader) {
		t.Fatalf("cluster status: %s", out)
	}

	// /api/nodes: every member, RabbitMQ's fields and Warren's.
	var list []map[string]any
	if code := apiGet(t, nodes["n2"].apiURL, "/api/nodes", &list); code != 200 || len(list) != 3 {
		t.Fatalf("/api/nodes on n2: %d, %d nodes", code, len(list))
	}
	for i, n := range list {
		wc, _ := n["warren_cluster"].(map[string]any)
		if n["name"] != names[i] || n["running"] != true || n["type"] != "disc" || wc["role"] != "voter" {
			t.Fatalf("/api/nodes[%d] = %v", i, n)
		}
		if n["name"] == "n2" && (n["uptime"] == nil || n["mem_used"] == nil || wc["applied_index"] == nil) {
			t.Fatalf("/api/nodes: the answering node lacks its figures: %v", n)
		}
	}
	if code := apiGet(t, nodes["n2"].apiURL, "/api/nodes/n3", nil); code != 200 {
		t.Fatalf("/api/nodes/n3: %d", code)
	}
	if code := apiGet(t, nodes["n2"].apiURL, "/api/nodes/nope", nil); code != 404 {
		t.Fatalf("/api/nodes/nope: %d, want 404", code)
	}

	// Refusals.
	ctlFails(t, nodes["n1"].apiURL, "409 Conflict: already a member", "cluster", "join", "n2="+peer["n2"])
	ctlFails(t, nodes["n1"].apiURL, "404 Not Found: not a member", "cluster", "leave", "zed")
	ctlFails(t, nodes["n1"].apiURL, "400 Bad Request", "cluster", "join", "n9=nowhere")
	if r := runCtlIn(t, nodes["n1"].apiURL, "", "cluster", "join", "n9"); r.code != exitUsage {
		t.Fatalf("cluster join without =ADDR: exit %d, want 2", r.code)
	}

	// A node killed shows as down; back, as up.
	nodes["n3"].p.cmd.Process.Kill()
	<-nodes["n3"].p.done
	waitView(t, nodes["n1"], "n3 down", func(v clusterView) bool {
		for _, m := range v.Members {
			if m.Name == "n3" {
				return !m.Running
			}
		}
		return false
	})
	if apiGet(t, nodes["n1"].apiURL, "/api/nodes/n3", &map[string]any{}) != 200 {
		t.Fatal("/api/nodes/n3 while down")
	}
	var n3 map[string]any
	apiGet(t, nodes["n1"].apiURL, "/api/nodes/n3", &n3)
	if n3["running"] != false {
		t.Fatalf("/api/nodes/n3 while it is down: %v, want running=false", n3)
	}
	nodes["n3"] = startClusterNode(t, dir["n3"], "n3", peer["n3"], args["n3"]...)
	waitQueueOn(t, nodes["n3"], "q-n1")

	// n3 leaves: its Raft stops and says so; n1 and n2 go on.
	ctlOK(t, nodes["n1"].apiURL, "cluster", "leave", "n3")
	if !nodes["n3"].p.wait(func(_, errs []string) bool {
		return strings.Contains(strings.Join(errs, "\n"), "this node was removed from the cluster")
	}) {
		t.Fatalf("n3 did not say it was removed:\n%s", nodes["n3"].p.output())
	}
	waitView(t, nodes["n3"], "n3 removed", func(v clusterView) bool { return v.Removed })
	for _, n := range []string{"n1", "n2"} {
		waitView(t, nodes[n], n+" sees two voters", func(v clusterView) bool { return strings.Join(voters(v), ",") == "n1,n2" })
	}
	nodes["n3"].p.cmd.Process.Kill()
	declareOn(t, nodes["n2"], "q-two")
	waitQueueOn(t, nodes["n1"], "q-two")

	// Restarts keep the membership (n2 still has --cluster-join: ignored).
	for _, n := range []string{"n1", "n2"} {
		nodes[n].p.cmd.Process.Signal(os.Interrupt)
		<-nodes[n].p.done
	}
	nodes["n1"] = startClusterNode(t, dir["n1"], "n1", peer["n1"])
	nodes["n2"] = startClusterNode(t, dir["n2"], "n2", peer["n2"], args["n2"]...)
	for _, n := range []string{"n1", "n2"} {
		waitView(t, nodes[n], n+" after restart", func(v clusterView) bool {
			return v.Leader != "" && strings.Join(voters(v), ",") == "n1,n2"
		})
	}
	declareOn(t, nodes["n1"], "q-restarted")
	waitQueueOn(t, nodes["n2"], "q-restarted")

	// The last voter cannot leave.
	ctlOK(t, nodes["n1"].apiURL, "cluster", "leave", "n2")
	ctlFails(t, nodes["n1"].apiURL, "409 Conflict: the last voter", "cluster", "leave", "n1")
}

// TestClusterConfigFile: the cluster settings from the configuration
// file's keys.
func TestClusterConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "warren.json")
	raw := `{"node_name": "n4", "cluster_listen": "127.0.0.1:25674", "cluster_peers": "n1=127.0.0.1:25671,n2=127.0.0.1:25672", "cluster_join": true}`
	if err := os.WriteFile(path, []byte(raw), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig([]string{"--config", path}, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if c.nodeName != "n4" || c.clusterListen != "127.0.0.1:25674" || !c.clusterJoin || c.clusterPeers != "n1=127.0.0.1:25671,n2=127.0.0.1:25672" {
		t.Fatalf("from the file: node %q listen %q peers %q join %v", c.nodeName, c.clusterListen, c.clusterPeers, c.clusterJoin)
	}
	if _, err := parsePeers(c.clusterPeers); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"cluster_peers": ["n1=127.0.0.1:1"]}`), 0o644)
	if _, err := loadConfig([]string{"--config", bad}, func(string) (string, bool) { return "", false }); err == nil || !strings.Contains(err.Error(), "cluster_peers") {
		t.Fatalf("a list for cluster_peers: %v, want an error naming the key", err)
	}
}

// TestClusterJoinFlagsRefused: --cluster-join without members to reach,
// or without a peer address of its own, is refused at start with a
// sentence naming the flags.
func TestClusterJoinFlagsRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--node-name", "n4", "--cluster-join"}, "--cluster-join needs --cluster-listen"},
		{[]string{"--node-name", "n4", "--cluster-join", "--cluster-listen", "127.0.0.1:0"}, "--cluster-peers must name members of the cluster to join"},
		{[]string{"--node-name", "n4", "--cluster-join", "--cluster-peers", "n1=127.0.0.1:1"}, "give --cluster-listen"},
	} {
		p := startWarren(t, nil, append([]string{"--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--prometheus-listen", "off", "--management-listen", "off"}, tc.args...)...)
		if code := p.exitCode(); code == 0 || !strings.Contains(p.output(), tc.want) {
			t.Errorf("warren %v: exit %d, output:\n%s\nwant an error saying %q", tc.args, code, p.output(), tc.want)
		}
	}
}
