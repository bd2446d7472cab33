package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestGCPercentFor(t *testing.T) {
	const MiB = 1 << 20
	for _, c := range []struct {
		live  uint64
		floor int64
		want  int
	}{
		{20 * MiB, 64 * MiB, 200},  // next collection at 60 MiB, under the floor
		{10 * MiB, 64 * MiB, 525},  // 64/10 - 1 = 5.4, in steps of 25
		{32 * MiB, 64 * MiB, 100},  // twice the live heap reaches the floor
		{200 * MiB, 64 * MiB, 100}, // a large heap: the default
		{1, 64 * MiB, 10000},       // capped
		{0, 64 * MiB, 100},         // no collection yet
		{20 * MiB, 0, 100},         // no floor
	} {
		if got := gcPercentFor(c.live, c.floor); got != c.want {
			t.Errorf("gcPercentFor(%d MiB, %d MiB) = %d, want %d", c.live/MiB, c.floor/MiB, got, c.want)
		}
	}
	for _, c := range []struct{ wm, want int64 }{{0, 16 << 20}, {2 << 30, 32 << 20}, {16 << 30, 64 << 20}} {
		if got := heapFloorFor(c.wm); got != c.want {
			t.Errorf("heapFloorFor(%d) = %d, want %d", c.wm, got, c.want)
		}
	}
}

// After a collection the tuner sets GOGC for the live heap it left, and
// Stop gives the default back.
func TestGCTunerRetunesAfterEachCollection(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	tu := newGCTuner(4 << 30) // floor 64 MiB, far above this test's live heap
	defer tu.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for tu.percent.Load() == 100 {
		if time.Now().After(deadline) {
			t.Fatal("GOGC still 100 after 10 s of collections, with a live heap far under the 64 MiB floor")
		}
		runtime.GC()
		runtime.Gosched()
	}
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	p := tu.percent.Load()
	if got := debug.SetGCPercent(int(p)); int64(got) != p {
		t.Errorf("the runtime's GOGC is %d, the tuner's %d", got, p)
	}
	if p <= 100 {
		t.Errorf("GOGC %d with a live heap of %d bytes under a 64 MiB floor, want more than 100", p, s[0].Value.Uint64())
	}
	tu.Stop()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC %d after Stop, want 100", got)
	}
}
