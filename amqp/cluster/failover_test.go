package cluster

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"
)

// productionTicks gives the nodes the default tick (100 ms) and election
// timeout (10 ticks: 1-2 s randomised), so that a failover faster than
// an election timeout can only come from failover.go.
func productionTicks(c *Config) { c.Tick, c.ElectionTicks = 100*time.Millisecond, 10 }

// TestFailoverOnLeaderNodeDown: the node leading a quorum queue (and
// maybe the metadata group) stops; its links close and its port refuses,
// so the others elect a new leader well within one election timeout
// (1 s), and a publish on a survivor is confirmed.
func TestFailoverOnLeaderNodeDown(t *testing.T) {
	names := []string{"a", "b", "c"}
	c := newCluster(t, names, productionTicks, names...)
	c.waitLeader()
	leader := c.declareQuorum("a", "fo", nil)
	metaLeader := c.waitLeader()
	survivor := c.other(leader)

	start := time.Now()
	c.stop(leader)
	stopped := time.Since(start)
	var took time.Duration
	deadline := time.Now().Add(10 * time.Second)
	poll := time.NewTicker(2 * time.Millisecond)
	defer poll.Stop()
	for {
		err := func() error {
			for _, tn := range c.nodes {
				s, _ := tn.node.QueueStatus("/", "fo")
				if s.Member && (s.Leader == "" || s.Leader == leader) {
					return fmt.Errorf("node %s sees leader %q", tn.name, s.Leader)
				}
			}
			if metaLeader == leader {
				for _, tn := range c.nodes {
					if l := tn.node.Status().Leader; l == "" || l == leader {
						return fmt.Errorf("node %s sees metadata leader %q", tn.name, l)
					}
				}
			}
			return nil
		}()
		if err == nil {
			took = time.Since(start)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new leader 10 s after %s stopped: %v", leader, err)
		}
		<-poll.C
	}
	t.Logf("leader %s (metadata %s) stopped in %v; new leaders seen %v after the stop began", leader, metaLeader, stopped, took)
	if took-stopped > 600*time.Millisecond {
		t.Errorf("new leader %v after %s's node had stopped: no faster than an election timeout (1-2 s)", took-stopped, leader)
	}
	if acked, nacked := publishConfirmed(t, c.mustDial(survivor), "fo", 0, 10); acked != 10 || nacked != 0 {
		t.Fatalf("after failover: acked %d nacked %d of 10", acked, nacked)
	}
}

// TestFailoverFalseAlarmKeepsLeader: one follower wrongly takes the
// leader's node for down (as a link that fails between those two alone
// would make it): PreVote and CheckQuorum keep the healthy leader, in the
// same term, for the queue's group and the metadata group.
func TestFailoverFalseAlarmKeepsLeader(t *testing.T) {
	names := []string{"a", "b", "c"}
	c := newCluster(t, names, productionTicks, names...)
	metaLeader := c.waitLeader()
	leader := c.declareQuorum("a", "fa", nil)
	qs, _ := c.nodes[leader].node.QueueStatus("/", "fa")
	metaTerm := c.nodes[metaLeader].node.Status().Term
	// The follower with rank 0 (it stands at once).
	follower := ""
	for _, n := range names {
		if n != leader && (follower == "" || NodeID(n) < NodeID(follower)) {
			follower = n
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 3 {
		if err := c.nodes[follower].node.inLoop(ctx, func(l *loop) {
			l.peerDown(NodeID(leader))
			if metaLeader != leader {
				l.peerDown(NodeID(metaLeader))
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Two election timeouts and more: the leader and the term hold.
	watch := time.NewTicker(50 * time.Millisecond)
	defer watch.Stop()
	for end := time.Now().Add(2500 * time.Millisecond); time.Now().Before(end); <-watch.C {
		for _, tn := range c.nodes {
			s, _ := tn.node.QueueStatus("/", "fa")
			if s.Member && s.Term > qs.Term {
				t.Fatalf("node %s: queue term %d (leader %q), was %d under %s: the false alarm unseated the leader", tn.name, s.Term, s.Leader, qs.Term, leader)
			}
			if st := tn.node.Status(); st.Term > metaTerm {
				t.Fatalf("node %s: metadata term %d (leader %q), was %d under %s", tn.name, st.Term, st.Leader, metaTerm, metaLeader)
			}
		}
	}
	if got := c.queueLeader("fa", ""); got != leader {
		t.Fatalf("queue leader %s, was %s", got, leader)
	}
	if acked, _ := publishConfirmed(t, c.mustDial(follower), "fa", 0, 5); acked != 5 {
		t.Fatalf("acked %d of 5 after the false alarm", acked)
	}
}

// TestFailoverConfirmGap: a publisher on a follower keeps 32 messages in
// flight while the leader's node stops; confirms stop for less than an
// election timeout, and every confirmed message is consumed.
func TestFailoverConfirmGap(t *testing.T) {
	names := []string{"a", "b", "c"}
	c := newCluster(t, names, productionTicks, names...)
	c.waitLeader()
	leader := c.declareQuorum("a", "gap", nil)
	pubNode := c.other(leader)
	ch, err := c.mustDial(pubNode).Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := ch.NotifyPublish(make(chan amqp091.Confirmation, 64))
	const window = 32
	var (
		sent, acked int
		last        = time.Now()
		maxGap      time.Duration
		stoppedAt   time.Time
		gapAt       time.Time
	)
	publish := func() {
		if err := ch.Publish("", "gap", false, false, amqp091.Publishing{DeliveryMode: amqp091.Persistent, Body: []byte(strconv.Itoa(sent))}); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	for range window {
		publish()
	}
	start := time.Now()
	timeout := time.After(30 * time.Second)
	for time.Since(start) < 4*time.Second {
		if stoppedAt.IsZero() && time.Since(start) > time.Second {
			stoppedAt = time.Now()
			c.stop(leader)
		}
		select {
		case cf := <-confirms:
			now := time.Now()
			if g := now.Sub(last); g > maxGap && !stoppedAt.IsZero() {
				maxGap, gapAt = g, last
			}
			last = now
			if !cf.Ack {
				t.Fatalf("message %d nacked", cf.DeliveryTag-1)
			}
			acked++
			publish()
		case <-timeout:
			t.Fatalf("%d confirms of %d sent after 30 s", acked, sent)
		}
	}
	t.Logf("leader %s stopped at +%v; %d confirmed; longest gap %v from +%v", leader, stoppedAt.Sub(start), acked, maxGap, gapAt.Sub(start))
	if maxGap > 700*time.Millisecond {
		t.Errorf("confirms stopped for %v around the failover (the election timeout is 1-2 s)", maxGap)
	}
	bodies, _, _ := consume(t, c.mustDial(c.other()), "gap", 100, acked, true)
	seen := map[string]bool{}
	for _, b := range bodies {
		seen[b] = true
	}
	for i := range acked {
		if !seen[strconv.Itoa(i)] {
			t.Fatalf("confirmed message %d lost", i)
		}
	}
}

// TestProbe: a probe reports a peer down when its port refuses, or when
// the far end closes the connection at once (a proxy in front of a dead
// node); not when a live peer's transport accepts it, and that peer
// takes the probe (no hello) for no lost link of its own, so the two do
// not probe each other in turn.
func TestProbe(t *testing.T) {
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	probe := func(addr string) []report {
		var mu sync.Mutex
		var got []report
		tr := newTransport(1, map[uint64]string{2: addr}, zap.NewNop(), func(groupMsg) bool { return true },
			func(r report) { mu.Lock(); got = append(got, r); mu.Unlock() })
		tr.probe(2)
		tr.wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return got
	}
	down := func(rs []report) bool {
		return slices.ContainsFunc(rs, func(r report) bool { return r.down && r.to == 2 })
	}

	closed := listen()
	addr := closed.Addr().String()
	closed.Close()
	if rs := probe(addr); !down(rs) {
		t.Errorf("refused: reports %+v, want down", rs)
	}

	proxy := listen()
	defer proxy.Close()
	go func() {
		for {
			c, err := proxy.Accept()
			if err != nil {
				return
			}
			c.Close() // its own dial to the dead node was refused
		}
	}()
	if rs := probe(proxy.Addr().String()); !down(rs) {
		t.Errorf("closed at once: reports %+v, want down", rs)
	}

	var mu sync.Mutex
	var peerReports []report
	live := newTransport(2, nil, zap.NewNop(), func(groupMsg) bool { return true },
		func(r report) { mu.Lock(); peerReports = append(peerReports, r); mu.Unlock() })
	ln := listen()
	live.start(ln)
	if rs := probe(ln.Addr().String()); down(rs) {
		t.Errorf("live peer: reports %+v, want none down", rs)
	}
	eventually(t, 5*time.Second, func() error { // its reader of the probe ends
		live.mu.Lock()
		defer live.mu.Unlock()
		if len(live.mu.inbound) > 0 {
			return fmt.Errorf("%d inbound connections", len(live.mu.inbound))
		}
		return nil
	})
	live.close(ln)
	mu.Lock()
	defer mu.Unlock()
	if len(peerReports) > 0 {
		t.Errorf("the probed peer reported %+v: it would probe back", peerReports)
	}
}
