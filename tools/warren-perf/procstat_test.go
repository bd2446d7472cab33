package main

import (
	"os"
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
