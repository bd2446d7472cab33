package storage

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// Many concurrent submitters share few syncs: while the writer is busy
// with one group, everything submitted meanwhile becomes the next one.
func TestGroupCommitBatchesSubmitsIntoFewSyncs(t *testing.T) {
	g := newGate()
	s := openT(t, t.TempDir(), func(o *Options) { o.hooks = &hooks{beforeWrite: g.hook} })
	recoverAll(t, s)

	var first waiter
	var b Batch
	b.PutDefinition("vhost", "/", nil)
	first.submit(t, s, &b)
	<-g.entered // the writer is inside group 1

	const submitters, each = 8, 100
	var w waiter
	var wg sync.WaitGroup
	for i := range submitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				id := uint64(i*each + j + 1)
				var b Batch
				b.PutMessage(id, body(id, 1024))
				b.PutEntry(1, id, id, nil)
				w.submit(t, s, &b)
			}
		}()
	}
	wg.Wait()
	close(g.release)
	first.wait()
	for _, err := range w.wait() {
		if err != nil {
			t.Fatal(err)
		}
	}
	m := s.Metrics()
	if m.Groups != 2 || m.Syncs != 2 || m.OpsWritten != 1+2*submitters*each {
		t.Fatalf("%d submits: metrics %+v, want 2 groups and 2 syncs", 1+submitters*each, m)
	}
}

// A group splits at MaxBatchBytes.
func TestGroupCommitSplitsAtMaxBatchBytes(t *testing.T) {
	g := newGate()
	s := openT(t, t.TempDir(), func(o *Options) {
		o.hooks = &hooks{beforeWrite: g.hook}
		o.MaxBatchBytes = 64 << 10
	})
	recoverAll(t, s)
	var w waiter
	var b Batch
	b.PutDefinition("vhost", "/", nil)
	w.submit(t, s, &b)
	<-g.entered
	for id := uint64(1); id <= 256; id++ { // 256 KiB: 4 groups of 64 KiB
		var b Batch
		b.PutMessage(id, body(id, 1024-32))
		w.submit(t, s, &b)
	}
	close(g.release)
	for _, err := range w.wait() {
		if err != nil {
			t.Fatal(err)
		}
	}
	if m := s.Metrics(); m.Syncs < 4 || m.Syncs > 6 {
		t.Fatalf("metrics %+v: want 1 + about 4 groups", m)
	}
}

// A put and its delete pending in the same group write nothing, and both
// callbacks still run.
func TestCancelledPutAndDeleteAreNeverWritten(t *testing.T) {
	dir := t.TempDir()
	g := newGate()
	s := openT(t, dir, func(o *Options) { o.hooks = &hooks{beforeWrite: g.hook} })
	recoverAll(t, s)

	// Message 100 and its entry are on disk before the test proper.
	var b Batch
	b.PutMessage(100, body(100, 500))
	b.PutEntry(1, 100, 100, []byte("v1"))
	var w0 waiter
	w0.submit(t, s, &b)
	<-g.entered
	var w waiter
	for id := uint64(1); id <= 10; id++ {
		var b Batch
		b.PutMessage(id, body(id, 2000))
		b.PutEntry(1, id, id, nil)
		b.PutEntry(2, id, id, nil)
		w.submit(t, s, &b)
	}
	for id := uint64(1); id <= 10; id++ { // consumed and acked before the sync
		var b Batch
		b.UpdateEntry(1, id, id, []byte("delivered")) // folds into the pending put
		b.DeleteEntry(1, id)
		b.DeleteEntry(2, id)
		b.DeleteMessage(id)
		w.submit(t, s, &b)
	}
	// An update of an entry already on disk is written, and so is the
	// delete that follows it.
	b.Reset()
	b.UpdateEntry(1, 100, 100, []byte("v2"))
	b.DeleteEntry(1, 100)
	b.PutEntry(3, 100, 100, nil)
	w.submit(t, s, &b)
	close(g.release)
	w0.wait()
	for _, err := range w.wait() {
		if err != nil {
			t.Fatalf("callback: %v", err)
		}
	}
	m := s.Metrics()
	// Group 2: 30 puts + 40 (update, deletes) cancelled, the update of
	// entry 100 cancelled against... nothing pending: written, then
	// killed by its delete; the delete and the put of queue 3 written.
	if m.OpsWritten != 2+2 || m.OpsCancelled != 30+40+1 {
		t.Fatalf("metrics %+v", m)
	}
	s.Close()

	s = openT(t, dir)
	got, st := recoverAll(t, s)
	if len(got) != 1 || got[0] != (recovered{3, 100, 100, ""}) || st.Messages != 1 || st.Orphans != 0 {
		t.Fatalf("recovered %+v, stats %+v", got, st)
	}
	for id := uint64(1); id <= 10; id++ {
		if _, err := s.Message(id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("message %d reached the disk: %v", id, err)
		}
	}
}

// An I/O error from the write path reaches every affected callback, then
// the store refuses all writes (what reached the disk is unknown) but
// still reads, closes cleanly, and reopens with what was confirmed.
func TestWriteErrorReachesCallbacksAndFailsTheStore(t *testing.T) {
	dir := t.TempDir()
	injected := errors.New("injected: input/output error")
	var fail sync.Mutex
	failing := false
	s := openT(t, dir, func(o *Options) {
		o.hooks = &hooks{beforeWrite: func() error {
			fail.Lock()
			defer fail.Unlock()
			if failing {
				return injected
			}
			return nil
		}}
	})
	recoverAll(t, s)
	var b Batch
	b.PutMessage(1, body(1, 1000))
	b.PutEntry(1, 1, 1, nil)
	applyT(t, s, &b)

	fail.Lock()
	failing = true
	fail.Unlock()
	var w waiter
	for id := uint64(2); id <= 20; id++ {
		var b Batch
		b.PutMessage(id, body(id, 1000))
		b.PutEntry(1, id, id, nil)
		w.submit(t, s, &b)
	}
	for i, err := range w.wait() {
		if !errors.Is(err, injected) || !errors.Is(err, ErrFailed) {
			t.Fatalf("callback %d: %v, want the injected error wrapped in ErrFailed", i, err)
		}
	}
	fail.Lock()
	failing = false // the disk is fine again; the store stays failed
	fail.Unlock()
	err := s.PutDefinition("vhost", "/", nil)
	if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "input/output error") {
		t.Fatalf("write after the failure: %v", err)
	}
	if m, err := s.Message(1); err != nil || len(m) != 1000 {
		t.Fatalf("read after the failure: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir)
	got, _ := recoverAll(t, s)
	if len(got) != 1 || got[0].msgID != 1 {
		t.Fatalf("after reopen: %+v", got)
	}
	if err := s.PutDefinition("vhost", "/", nil); err != nil {
		t.Fatalf("reopened store: %v", err)
	}
}

// A failed sync is reported like a failed write.
func TestSyncErrorFailsTheStore(t *testing.T) {
	injected := errors.New("injected: fsync failed")
	s := openT(t, t.TempDir(), func(o *Options) { o.hooks = &hooks{beforeSync: func() error { return injected }} })
	err := s.PutDefinition("vhost", "/", nil)
	if !errors.Is(err, injected) || !errors.Is(err, ErrFailed) {
		t.Fatalf("got %v", err)
	}
}

// Disk full is a refusal before Badger is touched, and not for good.
// Below MinFreeBytes the store is short: Admit refuses new data, but what
// was admitted is still written; below half of it puts fail with
// ErrDiskFull while deletes go on (consumers can drain the disk); below a
// quarter everything fails; when space is back, everything goes through
// again and Admit lets go, with no write needed to notice.
func TestDiskFullRefusesPutsThenEverythingUntilSpaceIsBack(t *testing.T) {
	const minFree = 100 << 20
	var mu sync.Mutex
	free := int64(1 << 40)
	setFree := func(n int64) {
		mu.Lock()
		free = n
		mu.Unlock()
	}
	dir := t.TempDir()
	s := openT(t, dir, func(o *Options) {
		o.MinFreeBytes = minFree
		o.DiskCheckInterval = 10 * time.Millisecond
		o.hooks = &hooks{freeBytes: func() (int64, error) {
			mu.Lock()
			defer mu.Unlock()
			return free, nil
		}}
	})
	recoverAll(t, s)
	put := func(id uint64) *Batch {
		var b Batch
		b.PutMessage(id, body(id, 1000))
		b.PutEntry(1, id, id, nil)
		return &b
	}
	ack := func(id uint64) *Batch {
		var b Batch
		b.DeleteEntry(1, id)
		b.DeleteMessage(id)
		return &b
	}
	if err := s.Admit(); err != nil {
		t.Fatalf("Admit with space: %v", err)
	}
	for id := uint64(1); id <= 4; id++ {
		applyT(t, s, put(id))
	}

	setFree(minFree - 10<<20) // short: nothing new admitted, admitted writes go on
	waitFor(t, "Admit to refuse", func() bool { return errors.Is(s.Admit(), ErrDiskFull) })
	applyT(t, s, put(10))
	applyT(t, s, ack(4))

	setFree(minFree/2 - 10<<20) // low: puts refused, acks accepted
	var w waiter
	w.submit(t, s, put(11))
	w.submit(t, s, ack(1))
	w.submit(t, s, put(12))
	errs := w.wait()
	if !errors.Is(errs[0], ErrDiskFull) || errs[1] != nil || !errors.Is(errs[2], ErrDiskFull) || errors.Is(errs[0], ErrFailed) {
		t.Fatalf("low space: callbacks got %v, want ErrDiskFull, nil, ErrDiskFull", errs)
	}

	setFree(minFree/4 - 1) // very low: everything refused
	if err := s.apply(ack(2)); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("very low space: ack got %v, want ErrDiskFull", err)
	}

	setFree(1 << 40)
	waitFor(t, "Admit to let go without a write", func() bool { return s.Admit() == nil })
	setFree(1 << 40)
	applyT(t, s, ack(2))
	applyT(t, s, put(13))
	// Three refusals of the test's writes; the failed groups also count
	// the compactions diskLoop submits while the disk is short when one
	// fell in the very-low window (alone, or with ack(2)).
	if m := s.Metrics(); m.WriteErrors < 1 || m.DiskFull != 3 {
		t.Fatalf("metrics %+v", m)
	}
	s.Close()
	s = openT(t, dir)
	got, _ := recoverAll(t, s)
	var ids []uint64
	for _, e := range got {
		ids = append(ids, e.msgID)
	}
	if fmt.Sprint(ids) != "[3 10 13]" {
		t.Fatalf("after reopen: messages %v, want [3 10 13]", ids)
	}
}

func TestSubmitRefusals(t *testing.T) {
	// Without body files, Badger takes messages up to a value-log file.
	s := openT(t, t.TempDir(), func(o *Options) { o.ValueLogFileSize, o.BodyThreshold = 1<<20, -1 })
	var b Batch
	b.PutMessage(1, make([]byte, 1<<20+1))
	if err := s.Submit(&b, func(error) { t.Error("done called for a refused batch") }); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized message: %v", err)
	}
	b.Reset()
	b.PutDefinition("", "k", nil)
	if err := s.Submit(&b, nil); err == nil {
		t.Fatal("invalid kind accepted")
	}
	s.Close()
	b.Reset()
	b.PutMessage(1, nil)
	if err := s.Submit(&b, func(error) { t.Error("done called after Close") }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after Close: %v", err)
	}
	if _, err := s.Message(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Message after Close: %v", err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

// Close writes what is pending and runs every callback; callbacks may
// submit more, which Close refuses once it has started.
func TestCloseFlushesPendingAndCallbacksMaySubmit(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	recoverAll(t, s)
	var w waiter
	var chained sync.WaitGroup
	chained.Add(1)
	for id := uint64(1); id <= 50; id++ {
		var b Batch
		b.PutMessage(id, body(id, 100))
		b.PutEntry(1, id, id, nil)
		if id == 1 {
			w.wg.Add(1)
			s.Submit(&b, func(err error) {
				var ack Batch
				ack.DeleteEntry(1, 1)
				ack.DeleteMessage(1)
				if err := s.Submit(&ack, func(error) { chained.Done() }); err != nil {
					chained.Done()
				}
				w.done(err)
			})
			continue
		}
		w.submit(t, s, &b)
	}
	chained.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, err := range w.wait() {
		if err != nil {
			t.Fatal(err)
		}
	}
	s = openT(t, dir)
	if _, st := recoverAll(t, s); st.Entries != 49 {
		t.Fatalf("stats %+v", st)
	}
}

func TestThrottleWaitsForPendingBytes(t *testing.T) {
	g := newGate()
	s := openT(t, t.TempDir(), func(o *Options) {
		o.hooks = &hooks{beforeWrite: g.hook}
		o.MaxPendingBytes = 10 << 10
	})
	recoverAll(t, s)
	var w waiter
	for id := uint64(1); id <= 20; id++ {
		var b Batch
		b.PutMessage(id, body(id, 1024))
		w.submit(t, s, &b)
	}
	<-g.entered
	if p := s.PendingBytes(); p <= 10<<10 {
		t.Fatalf("pending %d", p)
	}
	released := make(chan struct{})
	go func() {
		s.Throttle()
		close(released)
	}()
	close(g.release)
	<-released
	w.wait()
	if p := s.PendingBytes(); p != 0 {
		t.Fatalf("pending %d after every callback ran", p)
	}
}

func TestRecoverOnlyOnceAndFirst(t *testing.T) {
	s := openT(t, t.TempDir())
	if err := s.PutDefinition("vhost", "/", nil); err != nil { // definitions may come first
		t.Fatal(err)
	}
	recoverAll(t, s)
	if _, err := s.Recover(func(q, s, m uint64, meta []byte) error { return nil }); err == nil {
		t.Error("second Recover accepted")
	}
	s2 := openT(t, t.TempDir())
	var b Batch
	b.PutMessage(1, nil)
	applyT(t, s2, &b)
	if _, err := s2.Recover(func(q, s, m uint64, meta []byte) error { return nil }); err == nil {
		t.Error("Recover after message operations accepted")
	}
}

// With MaxDelay the writer waits for a group to fill, but no longer than
// it takes to reach MaxBatchBytes, and Close does not wait for it.
func TestMaxDelayEndsWhenTheGroupIsFullOrAtClose(t *testing.T) {
	s := openT(t, t.TempDir(), func(o *Options) {
		o.MaxDelay = time.Hour
		o.MaxBatchBytes = 16 << 10
	})
	recoverAll(t, s)
	var w waiter
	for id := uint64(1); id <= 16; id++ { // 16 KiB and a bit: the group is full
		var b Batch
		b.PutMessage(id, body(id, 1024))
		w.submit(t, s, &b)
	}
	for _, err := range w.wait() {
		if err != nil {
			t.Fatal(err)
		}
	}
	if m := s.Metrics(); m.Syncs != 1 {
		t.Fatalf("metrics %+v: want the 16 submits in one group", m)
	}
	var last waiter
	var b Batch
	b.PutMessage(100, nil) // a lone small group: the writer waits for more
	last.submit(t, s, &b)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if errs := last.wait(); errs[0] != nil {
		t.Fatal(errs[0])
	}
}

func TestInMemory(t *testing.T) {
	s, err := Open(Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recoverAll(t, s)
	var b Batch
	b.PutMessage(1, body(1, 100<<10))
	b.PutEntry(1, 1, 1, nil)
	applyT(t, s, &b)
	if m, err := s.Message(1); err != nil || len(m) != 100<<10 {
		t.Fatal(err)
	}
	b.Reset()
	b.PutMessage(2, make([]byte, 1<<20+1))
	if err := s.Submit(&b, nil); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized in-memory message: %v", err)
	}
	if n, err := s.RunGC(); n != 0 || err != nil {
		t.Fatal(n, err)
	}
}

// DropEntriesFrom removes a queue's entries from a seq on and keeps the
// older ones (deliveries awaiting their acks when a queue is purged):
// written ones, pending ones put before it, and leaves what is put after.
func TestDropEntriesFromKeepsOlderEntries(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	recoverAll(t, s)
	var b Batch
	for seq := uint64(1); seq <= 10; seq++ {
		b.PutMessage(seq, body(seq, 100))
		b.PutEntry(1, seq, seq, nil)
		b.PutEntry(2, seq, seq, nil) // another queue, untouched
	}
	applyT(t, s, &b)
	var d Batch
	d.PutEntry(1, 11, 10, nil) // pending when the drop comes: dropped with it
	d.DropEntriesFrom(1, 6)
	d.PutEntry(1, 12, 10, nil) // after it: kept
	applyT(t, s, &d)
	s.Close()
	s = openT(t, dir)
	got, _ := recoverAll(t, s)
	var q1, q2 []uint64
	for _, e := range got {
		if e.queue == 1 {
			q1 = append(q1, e.seq)
		} else {
			q2 = append(q2, e.seq)
		}
	}
	if fmt.Sprint(q1) != "[1 2 3 4 5 12]" || len(q2) != 10 {
		t.Fatalf("after DropEntriesFrom(1, 6): queue 1 has %v, want [1 2 3 4 5 12]; queue 2 has %d entries, want 10", q1, len(q2))
	}
}
