package alarm

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestParseWatermark(t *testing.T) {
	for in, want := range map[string]Watermark{
		"0.6":        {Fraction: 0.6},
		"1":          {Fraction: 1},
		"0.4 ":       {Fraction: 0.4},
		"2GiB":       {Absolute: 2 << 30},
		"512MB":      {Absolute: 512e6},
		"100M":       {Absolute: 100 << 20},
		"1073741824": {Absolute: 1 << 30},
	} {
		got, err := ParseWatermark(in)
		if err != nil || got != want {
			t.Errorf("ParseWatermark(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "-0.5", "1.5", "2XB", "GiB", "abc", "99999999999999999999"} {
		if w, err := ParseWatermark(bad); err == nil {
			t.Errorf("ParseWatermark(%q) = %+v, want an error", bad, w)
		}
	}
}

type fakeDisk struct{ free, min atomic.Int64 }

func (d *fakeDisk) DiskFree() int64         { return d.free.Load() }
func (d *fakeDisk) MinFreeBytes() int64     { return d.min.Load() }
func (d *fakeDisk) SetMinFreeBytes(n int64) { d.min.Store(n) }

// The monitor raises above the watermark, clears at or below it, follows
// the disk source, and notifies each change once, in order.
func TestMonitorRaisesAndClears(t *testing.T) {
	var used atomic.Int64
	disk := &fakeDisk{}
	disk.free.Store(1000)
	disk.min.Store(100)
	m := New(Config{MemoryHighWatermark: Watermark{Fraction: 0.5}, MemoryLimit: 2000, MemoryUsed: used.Load, Disk: disk})
	var got []Set
	m.Subscribe(func(s Set) { got = append(got, s) })
	m.Check()
	used.Store(1001)
	m.Check()
	m.Check()
	disk.free.Store(99)
	m.Check()
	used.Store(1000)
	m.Check()
	m.SetDiskFreeLimit(50)
	m.SetMemoryHighWatermark(Watermark{Absolute: 900})
	want := []Set{0, Set(Memory), Set(Memory | Disk), Set(Disk), 0, Set(Memory)}
	if len(got) != len(want) {
		t.Fatalf("notifications %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("notifications %v, want %v", got, want)
		}
	}
	st := m.Status()
	if !st.MemAlarm || st.MemLimit != 900 || st.MemUsed != 1000 || st.DiskFreeAlarm || st.DiskFreeLimit != 50 {
		t.Fatalf("status %+v", st)
	}
}

func TestProcessMemoryAndLimit(t *testing.T) {
	if ProcessMemory() <= 0 {
		t.Fatal("ProcessMemory() <= 0 on Linux")
	}
	if l := MemoryLimit(); l <= 0 {
		t.Fatal("MemoryLimit() <= 0 on Linux")
	} else {
		t.Logf("memory limit %d MiB, process memory %d MiB", l>>20, ProcessMemory()>>20)
	}
}

// Far from both thresholds the monitor checks seldom (an idle broker must
// cost nothing); near either, or past one, every Interval; in between, as
// often as growth at fastestGrowth could cross the nearer one.
func TestMonitorIntervalFollowsMargin(t *testing.T) {
	var used atomic.Int64
	disk := &fakeDisk{}
	disk.free.Store(100 << 30)
	disk.min.Store(50 << 20)
	m := New(Config{MemoryHighWatermark: Watermark{Absolute: 8 << 30}, MemoryLimit: 16 << 30, MemoryUsed: used.Load, Disk: disk})
	used.Store(30 << 20)
	m.Check()
	if got := m.next(); got != maxInterval {
		t.Errorf("far from both thresholds: next %v, want %v", got, maxInterval)
	}
	used.Store(8<<30 - 64<<20) // 64 MiB below the watermark: 250 ms at 256 MiB/s
	m.Check()
	if got := m.next(); got != 250*time.Millisecond {
		t.Errorf("64 MiB below the watermark: next %v, want 250ms", got)
	}
	used.Store(30 << 20)
	disk.free.Store(50<<20 + 1<<20) // 1 MiB above the disk limit
	m.Check()
	if got := m.next(); got != m.cfg.Interval {
		t.Errorf("1 MiB above the disk limit: next %v, want %v", got, m.cfg.Interval)
	}
	disk.free.Store(100 << 30)
	used.Store(9 << 30) // past the watermark
	m.Check()
	if got := m.next(); got != m.cfg.Interval {
		t.Errorf("memory alarm raised: next %v, want %v", got, m.cfg.Interval)
	}
}

// CheckNear reads memory only near a threshold: far from both it leaves
// the status as the last Check saw it.
func TestCheckNearSkipsFarFromThresholds(t *testing.T) {
	var used, reads atomic.Int64
	m := New(Config{MemoryHighWatermark: Watermark{Absolute: 8 << 30}, MemoryLimit: 16 << 30,
		MemoryUsed: func() int64 { reads.Add(1); return used.Load() }})
	used.Store(30 << 20)
	m.Check()
	reads.Store(0)
	m.CheckNear()
	if n := reads.Load(); n != 0 {
		t.Errorf("far from the watermark: CheckNear read memory %d times, want 0", n)
	}
	used.Store(8<<30 - 1<<20)
	m.Check()
	reads.Store(0)
	used.Store(8<<30 + 1)
	m.CheckNear()
	if n := reads.Load(); n != 1 || !m.Status().MemAlarm {
		t.Errorf("1 MiB below the watermark: CheckNear read %d times, alarm %v; want 1, raised", n, m.Status().MemAlarm)
	}
}
