package server

import (
	"bufio"
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
			beats++
		}
		silent := time.Since(start)
		if silent < 2*time.Second || silent > 3*time.Second {
			t.Fatalf("disconnected after %v of silence, want two 1 s intervals", silent)
		}
		if beats < 2 {
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
