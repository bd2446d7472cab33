package streamlog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// appendSync appends recs one by one, waiting for each commit, and
// returns their offsets.
func appendSync(t *testing.T, l *Log, recs ...string) []uint64 {
	t.Helper()
	offs := make([]uint64, len(recs))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i, r := range recs {
		wg.Add(1)
		l.Append([]byte(r), func(off uint64, err error) {
			mu.Lock()
			offs[i] = off
			if err != nil && firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
			wg.Done()
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	return offs
}

// readAll reads r to the tail and returns the records with offsets.
func readAll(t *testing.T, r *Reader) (offs []uint64, recs []string) {
	t.Helper()
	for {
		c, ok, err := r.Read()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return offs, recs
		}
		for i, rec := range c.Records {
			offs = append(offs, c.First+uint64(i))
			recs = append(recs, string(rec))
		}
	}
}

func open(t *testing.T, o Options) *Log {
	t.Helper()
	l, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

func recs(from, to int) []string {
	var s []string
	for i := from; i < to; i++ {
		s = append(s, fmt.Sprintf("m%04d", i))
	}
	return s
}

func TestAppendReadAcrossSegmentsAndReopen(t *testing.T) {
	dir := t.TempDir()
	l := open(t, Options{Dir: dir, MaxSegmentBytes: 200})
	want := recs(0, 100)
	for i := 0; i < 100; i += 10 {
		offs := appendSync(t, l, want[i:i+10]...)
		if offs[0] != uint64(i) || offs[9] != uint64(i+9) {
			t.Fatalf("offsets %v, want %d..%d", offs, i, i+9)
		}
	}
	if in := l.Info(); in.Segments < 3 || in.First != 0 || in.Next != 100 {
		t.Fatalf("info %+v: want several segments, offsets 0..100", in)
	}
	offs, got := readAll(t, l.NewReader(SeekFirst))
	if fmt.Sprint(got) != fmt.Sprint(want) || offs[99] != 99 {
		t.Fatalf("read %v", got)
	}
	l.Close()

	l2 := open(t, Options{Dir: dir, MaxSegmentBytes: 200})
	_, got = readAll(t, l2.NewReader(SeekFirst))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after reopen read %v", got)
	}
	if offs := appendSync(t, l2, "after"); offs[0] != 100 {
		t.Fatalf("offset after reopen %d, want 100", offs[0])
	}
}

func TestSeekForms(t *testing.T) {
	clock := time.UnixMilli(1_000_000)
	var cmu sync.Mutex
	now := func() time.Time { cmu.Lock(); defer cmu.Unlock(); return clock }
	l := open(t, Options{Dir: t.TempDir(), MaxSegmentBytes: 100, Now: now})
	for i := 0; i < 50; i += 5 {
		appendSync(t, l, recs(i, i+5)...)
		cmu.Lock()
		clock = clock.Add(time.Second)
		cmu.Unlock()
	}
	l.mu.Lock()
	ls := l.mu.segs[len(l.mu.segs)-1]
	lastFirst := ls.index[len(ls.index)-1].first // group commit decides the chunks
	l.mu.Unlock()
	cases := []struct {
		name  string
		r     *Reader
		first uint64
		n     int
	}{
		{"first", l.NewReader(SeekFirst), 0, 50},
		{"last", l.NewReader(SeekLast), lastFirst, int(50 - lastFirst)},
		{"next", l.NewReader(SeekNext), 0, 0},
		{"offset 17", l.NewReaderAt(17), 17, 33},
		{"offset 0", l.NewReaderAt(0), 0, 50},
		{"offset past tail", l.NewReaderAt(1000), 0, 0},
		{"time of 4th chunk", l.NewReaderAtTime(1_003_000), 15, 35},
		{"time between chunks", l.NewReaderAtTime(1_003_500), 20, 30},
		{"time before all", l.NewReaderAtTime(0), 0, 50},
		{"time after all", l.NewReaderAtTime(2_000_000), 0, 0},
	}
	for _, c := range cases {
		offs, _ := readAll(t, c.r)
		if len(offs) != c.n || (c.n > 0 && offs[0] != c.first) {
			t.Errorf("%s: read %d records from %v, want %d from %d", c.name, len(offs), offs, c.n, c.first)
		}
	}
	// A reader at the tail sees what is appended later, after Changed.
	r := l.NewReader(SeekNext)
	ch := l.Changed()
	appendSync(t, l, "late")
	<-ch
	offs, got := readAll(t, r)
	if len(got) != 1 || got[0] != "late" || offs[0] != 50 {
		t.Fatalf("next reader read %v %v", offs, got)
	}
}

func TestRetentionBySizeAndAge(t *testing.T) {
	l := open(t, Options{Dir: t.TempDir(), MaxSegmentBytes: 100, MaxBytes: 300})
	for i := 0; i < 200; i += 4 {
		appendSync(t, l, recs(i, i+4)...)
	}
	in := l.Info()
	if in.Bytes > 300+100+headerSize+40 || in.First == 0 || in.Next != 200 {
		t.Fatalf("after size retention: %+v", in)
	}
	offs, _ := readAll(t, l.NewReader(SeekFirst))
	if offs[0] != in.First || offs[len(offs)-1] != 199 {
		t.Fatalf("read %d..%d, info %+v", offs[0], offs[len(offs)-1], in)
	}
	// A reader placed before retention removed its segment moves on.
	r := l.NewReaderAt(in.First)
	for i := 200; i < 400; i += 4 {
		appendSync(t, l, recs(i, i+4)...)
	}
	offs, _ = readAll(t, r)
	if offs[len(offs)-1] != 399 {
		t.Fatalf("stale reader ended at %d", offs[len(offs)-1])
	}

	clock := time.UnixMilli(10_000_000)
	var cmu sync.Mutex
	now := func() time.Time { cmu.Lock(); defer cmu.Unlock(); return clock }
	la := open(t, Options{Dir: t.TempDir(), MaxSegmentBytes: 100, MaxAge: time.Minute, Now: now})
	for i := 0; i < 40; i += 4 {
		appendSync(t, la, recs(i, i+4)...)
	}
	before := la.Info()
	cmu.Lock()
	clock = clock.Add(2 * time.Minute)
	cmu.Unlock()
	appendSync(t, la, "fresh")
	after := la.Info()
	// Every segment whose newest chunk is past the age goes; the active
	// one (holding "fresh") stays.
	if before.Segments < 3 || after.Segments != 1 || after.First == 0 || after.Next != 41 {
		t.Fatalf("age retention: before %+v after %+v", before, after)
	}
	offs, got := readAll(t, la.NewReader(SeekFirst))
	if offs[0] != after.First || got[len(got)-1] != "fresh" {
		t.Fatalf("after age retention read %v %v", offs, got)
	}
}

func TestTornTailIsTruncated(t *testing.T) {
	dir := t.TempDir()
	l := open(t, Options{Dir: dir})
	appendSync(t, l, recs(0, 10)...)
	appendSync(t, l, recs(10, 20)...)
	l.mu.Lock()
	idx := l.mu.segs[0].index
	keep := int(idx[len(idx)-1].first) // the records before the last chunk
	l.mu.Unlock()
	l.Close()
	path := filepath.Join(dir, segmentName(0))
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// kill -9 mid-write: the last chunk is cut short.
	if err := os.Truncate(path, st.Size()-7); err != nil {
		t.Fatal(err)
	}
	l2 := open(t, Options{Dir: dir})
	offs, got := readAll(t, l2.NewReader(SeekFirst))
	if len(got) != keep || offs[keep-1] != uint64(keep-1) {
		t.Fatalf("after a torn tail read %v, want %d records", got, keep)
	}
	if o := appendSync(t, l2, "again"); o[0] != uint64(keep) {
		t.Fatalf("next offset %d, want %d", o[0], keep)
	}
	l2.Close()
	// A flipped byte in the last chunk's body: the CRC catches it.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ = f.Stat()
	f.WriteAt([]byte{0xff}, st.Size()-1)
	f.Close()
	l3 := open(t, Options{Dir: dir})
	if _, got := readAll(t, l3.NewReader(SeekFirst)); len(got) != keep {
		t.Fatalf("after a corrupt tail read %d records", len(got))
	}
	// Garbage appended after the last chunk is cut off too.
	l3.Close()
	f, _ = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte("garbage that is no chunk header at all....."))
	f.Close()
	l4 := open(t, Options{Dir: dir})
	if _, got := readAll(t, l4.NewReader(SeekFirst)); len(got) != keep {
		t.Fatalf("after garbage read %d records", len(got))
	}
}

func TestGroupCommitBatchesConcurrentAppends(t *testing.T) {
	l := open(t, Options{Dir: t.TempDir()})
	var wg sync.WaitGroup
	seen := make(map[uint64]bool)
	var mu sync.Mutex
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var inner sync.WaitGroup
			for i := 0; i < 200; i++ {
				inner.Add(1)
				l.Append([]byte("x"), func(off uint64, err error) {
					mu.Lock()
					if err != nil || seen[off] {
						t.Errorf("offset %d err %v (duplicate?)", off, err)
					}
					seen[off] = true
					mu.Unlock()
					inner.Done()
				})
			}
			inner.Wait()
		}()
	}
	wg.Wait()
	if len(seen) != 1600 || l.Info().Next != 1600 {
		t.Fatalf("%d distinct offsets, next %d", len(seen), l.Info().Next)
	}
	// Fewer chunks than records: appends were grouped.
	l.mu.Lock()
	chunks := len(l.mu.segs[0].index)
	l.mu.Unlock()
	if chunks >= 1600 {
		t.Fatalf("%d chunks for 1600 concurrent appends: no group commit", chunks)
	}
}

func TestAppendAfterCloseFails(t *testing.T) {
	l := open(t, Options{Dir: t.TempDir()})
	l.Close()
	var got error
	l.Append([]byte("x"), func(_ uint64, err error) { got = err })
	if got != ErrClosed {
		t.Fatalf("append after close: %v", got)
	}
}

func TestChunkFilterSkipsUnmatchedChunks(t *testing.T) {
	l := open(t, Options{Dir: t.TempDir()})
	var wg sync.WaitGroup
	add := func(rec, filter string) {
		wg.Add(1)
		l.AppendFilter([]byte(rec), filter, func(uint64, error) { wg.Done() })
		wg.Wait() // one chunk each
	}
	add("a1", "a")
	add("b1", "b")
	add("u1", "")
	add("a2", "a")
	r := l.NewReader(SeekFirst)
	var seen []Filter
	r.Match = func(f Filter) bool {
		seen = append(seen, f)
		return slices.Contains(f.Values, "a")
	}
	_, got := readAll(t, r)
	if fmt.Sprint(got) != "[a1 a2]" || len(seen) != 4 || !seen[2].Unfiltered || seen[1].Values[0] != "b" {
		t.Fatalf("read %v, filters seen %+v", got, seen)
	}
	// More distinct values than a chunk lists: the chunk says any.
	var fs []string
	var rs [][]byte
	for i := range maxFilterValues + 1 {
		fs = append(fs, fmt.Sprint(i))
		rs = append(rs, []byte("x"))
	}
	f, err := decodeFilter(encodeChunk(nil, 0, 0, rs, fs, nil, false)[headerSize:])
	if err != nil || !f.Any {
		t.Fatalf("filter of %d values: %+v %v", len(fs), f, err)
	}
}

// A segment of the first format (chunks starting "WTC2") is set aside
// as <name>.v1, not truncated as a torn tail: the log opens empty and the
// old bytes stay on disk.
func TestOldFormatSetAside(t *testing.T) {
	dir := t.TempDir()
	old := append([]byte("WTC2"), bytes.Repeat([]byte{7}, 100)...)
	path := filepath.Join(dir, segmentName(0))
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if in := l.Info(); in.Next != 0 || in.Bytes != 0 {
		t.Errorf("the log after setting aside: %+v", in)
	}
	kept, err := os.ReadFile(path + ".v1")
	if err != nil || !bytes.Equal(kept, old) {
		t.Errorf("the old segment was not kept as it was: %v", err)
	}
}

// A reader that has not opened its segment yet when the log is deleted
// (a stream deleted under a subscription) must come back from Read and
// ReadRaw, not try the removed file forever: the delivery goroutine it
// blocks is what the deletion waits for.
func TestReadAfterDeleteReturns(t *testing.T) {
	for _, raw := range []bool{false, true} {
		l := open(t, Options{Dir: t.TempDir()})
		appendSync(t, l, recs(0, 10)...)
		r := l.NewReader(SeekFirst)
		if err := l.Delete(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			var ok bool
			var err error
			if raw {
				_, ok, err = r.ReadRaw(0)
			} else {
				_, ok, err = r.Read()
			}
			if ok {
				err = fmt.Errorf("a chunk read from a deleted log")
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, ErrClosed) {
				t.Fatalf("raw %v: %v", raw, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("raw %v: Read on a deleted log did not return within 10s", raw)
		}
		r.Close()
	}
}
