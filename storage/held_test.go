package storage

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"
)

// A body put with PutMessagePartsHeld is released once the store is done
// with it, written or cancelled, and not before: the body read back is
// what was put although the caller scribbles over its buffer right after
// the release, as a pool that hands the buffer out again would.
func TestPutMessagePartsHeldReleasesAfterTheWrite(t *testing.T) {
	s := openT(t, t.TempDir())
	for _, size := range []int{100, 2 << 20} { // in Badger, and in a body file
		want := body(1, size)
		buf := append([]byte(nil), want...)
		var released, cancelled atomic.Int32
		b := new(Batch)
		b.PutMessagePartsHeld(uint64(size), []byte("head:"), buf, func() {
			released.Add(1)
			clear(buf) // the buffer's next owner
		})
		b.PutMessagePartsHeld(uint64(size)+1, nil, []byte("gone"), func() { cancelled.Add(1) })
		b.DeleteMessage(uint64(size) + 1) // cancelled inside the batch: never written
		applyT(t, s, b)
		deadline := time.Now().Add(10 * time.Second)
		for released.Load() == 0 || cancelled.Load() == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("size %d: released %d, cancelled released %d after 10s", size, released.Load(), cancelled.Load())
			}
			time.Sleep(time.Millisecond) // polling for the notifier goroutine
		}
		got, err := s.Message(uint64(size))
		if err != nil {
			t.Fatalf("size %d: read back: %v", size, err)
		}
		if !bytes.Equal(got, append([]byte("head:"), want...)) {
			t.Fatalf("size %d: read back %d bytes, not what was put", size, len(got))
		}
		if released.Load() != 1 || cancelled.Load() != 1 {
			t.Fatalf("size %d: released %d and %d times, want once each", size, released.Load(), cancelled.Load())
		}
	}
}
