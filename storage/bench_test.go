package storage

import (
	"fmt"
	"sync"
	"testing"
)

// benchStore opens a store with production options (but no scheduled GC)
// in a fresh directory.
func benchStore(b *testing.B, mod ...func(*Options)) (*Store, string) {
	b.Helper()
	dir := b.TempDir()
	o := Options{Dir: dir, GCInterval: -1}
	for _, m := range mod {
		m(&o)
	}
	s, err := Open(o)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Recover(func(q, seq, id uint64, meta []byte) error { return nil }); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, dir
}

// window models publishers with confirms outstanding: at most n submits
// wait for their sync at any time.
type window struct {
	slots chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	err   error
}

func newWindow(n int) *window { return &window{slots: make(chan struct{}, n)} }

func (w *window) take() { w.slots <- struct{}{}; w.wg.Add(1) }

func (w *window) done(err error) {
	if err != nil {
		w.mu.Lock()
		w.err = err
		w.mu.Unlock()
	}
	<-w.slots
	w.wg.Done()
}

func (w *window) wait(b *testing.B) {
	w.wg.Wait()
	if w.err != nil {
		b.Fatal(w.err)
	}
}

// reportRates reports rates over the timed part of the benchmark.
func reportRates(b *testing.B, s *Store, before Metrics) {
	el := b.Elapsed().Seconds()
	m := s.Metrics()
	syncs := float64(m.Syncs - before.Syncs)
	b.ReportMetric(float64(b.N)/el, "msgs/s")
	b.ReportMetric(syncs/el, "syncs/s")
	if syncs > 0 {
		b.ReportMetric(float64(b.N)/syncs, "msgs/sync")
	}
}

// Persistent 1 KiB messages, each its own Submit (PutMessage+PutEntry),
// with `inflight` confirms outstanding: 1 is a lone publisher waiting for
// each confirm; 256 is many concurrent publishers. The value threshold
// variants compare bodies in the value log (the default) with bodies in
// the LSM tree.
func BenchmarkSubmitPersistent1KiB(b *testing.B) {
	for _, th := range []int64{256, 1 << 20} {
		for _, inflight := range []int{1, 16, 256, 4096} {
			name := fmt.Sprintf("threshold=%d/inflight=%d", th, inflight)
			b.Run(name, func(b *testing.B) {
				s, _ := benchStore(b, func(o *Options) { o.ValueThreshold = th })
				payload := body(0, 1024)
				w := newWindow(inflight)
				b.ReportAllocs()
				before := s.Metrics()
				id := uint64(0)
				for b.Loop() {
					id++
					w.take()
					var bt Batch
					bt.PutMessage(id, payload)
					bt.PutEntry(1, id, id, nil)
					if err := s.Submit(&bt, w.done); err != nil {
						b.Fatal(err)
					}
				}
				w.wait(b)
				reportRates(b, s, before)
			})
		}
	}
}

// Deletes of messages on disk (acks): DeleteEntry+DeleteMessage per
// Submit, 256 outstanding. The messages are put, untimed, 10000 at a time.
func BenchmarkAckOnDisk(b *testing.B) {
	s, _ := benchStore(b)
	payload := body(0, 1024)
	w := newWindow(256)
	put := func(from uint64) {
		var bt Batch
		for id := from; id < from+10000; id++ {
			bt.PutMessage(id, payload)
			bt.PutEntry(1, id, id, nil)
		}
		if err := s.apply(&bt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	before := s.Metrics()
	id := uint64(0)
	for b.Loop() {
		if id%10000 == 0 {
			b.StopTimer()
			w.wait(b)
			put(id + 1)
			b.StartTimer()
		}
		id++
		w.take()
		var bt Batch
		bt.DeleteEntry(1, id)
		bt.DeleteMessage(id)
		if err := s.Submit(&bt, w.done); err != nil {
			b.Fatal(err)
		}
	}
	w.wait(b)
	reportRates(b, s, before)
}

// Publish then ack at once, before the sync (a consumer keeping up): the
// delete meets its put in the pending group and neither is written.
func BenchmarkPublishAckBeforeSync(b *testing.B) {
	s, _ := benchStore(b)
	payload := body(0, 1024)
	w := newWindow(256)
	b.ReportAllocs()
	before := s.Metrics()
	id := uint64(0)
	for b.Loop() {
		id++
		w.take()
		var bt Batch
		bt.PutMessage(id, payload)
		bt.PutEntry(1, id, id, nil)
		if err := s.Submit(&bt, w.done); err != nil {
			b.Fatal(err)
		}
		var ack Batch
		ack.DeleteEntry(1, id)
		ack.DeleteMessage(id)
		if err := s.Submit(&ack, nil); err != nil {
			b.Fatal(err)
		}
	}
	w.wait(b)
	reportRates(b, s, before)
	m := s.Metrics()
	b.ReportMetric(float64(m.OpsCancelled-before.OpsCancelled)/float64(4*b.N), "cancelled-frac")
}

// Read-ahead of bodies kept only on disk: 64 consecutive 1 KiB messages
// per Messages call, from a 100k-message backlog.
func BenchmarkMessagesReadAhead64(b *testing.B) {
	s, _ := benchStore(b)
	const backlog = 100000
	payload := body(0, 1024)
	for from := uint64(1); from <= backlog; from += 10000 {
		var bt Batch
		for id := from; id < from+10000; id++ {
			bt.PutMessage(id, payload)
		}
		if err := s.apply(&bt); err != nil {
			b.Fatal(err)
		}
	}
	ids := make([]uint64, 64)
	b.ReportAllocs()
	next := uint64(1)
	for b.Loop() {
		for i := range ids {
			ids[i] = next
			next = next%backlog + 1
		}
		if _, err := s.Messages(ids); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*64)/b.Elapsed().Seconds(), "msgs/s")
}

// Start-up with 1 million entries (1 KiB messages, one queue entry each,
// in 10 queues): Open + Recover + Close. The drained variant acks (deletes)
// all but 10000 of them first: recovery then steps over the tombstones
// Badger has not compacted away.
func BenchmarkRecover1M(b *testing.B) {
	for _, acked := range []uint64{0, 990000} {
		b.Run(fmt.Sprintf("acked=%d", acked), func(b *testing.B) {
			benchRecover(b, 1000000, acked)
		})
	}
}

func benchRecover(b *testing.B, total, acked uint64) {
	const queues = 10
	s, dir := benchStore(b)
	payload := body(0, 1024)
	for from := uint64(1); from <= total; from += 10000 {
		var bt Batch
		for id := from; id < from+10000; id++ {
			bt.PutMessage(id, payload)
			bt.PutEntry(id%queues, id, id, nil)
		}
		if err := s.apply(&bt); err != nil {
			b.Fatal(err)
		}
	}
	for from := uint64(1); from <= acked; from += 10000 {
		var bt Batch
		for id := from; id < from+10000 && id <= acked; id++ {
			bt.DeleteEntry(id%queues, id)
			bt.DeleteMessage(id)
		}
		if err := s.apply(&bt); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	live := int(total - acked)
	b.ReportAllocs()
	for b.Loop() {
		s, err := Open(Options{Dir: dir, GCInterval: -1})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		st, err := s.Recover(func(q, seq, id uint64, meta []byte) error { n++; return nil })
		if err != nil || n != live || st.Messages != live {
			b.Fatalf("recovered %d entries, %+v, %v", n, st, err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/recovery")
}
