package main

import (
	"context"
	"net"
	"os"
	"strconv"
	"testing"
	"time"
)

func TestProcParsing(t *testing.T) {
	stat := []byte("4242 (beam) (smp x) S 1 2700 2700 0 -1 4194304 1879617 0 3 0 4372 2079 0 0 20 0 20 0 9564 2288680960 31359\n")
	cpu, err := parseStatCPU(stat)
	if err != nil || cpu != (4372+2079)*10*time.Millisecond {
		t.Errorf("parseStatCPU = %v, %v", cpu, err)
	}
	if _, err := parseStatCPU([]byte("1 (x) S 1 2")); err == nil {
		t.Error("short stat parsed")
	}
	status := []byte("Name:\tbeam.smp\nVmHWM:\t  636372 kB\nVmRSS:\t  125684 kB\nThreads:\t12\n")
	rss, err := parseStatusRSS(status)
	if err != nil || rss != 125684*1024 {
		t.Errorf("parseStatusRSS = %d, %v", rss, err)
	}
	if _, err := parseStatusRSS([]byte("Name: x\n")); err == nil {
		t.Error("status without VmRSS parsed")
	}

	s, err := startSampler(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for i := range 3000000 { // some CPU for the sampler to see
		x += i % 7
	}
	b, err := s.stop()
	if err != nil || b.PeakRSS <= 0 || b.PeakRSS < b.StartRSS || b.CPU < 0 {
		t.Errorf("sampler on itself: %+v, %v (%d)", b, err, x)
	}
	if _, err := startSampler(1 << 30); err == nil {
		t.Error("a pid that does not exist was accepted")
	}
	var none *sampler
	if b, err := none.stop(); err != nil || b != (brokerStats{}) {
		t.Error("a nil sampler reported something")
	}
}

func TestListenInodes(t *testing.T) {
	table := []byte(`  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1629 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 89506 2 0 100 0 0 10 0
   1: 0100007F:1628 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 5555 2 0 100 0 0 10 0
   2: 00000000000000000000000000000000:1628 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   103        0 90893 1 0 100 0 0 10 0
`)
	if got := listenInodes(table, 0x1628); len(got) != 1 || got[0] != "90893" {
		t.Errorf("port 5672: %q, want the listening socket only", got)
	}
	if got := listenInodes(table, 0x1629); len(got) != 1 || got[0] != "89506" {
		t.Errorf("port 5673: %q", got)
	}
	if got := listenInodes(table, 80); len(got) != 0 {
		t.Errorf("port 80: %q", got)
	}
}

func TestWaitListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	url := "amqp://127.0.0.1:" + strconv.Itoa(port) + "/"
	ctx := context.Background()
	if ok, err := listensOn(os.Getpid(), port); !ok || err != nil {
		t.Fatalf("listensOn(self, %d) = %v, %v", port, ok, err)
	}
	if err := waitListening(ctx, url, os.Getpid(), 5*time.Second); err != nil {
		t.Errorf("with pid: %v", err)
	}
	if err := waitListening(ctx, url, 0, 5*time.Second); err != nil {
		t.Errorf("without pid: %v", err)
	}
	if err := waitListening(ctx, url, 1<<30, 5*time.Second); err == nil {
		t.Error("a pid that does not exist was waited for")
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "amqp://" + closed.Addr().String() + "/"
	closed.Close()
	if err := waitListening(ctx, closedURL, os.Getpid(), 200*time.Millisecond); err == nil {
		t.Error("a closed port was reported listening")
	}
}
