package chaos

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

// startCluster starts a 3-node cluster of bin under t, torn down (every
// process killed) at the test's end, pass or fail; on failure the nodes'
// logs are named.
func startCluster(t *testing.T, bin string, seed uint64) *Cluster {
	t.Helper()
	c, err := Start(Config{Binary: bin, Dir: t.TempDir(), Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		if t.Failed() {
			for _, n := range c.Names() {
				t.Logf("log of %s: %s", n, c.LogPath(n))
				if b, err := os.ReadFile(c.LogPath(n)); err == nil && len(b) > 4000 {
					t.Logf("%s's last lines:\n%s", n, b[len(b)-4000:])
				}
			}
		}
	})
	return c
}

// TestFaults builds warren once and runs, on real processes, a short
// schedule with one fault of each kind against a durable classic queue
// on n1 (its messages are not replicated: every fault here keeps the
// guarantee on one node, a kill -9 of n1 included), and a control run in
// which the checker must find a loss.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs warren processes")
	}
	bin, err := BuildWarren(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Run("OneOfEachKind", func(t *testing.T) {
		c := startCluster(t, bin, 1)
		hold := 600 * time.Millisecond
		schedule := []Fault{
			{Kind: Kill, Node: "n1", Hold: hold}, // the queue's node: confirmed messages survive
			{Kind: Pause, Node: "n2", Hold: hold},
			{Kind: Stop, Node: "n3", Hold: hold},
			{Kind: Partition, Node: "n1", Hold: hold},
			{Kind: Cut, Node: "n2", Peer: "n3", Hold: hold},
			{Kind: CutOneWay, Node: "n1", Peer: "n2", Hold: hold},
			{Kind: Delay, Node: "n3", Delay: 80 * time.Millisecond, Hold: hold},
			{Kind: Drop, Node: "n2", Drop: 0.3, Hold: hold},
		}
		// CHAOS_QUEUE_TYPE=quorum: a quorum queue used through every node.
		w := &Workload{Target: DefaultTarget("chaos", os.Getenv("CHAOS_QUEUE_TYPE"), c.Names())}
		s := Run(context.Background(), RunConfig{Cluster: c, Workload: w, Defs: true, Seed: 1, Schedule: schedule, Order: true, Logf: t.Logf})
		t.Log("\n" + s.String())
		for _, fo := range s.Failovers {
			t.Logf("failover timeline, kill -9 of %s:\n%s", fo.Fault.Node, fo.Timeline)
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		for _, k := range AllKinds() {
			if s.Faults[k] != 1 {
				t.Errorf("faults of kind %s: %d, want 1", k, s.Faults[k])
			}
		}
		// The run proves something only if messages flowed across the
		// faults and definitions were committed.
		if s.Confirmed < 100 || s.Consumed < s.Confirmed {
			t.Errorf("confirmed %d, consumed %d: want at least 100, all consumed", s.Confirmed, s.Consumed)
		}
		if s.DefsOK < 10 {
			t.Errorf("definitions operations that succeeded: %d, want at least 10", s.DefsOK)
		}
		if len(s.Failovers) != 1 || !s.Failovers[0].OK {
			t.Errorf("failovers %+v: want the kill of n1, with confirms after it", s.Failovers)
		}
	})
	t.Run("DefinitionsAndTeardown", func(t *testing.T) {
		c := startCluster(t, bin, 3)
		w := &Workload{Target: Target{Queue: "agreed", Publish: []string{"n2"}}, URL: c.AMQPURL}
		ctx := context.Background()
		if err := w.Declare(ctx, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		committed := map[string]bool{"queue agreed": true}
		if n, samples := Converge(ctx, c.Names(), c.APIURL, committed, 10*time.Second); n != 0 {
			t.Fatalf("a queue declared on n2: %d disagreements %v", n, samples)
		}
		// The checker must see a committed object that no node has.
		committed["queue nowhere"] = true
		if n, _ := Converge(ctx, c.Names(), c.APIURL, committed, 200*time.Millisecond); n != 3 {
			t.Fatalf("a committed queue on no node: %d disagreements, want 3 (one per node)", n)
		}
		// Close leaves no process behind, a paused one included.
		if err := c.Pause("n3"); err != nil {
			t.Fatal(err)
		}
		pids := c.pids()
		c.Close()
		for n, pid := range pids {
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("%s (pid %d) still there after Close: %v", n, pid, err)
			}
		}
	})
	t.Run("CheckerFindsTransientLoss", func(t *testing.T) {
		// Transient messages are confirmed without being written: a kill -9
		// of their node loses them, and the checker must say so.
		c := startCluster(t, bin, 2)
		w := &Workload{Target: Target{Queue: "transient", Publish: []string{"n1"}, Consume: []string{"n1"}},
			Transient: true, Prefetch: 1}
		s := Run(context.Background(), RunConfig{Cluster: c, Workload: w, Warmup: time.Second,
			Schedule: []Fault{{Kind: Kill, Node: "n1", Hold: 200 * time.Millisecond}}, Drain: 3 * time.Second, Logf: t.Logf})
		t.Log("\n" + s.String())
		if s.Lost == 0 || s.Result.Err() == nil {
			t.Fatalf("lost %d after kill -9 under transient messages: the checker should have found a loss", s.Lost)
		}
	})
}
