package rawsock

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// tcpPair is a connected pair of loopback TCP connections.
func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	a, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := <-accepted
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a.(*net.TCPConn), b.(*net.TCPConn)
}

func rawConn(t *testing.T, c *net.TCPConn) syscall.RawConn {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// TestRawWritevWaitsForRoom: 200 buffers of odd sizes, 24 MiB in all,
// more than the socket buffers hold, written with raw writev calls
// while the other end reads slowly: every byte arrives, in order, and
// a Sock's Read reads them.
func TestRawWritevWaitsForRoom(t *testing.T) {
	a, b := tcpPair(t)
	a.SetWriteBuffer(64 << 10)
	b.SetReadBuffer(64 << 10)
	var want []byte
	var bufs net.Buffers
	for i := range 200 {
		p := bytes.Repeat([]byte{byte(i)}, 1+i*1249)
		want = append(want, p...)
		bufs = append(bufs, p, nil) // empty buffers are skipped
	}
	got := make(chan []byte, 1)
	go func() {
		rc, err := b.SyscallConn()
		if err != nil {
			got <- nil
			return
		}
		rs := New(rc)
		var all []byte
		p := make([]byte, 7000)
		for {
			n, err := rs.Read(p)
			all = append(all, p[:n]...)
			if err != nil {
				got <- all
				return
			}
		}
	}()
	n, err := New(rawConn(t, a)).Writev(bufs)
	if err != nil || n != int64(len(want)) {
		t.Fatalf("rawWritev: %d of %d bytes, %v", n, len(want), err)
	}
	a.CloseWrite()
	all := <-got
	if !bytes.Equal(all, want) {
		t.Fatalf("read %d bytes, not the %d written", len(all), len(want))
	}
}

// TestRawReadEnds: a Sock's Read returns io.EOF at the peer's close, the
// deadline's error at a read deadline, and an error after the
// connection is closed, as a read does.
func TestRawReadEnds(t *testing.T) {
	a, b := tcpPair(t)
	rs := New(rawConn(t, b))
	b.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := rs.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("at the deadline: %v", err)
	}
	b.SetReadDeadline(time.Time{})
	a.Write([]byte("hello"))
	a.Close()
	p := make([]byte, 10)
	n, err := rs.Read(p)
	if err != nil || string(p[:n]) != "hello" {
		t.Fatalf("read %q, %v", p[:n], err)
	}
	if _, err := rs.Read(p); err != io.EOF {
		t.Fatalf("at the peer's close: %v, want io.EOF", err)
	}
	b.Close()
	if _, err := rs.Read(p); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

// TestRawSendfile: a rawSock sends a file's range, raw or not, waiting
// for room; a range past the file's end is an error, not a hang.
func TestRawSendfile(t *testing.T) {
	a, b := tcpPair(t)
	a.SetWriteBuffer(64 << 10)
	data := bytes.Repeat([]byte("0123456789"), 300_000) // 3 MB
	f, err := os.CreateTemp(t.TempDir(), "seg")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Write(data)
	got := make(chan []byte, 1)
	go func() {
		all, _ := io.ReadAll(b)
		got <- all
	}()
	rs := New(rawConn(t, a))
	rs.Cork(true)
	for _, raw := range []bool{true, false} {
		if n, err := rs.Sendfile(f.Fd(), 7, int64(len(data))-7, raw); err != nil || n != int64(len(data))-7 {
			t.Fatalf("sendfile (raw %v): %d, %v", raw, n, err)
		}
	}
	if n, err := rs.Sendfile(f.Fd(), int64(len(data))-5, 10, true); err == nil || n != 5 {
		t.Fatalf("sendfile past the end: %d, %v; want 5 and an error", n, err)
	}
	rs.Cork(false)
	a.CloseWrite()
	all := <-got
	want := append(append(append([]byte{}, data[7:]...), data[7:]...), data[len(data)-5:]...)
	if !bytes.Equal(all, want) {
		t.Fatalf("received %d bytes, not the %d sent", len(all), len(want))
	}
}
