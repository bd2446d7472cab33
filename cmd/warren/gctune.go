package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// gcTuner keeps the Go heap's collection target at heapFloor bytes or
// more: while the live heap is small, GOGC is raised so that the next
// collection comes at the floor instead of at twice the live heap; once
// the live heap is half the floor or more, GOGC is 100, the runtime's
// default. A broker's live heap is small at moderate rates (about 20 MiB,
// most of it Badger's memtable), so with GOGC 100 it collected every
// ~20 MiB allocated: every few seconds at 10,000 msg/s, each time with
// the mark worker taking one of the two processors of a small machine,
// which the latency tails felt. The heap then grows to the floor before a
// collection: that is the memory this costs, at most heapFloor over the
// live heap, and never past the soft memory limit (the watermark, set by
// newMonitor), which still makes the runtime collect harder as the
// process nears it.
//
// It retunes after every collection (a cleanup on an object each cycle
// frees), so an idle broker costs nothing; GOGC in the environment turns
// it off.
type gcTuner struct {
	floor   atomic.Int64 // bytes; 0: GOGC 100
	stopped atomic.Bool
	percent atomic.Int64 // the GOGC last set; only the cleanup goroutine sets it
	sample  []metrics.Sample
}

// heapFloorFor is the heap floor for a memory high watermark of wm bytes:
// 1/64 of it, between 16 and 64 MiB (16 MiB: 4x the runtime's own 4 MiB
// minimum heap). It is a small share of what the alarm allows.
func heapFloorFor(wm int64) int64 {
	return min(max(wm/64, 16<<20), 64<<20)
}

// startGCTuner starts tuning for the watermark wm, unless GOGC is set in
// the environment (then it returns nil and the runtime does as told).
func startGCTuner(wm int64) *gcTuner {
	if _, set := os.LookupEnv("GOGC"); set {
		return nil
	}
	return newGCTuner(wm)
}

func newGCTuner(wm int64) *gcTuner {
	t := &gcTuner{sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.percent.Store(100)
	t.floor.Store(heapFloorFor(wm))
	t.arm()
	return t
}

// SetWatermark moves the floor with the watermark (set at run time).
func (t *gcTuner) SetWatermark(wm int64) {
	if t != nil {
		t.floor.Store(heapFloorFor(wm))
	}
}

// Stop stops retuning and gives GOGC back its default.
func (t *gcTuner) Stop() {
	if t == nil {
		return
	}
	t.stopped.Store(true)
	debug.SetGCPercent(100)
}

// gcSentinel is the object whose collection marks the end of a cycle; it
// holds a pointer so that it is not a tiny allocation, whose cleanup may
// never run.
type gcSentinel struct{ _ *int }

func (t *gcTuner) arm() {
	runtime.AddCleanup(&gcSentinel{}, func(t *gcTuner) { t.cycle() }, t)
}

// cycle runs after a collection, on the runtime's cleanup goroutine.
func (t *gcTuner) cycle() {
	if t.stopped.Load() {
		return
	}
	metrics.Read(t.sample)
	if p := gcPercentFor(t.sample[0].Value.Uint64(), t.floor.Load()); int64(p) != t.percent.Load() && !t.stopped.Load() {
		t.percent.Store(int64(p))
		debug.SetGCPercent(p)
	}
	t.arm()
}

// gcPercentFor is the GOGC that puts the next collection at floor bytes
// for a live heap of live bytes, and 100 once twice the live heap is
// past the floor. It moves in steps of 25 so that a live heap wavering a
// little does not retune every cycle.
func gcPercentFor(live uint64, floor int64) int {
	if live == 0 || floor <= 0 || 2*live >= uint64(floor) {
		return 100
	}
	p := int(uint64(floor)*100/live) - 100
	return min(max(p/25*25, 100), 10000)
}
