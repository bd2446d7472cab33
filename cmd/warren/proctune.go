package main

import (
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// procTuner runs the broker on one processor (GOMAXPROCS 1) while it
// uses little CPU, and on all of them once it needs more. At moderate
// rates most of a message's cost is not the work but the hand-offs:
// a goroutine made ready on one processor while another is idle wakes
// a thread to run it there (futex, context switch, and the scheduler's
// spinning), several times per message or stream chunk. With one
// processor the goroutine runs on the thread that made it ready once
// that one waits. Measured here: 20-28% less broker CPU replaying a
// stream and about 20% less at 1,000 and 10,000 msg/s (AMQP). Flat out,
// where batches are large, the second processor is worth more than the
// hand-offs: the tuner goes back to all of them as soon as one
// processor is nearly saturated.
//
// GOMAXPROCS in the environment turns it off.
type procTuner struct {
	max       int           // the processors the runtime chose at start
	every     time.Duration // how often the CPU time is read
	low, high float64       // cores: under low for downAfter reads: 1; over high: max
	downAfter int
	cpu       func() time.Duration // the process's CPU time so far
	set       func(int)            // runtime.GOMAXPROCS's setter

	stop chan struct{}
	done sync.WaitGroup
}

// startProcTuner starts the tuner unless GOMAXPROCS is set or the
// runtime has one processor anyway (then it returns nil).
func startProcTuner() *procTuner {
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		return nil
	}
	t := newProcTuner(runtime.GOMAXPROCS(0), processCPU, func(n int) {
		if n == 1 {
			runtime.GOMAXPROCS(1)
			return
		}
		// The runtime's own choice again, which follows the cgroup's CPU
		// limit as it changes (an explicit GOMAXPROCS stops that).
		runtime.SetDefaultGOMAXPROCS()
	})
	if t == nil {
		return nil
	}
	t.done.Add(1)
	go t.run()
	return t
}

func newProcTuner(procs int, cpu func() time.Duration, set func(int)) *procTuner {
	if procs <= 1 {
		return nil
	}
	return &procTuner{max: procs, every: 250 * time.Millisecond, low: 0.5, high: 0.8, downAfter: 4,
		cpu: cpu, set: set, stop: make(chan struct{})}
}

// Stop ends the tuning with every processor in use.
func (t *procTuner) Stop() {
	if t == nil {
		return
	}
	close(t.stop)
	t.done.Wait()
	t.set(t.max)
}

func (t *procTuner) run() {
	defer t.done.Done()
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	s := procState{procs: t.max}
	last, at := t.cpu(), time.Now()
	for {
		select {
		case <-t.stop:
			return
		case now := <-tick.C:
			c := t.cpu()
			if n := t.next(&s, (c-last).Seconds()/now.Sub(at).Seconds()); n != 0 {
				t.set(n)
			}
			last, at = c, now
		}
	}
}

// procState is what the tuner knows between two reads.
type procState struct {
	procs int // GOMAXPROCS now
	quiet int // reads in a row under low
}

// next takes the cores used since the last read and returns the
// GOMAXPROCS to set (0: no change).
func (t *procTuner) next(s *procState, cores float64) int {
	switch {
	case s.procs > 1 && cores < t.low:
		if s.quiet++; s.quiet >= t.downAfter {
			s.procs, s.quiet = 1, 0
			return 1
		}
	case s.procs == 1 && cores > t.high:
		s.procs = t.max
		return t.max
	default:
		s.quiet = 0
	}
	return 0
}

// processCPU is the CPU time, user and system, this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
