package server

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/warrenmq/warren/amqp"
)

// The raw reads of a TCP connection (rawio.go, amqp/rawsock) keep the net package's
// read semantics: a client silent for two heartbeat intervals is
// disconnected (the read deadline, through the netpoller), frames split
// across many small writes are assembled, and a client that closes its
// socket ends the connection.
func TestRawReadsKeepDeadlinesAndFraming(t *testing.T) {
	addr := startTCP(t, Config{Heartbeat: 10})

	t.Run("silent client disconnected after two intervals", func(t *testing.T) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		p := &pipeClient{t: t, nc: nc, fr: amqp.NewFrameReader(bufio.NewReader(nc), 1<<20)}
		p.handshake(1)
		start := time.Now()
		nc.SetReadDeadline(start.Add(10 * time.Second)) // fail, never hang
		for {
			f, err := p.fr.ReadFrame()
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal("still connected after 10 s of silence with heartbeat 1 s")
			}
			if err != nil {
				break // closed by the server
			}
			if f.Type != amqp.FrameHeartbeat {
				t.Fatalf("got frame type %d, want heartbeats only", f.Type)
			}
		}
		if silent := time.Since(start); silent < 2*time.Second {
			t.Fatalf("disconnected after %v of silence, want two 1 s intervals", silent)
		}
	})

	t.Run("frames written a byte at a time", func(t *testing.T) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		p := &pipeClient{t: t, nc: nc, fr: amqp.NewFrameReader(bufio.NewReader(nc), 1<<20)}
		p.handshake(0)
		b, err := amqp.AppendMethodFrame(nil, 1, &amqp.ChannelOpen{})
		if err != nil {
			t.Fatal(err)
		}
		if b, err = amqp.AppendMethodFrame(b, 1, &amqp.QueueDeclare{Queue: "raw.split", Exclusive: true}); err != nil {
			t.Fatal(err)
		}
		for i := range b {
			if _, err := nc.Write(b[i : i+1]); err != nil {
				t.Fatal(err)
			}
		}
		p.expect(amqp.ChannelOpenOkID)
		if m := p.expect(amqp.QueueDeclareOkID).(*amqp.QueueDeclareOk); m.Queue != "raw.split" {
			t.Fatalf("declared %q, want raw.split", m.Queue)
		}
	})

	t.Run("client closes its socket", func(t *testing.T) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		p := &pipeClient{t: t, nc: nc, fr: amqp.NewFrameReader(bufio.NewReader(nc), 1<<20)}
		p.handshake(0)
		nc.(*net.TCPConn).CloseWrite()
		// The server sees EOF and closes its side: the read ends with
		// EOF, not the deadline.
		if _, err := p.fr.ReadFrame(); !errors.Is(err, io.EOF) {
			t.Fatalf("read after closing the write side: %v, want EOF (the server closed)", err)
		}
		nc.Close()
	})
}
