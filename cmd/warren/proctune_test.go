package main

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestProcTunerSteps: one processor after downAfter quiet reads in a
// row (a busy read in between starts the count again), all of them back
// at the first read over high, nothing when the runtime has one.
func TestProcTunerSteps(t *testing.T) {
	if newProcTuner(1, processCPU, func(int) {}) != nil {
		t.Fatal("a tuner for one processor")
	}
	tu := newProcTuner(4, processCPU, func(int) {})
	s := procState{procs: 4}
	var got []int
	for _, cores := range []float64{0.1, 0.2, 0.6, 0.1, 0.1, 0.1, 0.1, 0.7, 0.79, 0.9, 0.3, 0.3, 0.3, 0.3} {
		got = append(got, tu.next(&s, cores))
	}
	want := []int{0, 0, 0, 0, 0, 0, 1, 0, 0, 4, 0, 0, 0, 1}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("steps %v, want %v", got, want)
		}
	}
}

// TestProcTunerRuns: started on a fake clock of CPU, the tuner sets one
// processor while the process is idle and all of them once it is busy,
// and all of them again when stopped.
func TestProcTunerRuns(t *testing.T) {
	sets := make(chan int, 16)
	var busy atomic.Bool
	var cpu time.Duration // read and moved by the tuner's goroutine only
	last := time.Now()
	tu := newProcTuner(2, func() time.Duration {
		now := time.Now()
		if busy.Load() {
			cpu += now.Sub(last) // one whole core
		}
		last = now
		return cpu
	}, func(n int) { sets <- n })
	tu.every = time.Millisecond
	tu.done.Add(1)
	go tu.run()
	if n := <-sets; n != 1 {
		t.Fatalf("idle: %d processors, want 1", n)
	}
	busy.Store(true)
	if n := <-sets; n != 2 {
		t.Fatalf("busy: %d processors, want 2", n)
	}
	tu.Stop()
	final := 0
	for len(sets) > 0 {
		final = <-sets
	}
	if final != 2 {
		t.Fatalf("stopped at %d processors, want 2", final)
	}
}
