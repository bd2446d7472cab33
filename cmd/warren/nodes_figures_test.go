package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestClusterAPINodesFigures: /api/nodes on one node of three shows each
// running member's own figures (memory, uptime, file descriptors, pid:
// fetched over the peer link), and a member killed with SIGKILL as
// running=false without figures, as RabbitMQ does.
func TestClusterAPINodesFigures(t *testing.T) {
	names := []string{"n1", "n2", "n3"}
	var peers []string
	addrs := map[string]string{}
	for _, n := range names {
		addrs[n] = freeAddr(t)
		peers = append(peers, n+"="+addrs[n])
	}
	nodes := map[string]*ctlBroker{}
	for _, n := range names {
		nodes[n] = startClusterNode(t, t.TempDir(), n, addrs[n], "--cluster-peers", strings.Join(peers, ","))
	}
	pids := map[string]string{}
	for _, n := range names {
		pids[n] = fmt.Sprint(nodes[n].p.cmd.Process.Pid)
	}
	type node struct {
		Name    string  `json:"name"`
		Running bool    `json:"running"`
		MemUsed float64 `json:"mem_used"`
		Uptime  float64 `json:"uptime"`
		FdUsed  float64 `json:"fd_used"`
		Pid     string  `json:"os_pid"`
		Procs   float64 `json:"processors"`
	}
	check := func(want map[string]bool) error {
		var got []node
		if code := apiGet(t, nodes["n1"].apiURL, "/api/nodes", &got); code != 200 {
			return fmt.Errorf("GET /api/nodes: %d", code)
		}
		if len(got) != 3 {
			return fmt.Errorf("%d nodes, want 3: %+v", len(got), got)
		}
		for _, g := range got {
			if g.Running != want[g.Name] {
				return fmt.Errorf("%s running %v, want %v", g.Name, g.Running, want[g.Name])
			}
			if !g.Running {
				if g.MemUsed != 0 || g.Pid != "" {
					return fmt.Errorf("%s is down but shows figures: %+v", g.Name, g)
				}
				continue
			}
			if g.MemUsed <= 0 || g.Uptime <= 0 || g.FdUsed <= 0 || g.Procs <= 0 || g.Pid != pids[g.Name] {
				return fmt.Errorf("%s's own figures missing or not its own (pid %s): %+v", g.Name, pids[g.Name], g)
			}
		}
		return nil
	}
	waitFor(t, 30*time.Second, func() error { return check(map[string]bool{"n1": true, "n2": true, "n3": true}) })
	nodes["n3"].p.cmd.Process.Signal(syscall.SIGKILL)
	<-nodes["n3"].p.done
	waitFor(t, 30*time.Second, func() error { return check(map[string]bool{"n1": true, "n2": true, "n3": false}) })
}

// waitFor polls cond until it returns nil or within passes.
func waitFor(t *testing.T, within time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(50 * time.Millisecond)
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
