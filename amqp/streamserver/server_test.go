package streamserver

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
)

// start runs a Warren (AMQP for its broker and users) and a stream
// server with cfg's tuning, returning the stream address.
func start(t *testing.T, cfg Config) string {
	t.Helper()
	srv, _ := servertest.StartServer(t, server.Config{StreamDir: t.TempDir()})
	cfg.Broker = srv.Broker()
	cfg.Logger = zaptest.NewLogger(t)
	cfg.Auth = func(user, pass string, remote net.Addr) (User, error) {
		u, err := srv.Authenticate(user, pass, remote)
		return User{Name: u.Name, Vhosts: u.Vhosts}, err
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return servertest.Serve(t, s, ErrServerClosed)
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// req builds a request frame: key, version 1, correlation id, fields.
func req(key uint16, corr uint32, fields func(f *frame)) []byte {
	f := newFrame(key, 1, 32)
	f.u32(corr)
	if fields != nil {
		fields(f)
	}
	return f.done()
}

// readResponse reads frames until one with key, returning its fields
// after the header.
func readResponse(t *testing.T, c net.Conn, key uint16) *decoder {
	t.Helper()
	for {
		b, err := readFrame(c, nil, 0)
		if err != nil {
			t.Fatalf("waiting for %#x: %v", key, err)
		}
		d := &decoder{b: b}
		if d.u16() == key {
			d.u16()
			return d
		}
	}
}

// handshake opens c as guest on "/", answering tune with heartbeat.
func handshake(t *testing.T, c net.Conn, heartbeat uint32) {
	t.Helper()
	c.Write(req(keyPeerProperties, 1, func(f *frame) { f.u32(0) }))
	readResponse(t, c, keyPeerProperties|responseBit)
	c.Write(req(keySaslHandshake, 2, nil))
	readResponse(t, c, keySaslHandshake|responseBit)
	c.Write(req(keySaslAuthenticate, 3, func(f *frame) {
		f.str("PLAIN")
		f.u32(uint32(len("\x00guest\x00guest")))
		f.b = append(f.b, "\x00guest\x00guest"...)
	}))
	if d := readResponse(t, c, keySaslAuthenticate|responseBit); func() uint16 { d.u32(); return d.u16() }() != codeOK {
		t.Fatal("login refused")
	}
	readResponse(t, c, keyTune)
	tune := newFrame(keyTune|responseBit, 1, 8)
	tune.u32(1 << 20)
	tune.u32(heartbeat)
	c.Write(tune.done())
	c.Write(req(keyOpen, 4, func(f *frame) { f.str("/") }))
	d := readResponse(t, c, keyOpen|responseBit)
	if d.u32(); d.u16() != codeOK {
		t.Fatal("open refused")
	}
}

// closedByServer reads until the server closes the connection.
func closedByServer(t *testing.T, c net.Conn) {
	t.Helper()
	for {
		if _, err := readFrame(c, nil, 0); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the server kept the connection open")
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Logf("closed with %v", err)
			}
			return
		}
	}
}

// Malformed and out-of-order input closes the connection, never the
// server: after each, a good client still gets in.
func TestBadInputClosesTheConnection(t *testing.T) {
	addr := start(t, Config{})
	size := func(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
	for _, tc := range []struct {
		name   string
		opened bool
		send   []byte
	}{
		{"a frame under 4 bytes", false, size(2)},
		{"a frame over frame max", false, size(0x7fff_ffff)},
		{"open before authentication", false, req(keyOpen, 1, func(f *frame) { f.str("/") })},
		{"a truncated peer properties", false, append(size(9), 0, keyPeerProperties, 0, 1, 0, 0, 0, 1, 0xff)},
		{"an unknown command", true, req(0x7777, 1, nil)},
		{"a truncated publish", true, append(size(9), 0, keyPublish, 0, 1, 0, 0, 0, 0, 9)},
		{"a subscribe with a string past the frame", true, req(keySubscribe, 1, func(f *frame) { f.u8(0); f.u16(500) })},
		{"a publish count past the frame", true, append(size(9), 0, keyPublish, 0, 1, 0, 0xff, 0xff, 0xff, 0xff)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, addr)
			if tc.opened {
				handshake(t, c, 0)
			}
			c.Write(tc.send)
			closedByServer(t, c)
			good := dial(t, addr)
			handshake(t, good, 0)
		})
	}
}

// The login is checked: a wrong password is refused (code 8) and the
// connection closed.
func TestLoginRefused(t *testing.T) {
	c := dial(t, start(t, Config{}))
	c.Write(req(keyPeerProperties, 1, func(f *frame) { f.u32(0) }))
	readResponse(t, c, keyPeerProperties|responseBit)
	c.Write(req(keySaslAuthenticate, 2, func(f *frame) {
		f.str("PLAIN")
		f.u32(uint32(len("\x00guest\x00nope")))
		f.b = append(f.b, "\x00guest\x00nope"...)
	}))
	d := readResponse(t, c, keySaslAuthenticate|responseBit)
	if d.u32(); d.u16() != codeAuthenticationFailure {
		t.Fatal("a wrong password was not refused with code 8")
	}
	closedByServer(t, c)
}

// Heartbeats are enforced: the server sends them, and closes a
// connection silent for two intervals.
func TestHeartbeatEnforced(t *testing.T) {
	c := dial(t, start(t, Config{Heartbeat: time.Second}))
	handshake(t, c, 1)
	began := time.Now()
	beats := 0
	for {
		b, err := readFrame(c, nil, 0)
		if err != nil {
			break
		}
		switch binary.BigEndian.Uint16(b) {
		case keyHeartbeat:
			beats++
		case keyClose:
			d := &decoder{b: b[4:]}
			d.u32()
			t.Logf("closed by the server: code %d %q", d.u16(), d.str())
		}
	}
	silent := time.Since(began)
	if beats == 0 {
		t.Error("no heartbeat from the server")
	}
	if silent < 2*time.Second || silent > 5*time.Second {
		t.Errorf("closed after %v of silence, want 2 to 3 heartbeat intervals", silent)
	}
	t.Logf("%d heartbeats, closed after %v of silence", beats, silent)
}
