package streamserver

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// record is the test's message at offset i: its offset, padded.
func record(i int) []byte { return fmt.Appendf(nil, "%08d%s", i, strings.Repeat("x", 992)) }

// createStream creates name with args over c (opened).
func createStream(t *testing.T, c net.Conn, name string, args map[string]string) {
	t.Helper()
	c.Write(req(keyCreate, 10, func(f *frame) {
		f.str(name)
		f.u32(uint32(len(args)))
		for k, v := range args {
			f.str(k)
			f.str(v)
		}
	}))
	if d := readResponse(t, c, keyCreate|responseBit); func() uint16 { d.u32(); return d.u16() }() != codeOK {
		t.Fatal("create stream refused")
	}
}

// publishAll publishes records from..to-1 on c as publisher 1 of name,
// 100 a frame (100 kB), each frame confirmed before the next (a chunk
// each).
func publishAll(t *testing.T, c net.Conn, from, to int) {
	t.Helper()
	for i := from; i < to; i += 100 {
		f := newFrame(keyPublish, 1, 100*1020)
		f.u8(1)
		n := min(100, to-i)
		f.u32(uint32(n))
		for j := i; j < i+n; j++ {
			f.u64(uint64(j))
			rec := record(j)
			f.u32(uint32(len(rec)))
			f.b = append(f.b, rec...)
		}
		c.Write(f.done())
		for confirmed := 0; confirmed < n; {
			d := readResponse(t, c, keyPublishConfirm)
			d.u8()
			confirmed += int(d.u32())
		}
	}
}

// publisherOn opens a connection with publisher 1 on a new stream name.
func publisherOn(t *testing.T, addr, name string, args map[string]string) net.Conn {
	t.Helper()
	p := dial(t, addr)
	handshake(t, p, 0)
	p.SetDeadline(time.Now().Add(60 * time.Second))
	createStream(t, p, name, args)
	p.Write(req(keyDeclarePublisher, 11, func(f *frame) { f.u8(1); f.str(""); f.str(name) }))
	if d := readResponse(t, p, keyDeclarePublisher|responseBit); func() uint16 { d.u32(); return d.u16() }() != codeOK {
		t.Fatal("declare publisher refused")
	}
	return p
}

// slowConsumer subscribes from first with a small receive buffer and
// reads nothing until the test says so.
func slowConsumer(t *testing.T, addr, name string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return nil
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(60 * time.Second))
	handshake(t, c, 0)
	c.Write(req(keySubscribe, 20, func(f *frame) {
		f.u8(1)
		f.str(name)
		f.u16(offsetFirst)
		f.u16(10) // credit: 10 chunks, more than the sockets' buffers hold
		f.u32(0)
	}))
	if d := readResponse(t, c, keySubscribe|responseBit); func() uint16 { d.u32(); return d.u16() }() != codeOK {
		t.Fatal("subscribe refused")
	}
	return c
}

// holdsOpen reports whether this process has a file of t's (its name in
// the path: under its TempDir) whose path ends with suffix open for
// reading only: a stream reader's or a region's, not the log writer's.
func holdsOpen(t *testing.T, suffix string) bool {
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err != nil || !strings.Contains(target, "/"+t.Name()) || !strings.HasSuffix(target, suffix) {
			continue
		}
		info, err := os.ReadFile(filepath.Join("/proc/self/fdinfo", fd.Name()))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(info), "\n") {
			if f, ok := strings.CutPrefix(l, "flags:"); ok {
				if flags, err := strconv.ParseUint(strings.TrimSpace(f), 8, 64); err == nil && flags&syscall.O_ACCMODE == syscall.O_RDONLY {
					return true
				}
			}
		}
	}
	return false
}

// checkDeliver checks a Deliver frame (key on) as a client would, and
// more: the chunk header, the records' CRC, and each record against the
// one published at its offset. It returns the chunk's offsets.
func checkDeliver(t *testing.T, b []byte) (first uint64, count int) {
	t.Helper()
	if len(b) < 5+48 || binary.BigEndian.Uint16(b) != keyDeliver || b[4] != 1 {
		t.Fatalf("not a Deliver of subscription 1: % x", b[:min(len(b), 16)])
	}
	h, data := b[5:53], b[53:]
	if h[0] != 0x51 || h[1] != 0 {
		t.Fatalf("chunk magic % x", h[:2])
	}
	count = int(binary.BigEndian.Uint32(h[4:]))
	first = binary.BigEndian.Uint64(h[24:])
	if size := binary.BigEndian.Uint32(h[36:]); int(size) != len(data) || binary.BigEndian.Uint32(h[40:]) != 0 || h[44] != 0 {
		t.Fatalf("chunk at %d: data size %d, %d bytes follow; trailer %d, filter %d", first, size, len(data), binary.BigEndian.Uint32(h[40:]), h[44])
	}
	if crc32.ChecksumIEEE(data) != binary.BigEndian.Uint32(h[32:]) {
		t.Fatalf("chunk at %d: CRC mismatch", first)
	}
	for i := range count {
		n := binary.BigEndian.Uint32(data)
		if want := record(int(first) + i); !bytes.Equal(data[4:4+n], want) {
			t.Fatalf("offset %d: record %q..., want %q...", int(first)+i, data[4:min(4+n, 12)], want[:8])
		}
		data = data[4+n:]
	}
	return first, count
}

// A slow consumer replaying from first while retention removes the
// segments it reads (the writer holding chunks queued for sendfile from
// files already deleted) gets every chunk intact, then jumps to the
// first segment kept, up to the tail: no crash, no garbage.
func TestSlowReplayUnderRetention(t *testing.T) {
	addr := start(t, Config{SendfileMin: 1, MaxOutbound: 64 << 10})
	p := publisherOn(t, addr, "slow", map[string]string{
		"stream-max-segment-size-bytes": "250000", "max-length-bytes": "1500000"})
	publishAll(t, p, 0, 1200) // 12 chunks of 100 kB in 4 segments, all kept
	c := slowConsumer(t, addr, "slow")
	// The delivery has read its 10 chunks (the writer sends them as far
	// as the sockets' buffers take them, the rest waits in sendfile) and
	// waits for credit in the fourth segment.
	waitFor(t, "the delivery reading its 10 chunks", func() bool { return holdsOpen(t, "/00000000000000000900.seg") })
	publishAll(t, p, 1200, 4000) // retention removes the first segments meanwhile
	if !holdsOpen(t, "/00000000000000000900.seg (deleted)") {
		t.Fatal("the fourth segment is not removed, or no longer held open by the delivery")
	}
	next, gaps := uint64(0), 0
	for next < 4000 {
		b, err := readFrame(c, nil, 0)
		if err != nil {
			t.Fatalf("after offset %d: %v", next, err)
		}
		if binary.BigEndian.Uint16(b) != keyDeliver {
			continue
		}
		first, n := checkDeliver(t, b)
		if first < next {
			t.Fatalf("chunk at %d after offset %d", first, next)
		}
		if first > next {
			gaps++
			t.Logf("retention: offsets %d to %d removed before they were read", next, first-1)
		}
		next = first + uint64(n)
		if next <= 1200 {
			t.Logf("chunk %d..%d", first, next-1)
		}
		c.Write(func() []byte { f := newFrame(keyCredit, 1, 3); f.u8(1); f.u16(1); return f.done() }())
	}
	if gaps == 0 {
		t.Fatal("the consumer read every offset: retention removed nothing it had to skip")
	}
	if holdsOpen(t, ".seg (deleted)") {
		t.Fatal("a removed segment is still held open after the replay")
	}
}

// A stream deleted under a slow consumer's replay: the chunks the
// delivery had queued arrive intact (sent from the removed files), then
// the metadata update that ends the subscription, and nothing after it.
func TestSlowReplayOfADeletedStream(t *testing.T) {
	addr := start(t, Config{SendfileMin: 1, MaxOutbound: 64 << 10})
	p := publisherOn(t, addr, "gone", map[string]string{"stream-max-segment-size-bytes": "250000"})
	publishAll(t, p, 0, 1200)
	c := slowConsumer(t, addr, "gone")
	waitFor(t, "the delivery reading its 10 chunks", func() bool { return holdsOpen(t, "/00000000000000000900.seg") })
	p.Write(req(keyDelete, 12, func(f *frame) { f.str("gone") }))
	if d := readResponse(t, p, keyDelete|responseBit); func() uint16 { d.u32(); return d.u16() }() != codeOK {
		t.Fatal("delete stream refused")
	}
	next := uint64(0)
	for {
		b, err := readFrame(c, nil, 0)
		if err != nil {
			t.Fatalf("after offset %d: %v", next, err)
		}
		key := binary.BigEndian.Uint16(b)
		if key == keyMetadataUpdate {
			d := &decoder{b: b[4:]}
			if code, name := d.u16(), d.str(); code != codeStreamNotAvailable || name != "gone" {
				t.Fatalf("metadata update %d %q", code, name)
			}
			break
		}
		if key != keyDeliver {
			continue
		}
		first, n := checkDeliver(t, b)
		if first != next {
			t.Fatalf("chunk at %d after offset %d", first, next)
		}
		next = first + uint64(n)
	}
	if next == 0 {
		t.Fatal("no chunk arrived before the metadata update")
	}
	t.Logf("%d records arrived intact, then the metadata update", next)
	// Nothing follows: the connection answers a heartbeat-free request,
	// and no Deliver comes first.
	c.Write(req(keyMetadata, 30, func(f *frame) { f.u32(1); f.str("gone") }))
	for {
		b, err := readFrame(c, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		switch binary.BigEndian.Uint16(b) {
		case keyDeliver:
			t.Fatal("a Deliver after the metadata update")
		case keyMetadata | responseBit:
			waitFor(t, "the removed files closed", func() bool { return !holdsOpen(t, ".seg (deleted)") })
			return
		}
	}
}
