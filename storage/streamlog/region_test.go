package streamlog

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// sendable reads the next chunk with ReadSendable and returns its bytes
// from the header on, the region's read from the file, and the region.
func sendable(t *testing.T, r *Reader, minFile int) ([]byte, RawChunk) {
	t.Helper()
	c, ok, err := r.ReadSendable(nil, 3, minFile)
	if err != nil || !ok {
		t.Fatalf("ReadSendable: ok %v, %v", ok, err)
	}
	var b bytes.Buffer
	b.Write(c.Buf[3:])
	if c.Records.Len > 0 {
		if n, err := c.Records.WriteTo(&b); err != nil || n != c.Records.Len {
			t.Fatalf("reading the region: %d of %d bytes, %v", n, c.Records.Len, err)
		}
	}
	if int64(b.Len()) != c.Len(3) {
		t.Fatalf("Len %d, %d bytes", c.Len(3), b.Len())
	}
	return b.Bytes(), c
}

// A chunk handed out with its records left in the file carries the same
// bytes as ReadRaw's, with the records' range of the segment file; below
// minFile the records are read into the buffer and there is no region.
func TestReadSendableMatchesReadRaw(t *testing.T) {
	l := open(t, Options{Dir: t.TempDir(), MaxSegmentBytes: 300})
	for i := 0; i < 60; i += 6 {
		appendSync(t, l, recs(i, i+6)...)
	}
	raw, file, small := l.NewReader(SeekFirst), l.NewReader(SeekFirst), l.NewReader(SeekFirst)
	defer raw.Close()
	defer file.Close()
	defer small.Close()
	chunks := 0
	for {
		want, ok, err := raw.ReadRaw(3)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		chunks++
		got, c := sendable(t, file, 0)
		if c.Records.Len == 0 || c.First != want.First || c.Count != want.Count || !bytes.Equal(got, want.Buf[3:]) {
			t.Fatalf("chunk %d: sendable %d bytes (region %d) first %d, raw %d bytes first %d",
				chunks, len(got), c.Records.Len, c.First, len(want.Buf)-3, want.First)
		}
		c.Records.Release()
		got, c = sendable(t, small, 1<<20)
		if c.Records.Len != 0 || !bytes.Equal(got, want.Buf[3:]) {
			t.Fatalf("chunk %d under minFile: region %d, bytes equal %v", chunks, c.Records.Len, bytes.Equal(got, want.Buf[3:]))
		}
	}
	if chunks < 3 {
		t.Fatalf("%d chunks: the test wants several segments", chunks)
	}
	if _, ok, _ := file.ReadSendable(nil, 3, 0); ok {
		t.Fatal("ReadSendable past the tail returned a chunk")
	}
}

// A region keeps its segment file open until it is released: after its
// reader moved on and closed the file, after retention removed the
// segment and after the log was deleted, it still reads the chunk it was
// handed out for, and the file is closed once it is released.
func TestRegionOutlivesItsSegment(t *testing.T) {
	for _, how := range []string{"retention", "delete"} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			l := open(t, Options{Dir: dir, MaxSegmentBytes: 200})
			for i := 0; i < 40; i += 4 {
				appendSync(t, l, recs(i, i+4)...)
			}
			ref := l.NewReader(SeekFirst)
			want, _, err := ref.ReadRaw(0)
			ref.Close()
			if err != nil {
				t.Fatal(err)
			}
			r := l.NewReader(SeekFirst)
			_, c := sendable(t, r, 0) // checks the bytes once
			seg := filepath.Join(dir, segmentName(0))
			// The reader reads on to the tail, in the last segment, letting
			// go of the first.
			for {
				c, ok, err := r.ReadRaw(0)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					break
				}
				if c.First == 0 {
					t.Fatal("the first chunk read twice")
				}
			}
			r.Close()
			if n := l.Info().Segments; n < 3 {
				t.Fatalf("%d segments: the test wants several", n)
			}
			switch how {
			case "retention":
				l.SetRetention(Retention{MaxBytes: 1}) // all but the active segment go
				if l.Info().First == 0 {
					t.Fatal("retention kept the first segment")
				}
			case "delete":
				if err := l.Delete(); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := os.Stat(seg); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the first segment is still there: %v", err)
			}
			var b bytes.Buffer
			b.Write(c.Buf[3:])
			if _, err := c.Records.WriteTo(&b); err != nil {
				t.Fatalf("the region after its segment was removed: %v", err)
			}
			if !bytes.Equal(b.Bytes(), want.Buf) {
				t.Fatalf("the region read %q, want %q", b.Bytes(), want.Buf)
			}
			f := c.Records.sf.f
			c.Records.Release()
			c.Records.Release() // twice is harmless
			if _, err := f.Stat(); !errors.Is(err, os.ErrClosed) {
				t.Fatalf("the file is still open after the last release: %v", err)
			}
			if _, err := c.Records.WriteTo(&b); !errors.Is(err, errReleased) {
				t.Fatalf("a released region read: %v", err)
			}
		})
	}
}
