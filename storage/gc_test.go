package storage

import (
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// diskUsage is the space the files under dir take (allocated blocks, not
// sizes: Badger's files are sparse).
func diskUsage(t testing.TB, dir string) int64 {
	t.Helper()
	var total int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		var st syscall.Stat_t
		if syscall.Stat(p, &st) == nil {
			total += st.Blocks * 512
		}
		return nil
	})
	return total
}

func fillAndDrain(t *testing.T, s *Store, n uint64, size int) {
	t.Helper()
	for i := uint64(1); i <= n; i += 100 {
		var b Batch
		for id := i; id < i+100; id++ {
			b.PutMessage(id, body(id, size))
			b.PutEntry(1, id, id, nil)
		}
		applyT(t, s, &b)
	}
	for i := uint64(1); i <= n; i += 100 {
		var b Batch
		for id := i; id < i+100; id++ {
			b.DeleteEntry(1, id)
			b.DeleteMessage(id)
		}
		applyT(t, s, &b)
	}
}

const gcFileSize = 1 << 20

func gcOptions(o *Options) {
	o.MemTableSize = gcFileSize
	o.ValueLogFileSize = gcFileSize
}

// After a backlog drains, RunGC gives the disk back: all but about one
// value-log file (the one being written, which Badger never rewrites).
func TestDiskUsageReturnsAfterDrain(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, gcOptions)
	recoverAll(t, s)
	start := diskUsage(t, dir)
	fillAndDrain(t, s, 10000, 2048) // 20 MiB
	drained := diskUsage(t, dir)
	n, err := s.RunGC()
	if err != nil {
		t.Fatal(err)
	}
	after := diskUsage(t, dir)
	t.Logf("disk usage: start %d KiB, drained %d KiB, after GC %d KiB (%d files rewritten)", start>>10, drained>>10, after>>10, n)
	if drained < 20<<20 || n == 0 || after > start+2*gcFileSize {
		t.Fatalf("GC left %d KiB (started at %d KiB)", after>>10, start>>10)
	}
	// Nothing written since: a second run does no compaction and no rewrite.
	syncs := s.Metrics().Syncs
	if n, err := s.RunGC(); n != 0 || err != nil || s.Metrics().Syncs != syncs {
		t.Fatalf("second RunGC: %d rewrites, %v, syncs %d -> %d", n, err, syncs, s.Metrics().Syncs)
	}
	s.Close()
	s = openT(t, dir, gcOptions)
	if _, st := recoverAll(t, s); st.Entries+st.Messages != 0 {
		t.Fatalf("after reopen: %+v", st)
	}
}

// The scheduled GC does the same once the store has been idle for a
// GC interval.
func TestScheduledGCReclaimsWhenIdle(t *testing.T) {
	expectReclaimedByItself(t, func(o *Options) { o.GCInterval = 20 * time.Millisecond })
}

// Once writes stop after a backlog drains, GC runs within IdleGCAfter,
// not at the next GCInterval: the drained space comes back in seconds.
func TestIdleGCReclaimsSoonAfterADrain(t *testing.T) {
	expectReclaimedByItself(t, func(o *Options) {
		o.GCInterval = time.Hour // only the quiet path can run it
		o.IdleGCAfter = 50 * time.Millisecond
	})
}

// expectReclaimedByItself fills and drains 10 MiB on a store opened with
// mod, calls no GC, and waits up to 30 s for the disk to come back.
func expectReclaimedByItself(t *testing.T, mod func(*Options)) {
	t.Helper()
	dir := t.TempDir()
	s := openT(t, dir, gcOptions, mod)
	recoverAll(t, s)
	start := diskUsage(t, dir)
	fillAndDrain(t, s, 5000, 2048) // 10 MiB
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for diskUsage(t, dir) > start+2*gcFileSize {
		if time.Now().After(deadline) {
			t.Fatalf("disk usage still %d KiB 30 s after the drain (started at %d KiB); metrics %+v", diskUsage(t, dir)>>10, start>>10, s.Metrics())
		}
		<-tick.C
	}
	if s.Metrics().GCRewrites == 0 {
		t.Fatal("no value-log file rewritten")
	}
}

// After a large drain, GC leaves no value-log file but the one being
// written.
func TestDrainedStoreKeepsOneValueLogFile(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, gcOptions)
	recoverAll(t, s)
	fillAndDrain(t, s, 20000, 2048) // 40 MiB: 40 files
	if n := s.valueLogFiles(); n < 20 {
		t.Fatalf("%d value-log files after writing 40 MiB in files of 1 MiB", n)
	}
	if _, err := s.RunGC(); err != nil {
		t.Fatal(err)
	}
	if n := s.valueLogFiles(); n > 1 {
		t.Fatalf("%d value-log files after the drain and RunGC, want 1; disk %d KiB", n, diskUsage(t, dir)>>10)
	}
	t.Logf("disk after the drain and GC: %d KiB", diskUsage(t, dir)>>10)
}
