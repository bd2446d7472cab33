package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/warrenmq/warren/amqp"
)

// pipeClient drives the server side of a net.Pipe with the codec, as a
// minimal client would.
type pipeClient struct {
	t  *testing.T
	nc net.Conn
	fr *amqp.FrameReader
}

func startPipeConn(t *testing.T, cfg Config) *pipeClient {
	t.Helper()
	if cfg.Users == nil {
		cfg.Users = []User{{Name: "guest", PasswordHash: HashPassword("guest")}}
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cli, srv := net.Pipe()
	c := newConn(s, srv)
	s.wg.Add(1)
	go c.serve()
	return &pipeClient{t: t, nc: cli, fr: amqp.NewFrameReader(bufio.NewReader(cli), 1<<20)}
}

func (p *pipeClient) send(m amqp.Method) {
	p.t.Helper()
	b, err := amqp.AppendMethodFrame(nil, 0, m)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.nc.Write(b); err != nil {
		p.t.Fatalf("write %s: %v", m.Name(), err)
	}
}

func (p *pipeClient) expect(id uint32) amqp.Method {
	p.t.Helper()
	f, err := p.fr.ReadFrame()
	if err != nil {
		p.t.Fatalf("read, want %s: %v", amqp.MethodName(amqp.ClassOf(id), amqp.MethodOf(id)), err)
	}
	m, err := amqp.DecodeMethod(f.Payload)
	if err != nil || m.ID() != id {
		p.t.Fatalf("got %v (%v), want %s", m, err, amqp.MethodName(amqp.ClassOf(id), amqp.MethodOf(id)))
	}
	return m
}

// handshake logs in as guest and tunes the given heartbeat.
func (p *pipeClient) handshake(heartbeat uint16) {
	p.t.Helper()
	if _, err := p.nc.Write([]byte(amqp.ProtocolHeader)); err != nil {
		p.t.Fatal(err)
	}
	p.expect(amqp.ConnectionStartID)
	p.send(&amqp.ConnectionStartOk{Mechanism: "PLAIN", Response: "\x00guest\x00guest", Locale: "en_US"})
	p.expect(amqp.ConnectionTuneID)
	p.send(&amqp.ConnectionTuneOk{ChannelMax: 10, FrameMax: 131072, Heartbeat: heartbeat})
	p.send(&amqp.ConnectionOpen{VirtualHost: "/"})
	p.expect(amqp.ConnectionOpenOkID)
}

// A client that goes silent gets heartbeats every half interval and is
// disconnected after two intervals without a frame from it.
func TestHeartbeatsSentAndMissedHeartbeatsDisconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := startPipeConn(t, Config{Heartbeat: 10})
		p.handshake(1)
		start := time.Now()
		last := start
		beats := 0
		for {
			f, err := p.fr.ReadFrame()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
					t.Fatalf("read: %v", err)
				}
				break
			}
			if f.Type != amqp.FrameHeartbeat {
				t.Fatalf("got frame type %d, want heartbeats only", f.Type)
			}
			if gap := time.Since(last); gap != 500*time.Millisecond {
				t.Fatalf("heartbeat %d came %v after the previous frame, want 500ms", beats+1, gap)
			}
			last = time.Now()
			beats++
		}
		silent := time.Since(start)
		if silent < 2*time.Second || silent > 3*time.Second {
			t.Fatalf("disconnected after %v of silence, want two 1 s intervals", silent)
		}
		if beats < 3 {
			t.Fatalf("received %d heartbeats in %v, want one every 500 ms", beats, silent)
		}
	})
}

// A client that keeps sending heartbeats stays connected.
func TestClientHeartbeatsKeepConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := startPipeConn(t, Config{})
		p.handshake(1)
		go io.Copy(io.Discard, p.nc)
		for i := 0; i < 10; i++ {
			time.Sleep(500 * time.Millisecond) // fake time inside the bubble
			if _, err := p.nc.Write(amqp.AppendHeartbeat(nil)); err != nil {
				t.Fatalf("after %d heartbeats the server hung up: %v", i, err)
			}
		}
		p.nc.Close()
	})
}

// A client that connects and never sends the protocol header is dropped
// after the handshake timeout.
func TestHandshakeTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := startPipeConn(t, Config{HandshakeTimeout: 3 * time.Second})
		start := time.Now()
		_, err := p.nc.Read(make([]byte, 1))
		if err == nil {
			t.Fatal("server sent data to a client that said nothing")
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Fatalf("dropped after %v, want the 3 s handshake timeout", d)
		}
	})
}

// startTCP serves cfg on 127.0.0.1:0 until the test ends and returns the
// address.
func startTCP(t *testing.T, cfg Config) string {
	t.Helper()
	if cfg.Users == nil {
		cfg.Users = []User{{Name: "guest", PasswordHash: HashPassword("guest")}}
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != ErrServerClosed {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// rabbitmq: an idle connection gets a heartbeat every half interval, so a
// client that reads with the interval as its timeout never times out.
// Over a real socket, heartbeat 1 s: no gap between the server's frames
// may exceed half a second by much.
func TestIdleConnectionHeartbeatEveryHalfInterval(t *testing.T) {
	addr := startTCP(t, Config{Heartbeat: 1})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	p := &pipeClient{t: t, nc: nc, fr: amqp.NewFrameReader(bufio.NewReader(nc), 1<<20)}
	p.handshake(1)
	const (
		watch   = 3 * time.Second
		maxGap  = 750 * time.Millisecond // half the interval plus slack
		hardCap = 5 * time.Second        // the read deadline: fail, never hang
	)
	start := time.Now()
	last := start
	var gaps []time.Duration
	for time.Since(start) < watch {
		nc.SetReadDeadline(time.Now().Add(hardCap))
		f, err := p.fr.ReadFrame()
		if err != nil {
			t.Fatalf("read after %v (gaps so far %v): %v", time.Since(start), gaps, err)
		}
		if f.Type != amqp.FrameHeartbeat {
			t.Fatalf("got frame type %d, want heartbeats only", f.Type)
		}
		now := time.Now()
		gaps = append(gaps, now.Sub(last))
		last = now
		// Answer each heartbeat with one, so that the server keeps us.
		if _, err := nc.Write(amqp.AppendHeartbeat(nil)); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("gaps between server frames: %v", gaps)
	for i, g := range gaps {
		if g > maxGap {
			t.Fatalf("gap %d between server frames was %v, want <= %v (every 500 ms); all gaps: %v", i, g, maxGap, gaps)
		}
	}
}
