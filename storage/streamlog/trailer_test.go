package streamlog

import (
	"encoding/binary"
	"os"
	"sync"
	"testing"
)

// appendSeq appends recs as writer's batch up to seq and waits for them.
func appendSeq(t *testing.T, l *Log, writer string, seq uint64, recs ...string) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	bs := make([][]byte, len(recs))
	for i, r := range recs {
		bs[i] = []byte(r)
	}
	wg.Add(len(recs))
	l.AppendBatchSeq(bs, nil, writer, seq, func(_ uint64, err error) {
		mu.Lock()
		if err != nil && firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		wg.Done()
	})
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
}

// Writers' sequences travel in the chunk trailers: they survive a reopen,
// a torn last chunk takes its sequence with its records, retention keeps
// every writer (each segment starts with a snapshot), and a delivered raw
// chunk leaves the trailer out.
func TestWriterSeqInChunkTrailer(t *testing.T) {
	dir := t.TempDir()
	o := Options{Dir: dir, MaxSegmentBytes: 300}
	l := open(t, o)
	appendSeq(t, l, "a", 5, "a1", "a2")
	appendSeq(t, l, "b", 7, "b1")
	if l.WriterSeq("a") != 5 || l.WriterSeq("b") != 7 || l.WriterSeq("c") != 0 {
		t.Fatalf("live: a %d b %d c %d, want 5 7 0", l.WriterSeq("a"), l.WriterSeq("b"), l.WriterSeq("c"))
	}
	// A raw chunk as delivered: header and records, trailer size 0.
	r := l.NewReader(SeekFirst)
	raw, ok, err := r.ReadRaw(0)
	r.Close()
	if err != nil || !ok {
		t.Fatalf("read raw: %v %v", ok, err)
	}
	if ts := binary.BigEndian.Uint32(raw.Buf[40:]); ts != 0 {
		t.Fatalf("delivered trailer size %d, want 0", ts)
	}
	if rs, err := RecordsOf(raw.Buf); err != nil || len(rs) != 2 || string(rs[1]) != "a2" {
		t.Fatalf("records of the raw chunk: %q %v", rs, err)
	}
	l.Close()

	l = open(t, o)
	if l.WriterSeq("a") != 5 || l.WriterSeq("b") != 7 {
		t.Fatalf("reopened: a %d b %d, want 5 7", l.WriterSeq("a"), l.WriterSeq("b"))
	}
	// b writes many segments' worth; a's sequence must outlive the
	// segments retention removes.
	for i := uint64(8); i < 40; i++ {
		appendSeq(t, l, "b", i, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
	}
	l.SetRetention(Retention{MaxBytes: 700})
	l.mu.Lock()
	segs, first := len(l.mu.segs), l.mu.segs[0].first
	l.mu.Unlock()
	if first == 0 {
		t.Fatalf("retention kept the first segment (%d segments)", segs)
	}
	l.Close()
	l = open(t, o)
	if l.WriterSeq("a") != 5 || l.WriterSeq("b") != 39 {
		t.Fatalf("after retention and reopen: a %d b %d, want 5 39", l.WriterSeq("a"), l.WriterSeq("b"))
	}
	// kill -9 mid-write of b's 40: neither the records nor the sequence.
	appendSeq(t, l, "b", 40, "b40")
	l.mu.Lock()
	act := l.mu.segs[len(l.mu.segs)-1]
	path, size := act.path, act.size
	l.mu.Unlock()
	l.Close()
	if err := os.Truncate(path, size-3); err != nil {
		t.Fatal(err)
	}
	l = open(t, o)
	if l.WriterSeq("b") != 39 || l.WriterSeq("a") != 5 {
		t.Fatalf("after a torn tail: a %d b %d, want 5 39", l.WriterSeq("a"), l.WriterSeq("b"))
	}
}

// A trailer that fails its CRC is a corrupt chunk.
func TestTrailerCorruptionDetected(t *testing.T) {
	b := appendTrailer(nil, []WriterSeq{{"w", 3}}, false)
	if ws, snap, err := decodeTrailer(b); err != nil || snap || len(ws) != 1 || ws[0] != (WriterSeq{"w", 3}) {
		t.Fatalf("decode: %v %v %v", ws, snap, err)
	}
	b[4] ^= 0xff
	if _, _, err := decodeTrailer(b); err == nil {
		t.Fatal("a damaged trailer decoded")
	}
}
