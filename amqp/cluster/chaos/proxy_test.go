package chaos

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// echoServer answers every line with prefix + the line.
func echoServer(t *testing.T, prefix string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := io.WriteString(c, prefix+line); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func newTestProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := NewProxy(target, 7)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

type lineConn struct {
	net.Conn
	r *bufio.Reader
}

func dialLine(t *testing.T, addr string) *lineConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &lineConn{c, bufio.NewReader(c)}
}

// roundTrip sends a line and reads the answer within 5 s.
func (c *lineConn) roundTrip(line string) (string, error) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	s, err := c.r.ReadString('\n')
	return strings.TrimSuffix(s, "\n"), err
}

func TestProxyForwardsAndCuts(t *testing.T) {
	p := newTestProxy(t, echoServer(t, "a:"))
	c := dialLine(t, p.Addr())
	if got, err := c.roundTrip("one"); got != "a:one" || err != nil {
		t.Fatalf("through the proxy: %q, %v; want a:one", got, err)
	}
	p.Set(LinkState{Cut: true})
	if got, err := c.roundTrip("two"); err == nil {
		t.Fatalf("a cut link answered %q", got)
	}
	// A new connection on a cut link is closed at once.
	c2 := dialLine(t, p.Addr())
	if got, err := c2.roundTrip("three"); err == nil {
		t.Fatalf("a new connection on a cut link answered %q", got)
	}
	p.Heal()
	c3 := dialLine(t, p.Addr())
	if got, err := c3.roundTrip("four"); got != "a:four" || err != nil {
		t.Fatalf("after heal: %q, %v; want a:four", got, err)
	}
}

func TestProxyDelayKeepsOrder(t *testing.T) {
	const delay = 150 * time.Millisecond
	p := newTestProxy(t, echoServer(t, ""))
	c := dialLine(t, p.Addr())
	p.Set(LinkState{Delay: delay})
	start := time.Now()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	for _, s := range []string{"1", "2", "3"} {
		io.WriteString(c, s+"\n")
	}
	for _, want := range []string{"1", "2", "3"} {
		got, err := c.r.ReadString('\n')
		if err != nil || got != want+"\n" {
			t.Fatalf("delayed link: %q, %v; want %q", got, err, want)
		}
	}
	// Both ways go through the link's delay: at least twice it.
	if took := time.Since(start); took < 2*delay {
		t.Fatalf("round trips took %v through a link delayed by %v each way", took, delay)
	}
}

func TestProxyDropResets(t *testing.T) {
	p := newTestProxy(t, echoServer(t, ""))
	c := dialLine(t, p.Addr())
	if _, err := c.roundTrip("ok"); err != nil {
		t.Fatal(err)
	}
	p.Set(LinkState{Drop: 1})
	if got, err := c.roundTrip("dropped"); err == nil {
		t.Fatalf("a link dropping everything answered %q", got)
	}
}

func TestProxyRetargetAndDown(t *testing.T) {
	p := newTestProxy(t, echoServer(t, "a:"))
	c := dialLine(t, p.Addr())
	if got, _ := c.roundTrip("x"); got != "a:x" {
		t.Fatalf("got %q, want a:x", got)
	}
	p.SetTarget("") // the node is down
	if got, err := c.roundTrip("y"); err == nil {
		t.Fatalf("a link to a node that is down answered %q", got)
	}
	p.SetTarget(echoServer(t, "b:")) // restarted on another port
	c2 := dialLine(t, p.Addr())
	if got, err := c2.roundTrip("z"); got != "b:z" || err != nil {
		t.Fatalf("after retarget: %q, %v; want b:z", got, err)
	}
}

func TestFaultLinks(t *testing.T) {
	c := &Cluster{names: []string{"n1", "n2", "n3"}}
	for _, tc := range []struct {
		f    Fault
		want string
	}{
		{Fault{Kind: CutOneWay, Node: "n1", Peer: "n2"}, "n1>n2"},
		{Fault{Kind: Cut, Node: "n1", Peer: "n2"}, "n1>n2 n2>n1"},
		{Fault{Kind: Partition, Node: "n2"}, "n2>n1 n1>n2 n2>n3 n3>n2"},
		{Fault{Kind: Kill, Node: "n2"}, ""},
	} {
		var got []string
		for _, l := range c.links(tc.f) {
			got = append(got, l[0]+">"+l[1])
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("links of %s: %v, want %s", tc.f, got, tc.want)
		}
	}
}

func TestRandomScheduleIsSeeded(t *testing.T) {
	cfg := ScheduleConfig{Seed: 42, Faults: 200, Nodes: []string{"n1", "n2", "n3"}}
	a, b := RandomSchedule(cfg), RandomSchedule(cfg)
	kinds := map[Kind]int{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("fault %d: %s then %s from one seed", i, a[i], b[i])
		}
		kinds[a[i].Kind]++
		if (a[i].Kind == Cut || a[i].Kind == CutOneWay) && (a[i].Peer == "" || a[i].Peer == a[i].Node) {
			t.Fatalf("fault %d: %s has no other peer", i, a[i])
		}
		if a[i].Hold < 300*time.Millisecond || a[i].Hold > 2*time.Second {
			t.Fatalf("fault %d: hold %v out of range", i, a[i].Hold)
		}
	}
	for _, k := range AllKinds() {
		if kinds[k] == 0 {
			t.Errorf("200 faults and none of kind %s", k)
		}
	}
	if c := RandomSchedule(ScheduleConfig{Seed: 43, Faults: 200, Nodes: cfg.Nodes}); c[0] == a[0] && c[1] == a[1] && c[2] == a[2] {
		t.Errorf("seeds 42 and 43 begin alike: %v", c[:3])
	}
}
