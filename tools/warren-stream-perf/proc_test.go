package main

import (
	"os"
	"testing"
	"time"
)

// The /proc readers see this process: some CPU, some RSS; nothing
// without a PID.
func TestProcReaders(t *testing.T) {
	x := 0
	for i := range 20_000_000 {
		x += i
	}
	_ = x
	if cpuTime(os.Getpid()) <= 0 {
		t.Error("no CPU time for this process")
	}
	if rss(os.Getpid()) <= 0 {
		t.Error("no RSS for this process")
	}
	if cpuTime(0) != 0 || rss(0) != 0 {
		t.Error("figures without a PID")
	}
	s := sampleRSS(os.Getpid())
	if s.Stop() <= 0 {
		t.Error("the sampler saw no RSS")
	}
}

func TestPartitionIndex(t *testing.T) {
	for in, want := range map[string]int{"orders-0": 0, "orders-5": 5, "a-b-3": 3, "orders-6": -1, "orders": -1, "orders-x": -1} {
		if got := partitionIndex(in); got != want {
			t.Errorf("partitionIndex(%q) = %d, want %d", in, got, want)
		}
	}
}

// TestPacerHoldsRate: a paced member never runs ahead of its rate by more
// than the millisecond it lets pass (a lower bound only: a slow machine
// may take longer); no rate, no pacing.
func TestPacerHoldsRate(t *testing.T) {
	newPacer(0).take() // nil: returns at once
	p := newPacer(10_000)
	start := time.Now()
	for range 300 {
		p.take()
	}
	if el := time.Since(start); el < 28*time.Millisecond {
		t.Fatalf("300 messages at 10,000 msg/s in %v: ran ahead", el)
	}
}
