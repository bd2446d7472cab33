package queue

import (
	"bytes"
	"testing"
)

func TestBodyClasses(t *testing.T) {
	for _, tc := range []struct{ n, class, size int }{
		{MinPooledBody, 0, 64 << 10},
		{MinPooledBody + 1, 1, 80 << 10},
		{80 << 10, 1, 80 << 10},
		{128 << 10, 4, 128 << 10},
		{128<<10 + 1, 5, 160 << 10},
		{1 << 20, 16, 1 << 20},
		{1<<20 + 100, 17, 1<<20 + 256<<10},
		{MaxPooledBody, numClasses - 1, MaxPooledBody},
	} {
		c, size := classOf(tc.n)
		if c != tc.class || size != tc.size {
			t.Errorf("classOf(%d) = %d, %d; want %d, %d", tc.n, c, size, tc.class, tc.size)
		}
	}
	// Every size fits its class, and wastes at most a fifth of it.
	for n := MinPooledBody; n <= MaxPooledBody; n += 4093 {
		c, size := classOf(n)
		if c < 0 || c >= numClasses || size < n || size-n > size/5 {
			t.Fatalf("classOf(%d) = %d, %d", n, c, size)
		}
	}
}

func TestBodyPoolReferences(t *testing.T) {
	p := NewBodyPool(true)
	if b, _ := p.Get(MinPooledBody - 1); b != nil {
		t.Fatal("a body below MinPooledBody was pooled")
	}
	if b, _ := p.Get(MaxPooledBody + 1); b != nil {
		t.Fatal("a body above MaxPooledBody was pooled")
	}
	b, body := p.Get(100 << 10)
	if len(body) != 100<<10 || cap(body) != 100<<10 {
		t.Fatalf("body len %d cap %d, want 100 KiB both", len(body), cap(body))
	}
	copy(body, bytes.Repeat([]byte{7}, len(body)))
	m := &Message{Body: body}
	m.SetPooledBody(b)
	m.Retain() // an entry
	m.Retain() // an output
	b.Release()
	m.Release()
	if p.Stats().Puts != 0 || body[0] != 7 {
		t.Fatal("the body went back with a reference left")
	}
	m.Release()
	if p.Stats().Puts != 1 || body[0] != poisonByte || body[len(body)-1] != poisonByte {
		t.Fatalf("the last release did not return and poison the body: %+v", p.Stats())
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a release below zero did not panic in a poisoning pool")
			}
		}()
		m.Release()
	}()

	// A pinned body never goes back.
	b, body = p.Get(MinPooledBody)
	m = &Message{Body: body}
	m.SetPooledBody(b)
	m.Retain()
	m.Pin()
	m.Release()
	m.Release()
	if got := p.Stats().Puts; got != 1 {
		t.Fatalf("a pinned body went back: puts %d", got)
	}
	// Messages without a pooled body ignore it all.
	plain := &Message{Body: []byte("x")}
	plain.Retain()
	plain.Release()
	plain.Release()
	plain.Pin()
}

// BenchmarkBodyBuffer is the buffer of a 1 MiB publish: allocated (and
// zeroed by the runtime) against drawn from a BodyPool and returned.
func BenchmarkBodyBuffer(b *testing.B) {
	const n = 1 << 20
	b.Run("make", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(n)
		for b.Loop() {
			buf := make([]byte, n)
			buf[0] = 1
		}
	})
	b.Run("pool", func(b *testing.B) {
		p := NewBodyPool(false)
		b.ReportAllocs()
		b.SetBytes(n)
		for b.Loop() {
			pb, buf := p.Get(n)
			buf[0] = 1
			pb.Release()
		}
	})
}
