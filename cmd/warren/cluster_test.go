package main

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

func TestParsePeers(t *testing.T) {
	got, err := parsePeers(" a=127.0.0.1:7001, b=[::1]:7002 ,")
	if err != nil || len(got) != 2 || got["a"] != "127.0.0.1:7001" || got["b"] != "[::1]:7002" {
		t.Fatalf("parsePeers = %v, %v", got, err)
	}
	for _, bad := range []string{"a", "a=", "=127.0.0.1:1", "a=nohost", "a=127.0.0.1:1,a=127.0.0.1:2"} {
		if _, err := parsePeers(bad); err == nil || !strings.Contains(err.Error(), "--cluster-peers") {
			t.Errorf("parsePeers(%q) = %v, want an error naming --cluster-peers", bad, err)
		}
	}
}

// freeAddr is a loopback address with a port the system just chose (the
// peers' addresses must be known before the nodes start).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitQueue(t *testing.T, p *brokerProc, name string) {
	t.Helper()
	conn := p.dial()
	defer conn.Close()
	deadline := time.Now().Add(crashWait)
	for {
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		_, err = ch.QueueDeclarePassive(name, true, false, false, false, nil)
		if err == nil {
			ch.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue %s not on the node within %v: %v\n%s", name, crashWait, err, p.tail())
		}
		select {
		case <-time.After(20 * time.Millisecond): // poll
		case <-p.exited:
			t.Fatalf("the node exited:\n%s", p.tail())
		}
	}
}

// TestClusterProcesses: three warren processes started with the cluster
// flags; a queue declared on one is on the others; a node killed with
// SIGKILL and restarted catches up on what it missed.
func TestClusterProcesses(t *testing.T) {
	names := []string{"n1", "n2", "n3"}
	var peers []string
	addrs := map[string]string{}
	for _, n := range names {
		addrs[n] = freeAddr(t)
		peers = append(peers, n+"="+addrs[n])
	}
	dirs := map[string]string{}
	args := func(n string) []string {
		return []string{"--node-name", n, "--cluster-listen", addrs[n], "--cluster-peers", strings.Join(peers, ","), "--prometheus-listen", "off"}
	}
	procs := map[string]*brokerProc{}
	for _, n := range names {
		dirs[n] = t.TempDir()
		procs[n] = startBroker(t, dirs[n], args(n)...)
	}
	declare := func(p *brokerProc, name string) {
		t.Helper()
		conn := p.dial()
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ch.QueueDeclare(name, true, false, false, false, amqp091.Table{"x-max-length": int32(7)}); err != nil {
			t.Fatalf("declare %s: %v\n%s", name, err, p.tail())
		}
	}
	declare(procs["n1"], "first")
	for _, n := range names {
		waitQueue(t, procs[n], "first")
	}
	procs["n3"].kill()
	for i := range 5 {
		declare(procs["n2"], fmt.Sprintf("missed-%d", i))
	}
	procs["n3"] = startBroker(t, dirs["n3"], args("n3")...)
	for i := range 5 {
		waitQueue(t, procs["n3"], fmt.Sprintf("missed-%d", i))
	}
	waitQueue(t, procs["n3"], "first")
	for _, n := range names {
		procs[n].term()
	}
}

func TestClusterFlagsRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--node-name", "x", "--cluster-peers", "a=127.0.0.1:1,b=127.0.0.1:2"}, "does not name this node"},
		{[]string{"--node-name", "a", "--cluster-peers", "a=127.0.0.1:1,b"}, "is not NAME=ADDR"},
	} {
		p := startWarren(t, nil, append([]string{"--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--prometheus-listen", "off"}, tc.args...)...)
		if code := p.exitCode(); code == 0 || !strings.Contains(p.output(), tc.want) {
			t.Errorf("warren %v: exit %d, output:\n%s\nwant an error saying %q", tc.args, code, p.output(), tc.want)
		}
	}
}
