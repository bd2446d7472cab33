package main

import (
	"bytes"
	"net"
	"testing"
	"time"
)

// TestCoalescingConnOrder: everything written arrives, in order per
// writer, whatever the batching.
func TestCoalescingConnOrder(t *testing.T) {
	a, b := net.Pipe()
	c := newCoalescingConn(a)
	defer c.Close()
	var chunks [][]byte
	var want []byte
	for i := range 2000 {
		p := bytes.Repeat([]byte{byte(i)}, 1+i%300)
		chunks = append(chunks, p)
		want = append(want, p...)
	}
	go func() {
		for _, p := range chunks {
			if _, err := c.Write(p); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	got := make([]byte, 0, len(want))
	buf := make([]byte, 4096)
	b.SetReadDeadline(time.Now().Add(10 * time.Second))
	for len(got) < len(want) {
		n, err := b.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("after %d of %d bytes: %v", len(got), len(want), err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatal("bytes differ")
	}
}

// TestCoalescingConnCloseUnblocks: a writer held back by a peer that does
// not read returns an error once the connection is closed.
func TestCoalescingConnCloseUnblocks(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	c := newCoalescingConn(a)
	errc := make(chan error, 1)
	go func() {
		chunk := make([]byte, 64<<10)
		for range 1000 { // 64 MiB: far past maxPendingWrite
			if _, err := c.Write(chunk); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	c.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Error("64 MiB written to a peer that reads nothing")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the writer is still blocked after Close")
	}
	if _, err := c.Write([]byte("x")); err == nil {
		t.Error("write after Close succeeded")
	}
}
