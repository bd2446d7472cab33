package conformance

// A minimal hand-written AMQP 0-9-1 frame codec, for what amqp091-go cannot
// be made to send: a wrong protocol header, a tune-ok of our choosing, a
// method on a channel that is not open, client capabilities it overwrites.
// It knows only the few methods the raw tests use.
//
//	frame:  type:u8 channel:u16 size:u32 payload[size] 0xCE
//	method: class:u16 method:u16 arguments...

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

const (
	frameMethod    = 1
	frameHeader    = 2
	frameBody      = 3
	frameHeartbeat = 8
	frameEnd       = 0xCE
)

var protocolHeader = []byte("AMQP\x00\x00\x09\x01")

type rawConn struct {
	t   testing.TB
	uri amqp.URI
	c   net.Conn
	r   *bufio.Reader
}

// rawDial opens a TCP connection to the host and port of the broker URL.
func (b *broker) rawDial() *rawConn {
	b.t.Helper()
	uri, err := amqp.ParseURI(b.url)
	if err != nil {
		b.t.Fatalf("parse %q: %v", b.url, err)
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort(uri.Host, fmt.Sprint(uri.Port)), waitTimeout)
	if err != nil {
		b.t.Fatalf("tcp dial: %v", err)
	}
	b.track(c)
	b.t.Cleanup(func() { _ = c.Close() })
	// One deadline for the whole raw conversation: every read is bounded.
	_ = c.SetDeadline(time.Now().Add(2 * waitTimeout))
	return &rawConn{t: b.t, uri: uri, c: c, r: bufio.NewReader(c)}
}

func (r *rawConn) write(p []byte) {
	r.t.Helper()
	if _, err := r.c.Write(p); err != nil {
		r.t.Fatalf("raw write: %v", err)
	}
}

type rawFrame struct {
	typ     byte
	channel uint16
	payload []byte
}

// classMethod returns a method frame's class and method ids.
func (f rawFrame) classMethod() (uint16, uint16) {
	if f.typ != frameMethod || len(f.payload) < 4 {
		return 0, 0
	}
	return binary.BigEndian.Uint16(f.payload), binary.BigEndian.Uint16(f.payload[2:])
}

func (r *rawConn) readFrame() (rawFrame, error) {
	var h [7]byte
	if _, err := io.ReadFull(r.r, h[:]); err != nil {
		return rawFrame{}, err
	}
	f := rawFrame{typ: h[0], channel: binary.BigEndian.Uint16(h[1:]), payload: make([]byte, binary.BigEndian.Uint32(h[3:])+1)}
	if _, err := io.ReadFull(r.r, f.payload); err != nil {
		return rawFrame{}, err
	}
	if end := f.payload[len(f.payload)-1]; end != frameEnd {
		return rawFrame{}, fmt.Errorf("frame end 0x%02x, want 0x%02x", end, frameEnd)
	}
	f.payload = f.payload[:len(f.payload)-1]
	return f, nil
}

// mustReadFrame reads one frame or fails the test.
func (r *rawConn) mustReadFrame() rawFrame {
	r.t.Helper()
	f, err := r.readFrame()
	if err != nil {
		r.t.Fatalf("raw read frame: %v", err)
	}
	return f
}

// expectMethod reads one frame and asserts it is method class.method on channel.
func (r *rawConn) expectMethod(channel, class, method uint16) *decoder {
	r.t.Helper()
	f := r.mustReadFrame()
	c, m := f.classMethod()
	if f.typ != frameMethod || f.channel != channel || c != class || m != method {
		r.t.Fatalf("got frame type %d channel %d method %d.%d, want method %d.%d on channel %d (payload %q)",
			f.typ, f.channel, c, m, class, method, channel, f.payload)
	}
	return &decoder{b: f.payload[4:]}
}

// expectConnectionClose reads connection.close and asserts its reply code
// and text, answers close-ok and asserts the broker then closes the socket.
func (r *rawConn) expectConnectionClose(code uint16, text string) {
	r.t.Helper()
	d := r.expectMethod(0, 10, 50)
	gotCode, gotText := d.u16(), d.shortstr()
	if d.err != nil {
		r.t.Fatalf("decode connection.close: %v", d.err)
	}
	if gotCode != code || gotText != text {
		r.t.Fatalf("got connection.close %d %q, want %d %q", gotCode, gotText, code, text)
	}
	r.sendMethod(0, 10, 51, nil) // close-ok
	r.expectEOF()
}

// expectEOF asserts the broker closes the connection, skipping heartbeats.
func (r *rawConn) expectEOF() {
	r.t.Helper()
	for {
		f, err := r.readFrame()
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return
		}
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				r.t.Fatalf("broker did not close the connection")
			}
			return // reset by peer: closed as well
		}
		if f.typ != frameHeartbeat {
			r.t.Fatalf("got frame type %d on channel %d, want the connection closed", f.typ, f.channel)
		}
	}
}

func (r *rawConn) sendFrame(typ byte, channel uint16, payload []byte) {
	r.t.Helper()
	var e encoder
	e.u8(typ)
	e.u16(channel)
	e.u32(uint32(len(payload)))
	e.b = append(e.b, payload...)
	e.u8(frameEnd)
	r.write(e.b)
}

func (r *rawConn) sendMethod(channel, class, method uint16, args []byte) {
	r.t.Helper()
	var e encoder
	e.u16(class)
	e.u16(method)
	e.b = append(e.b, args...)
	r.sendFrame(frameMethod, channel, e.b)
}

// rawTune is what the raw client answers in connection.tune-ok.
type rawTune struct {
	channelMax uint16
	frameMax   uint32
	heartbeat  uint16
}

// start sends the protocol header, reads connection.start and answers
// start-ok with PLAIN credentials (password overrides the URL's when not
// empty) and the authentication_failure_close capability.
func (r *rawConn) start(password string) {
	r.t.Helper()
	r.write(protocolHeader)
	r.expectMethod(0, 10, 10)
	if password == "" {
		password = r.uri.Password
	}
	var e encoder
	e.table(map[string]any{
		"product":      "warren-conformance-raw",
		"capabilities": map[string]any{"authentication_failure_close": true},
	})
	e.shortstr("PLAIN")
	e.longstr("\x00" + r.uri.Username + "\x00" + password)
	e.shortstr("en_US")
	r.sendMethod(0, 10, 11, e.b)
}

// tune reads connection.tune, answers tune-ok with want (zero fields take the
// broker's proposal) and returns the broker's proposal.
func (r *rawConn) tune(want rawTune) rawTune {
	r.t.Helper()
	d := r.expectMethod(0, 10, 30)
	proposed := rawTune{channelMax: d.u16(), frameMax: d.u32(), heartbeat: d.u16()}
	if d.err != nil {
		r.t.Fatalf("decode connection.tune: %v", d.err)
	}
	if want.channelMax == 0 {
		want.channelMax = proposed.channelMax
	}
	if want.frameMax == 0 {
		want.frameMax = proposed.frameMax
	}
	var e encoder
	e.u16(want.channelMax)
	e.u32(want.frameMax)
	e.u16(want.heartbeat)
	r.sendMethod(0, 10, 31, e.b)
	return proposed
}

// openVhost sends connection.open for vhost and expects open-ok.
func (r *rawConn) openVhost() {
	r.t.Helper()
	var e encoder
	e.shortstr(r.uri.Vhost)
	e.shortstr("")
	e.u8(0)
	r.sendMethod(0, 10, 40, e.b)
	r.expectMethod(0, 10, 41)
}

// handshake performs the whole opening handshake with tune-ok want.
func (r *rawConn) handshake(want rawTune) rawTune {
	r.t.Helper()
	r.start("")
	proposed := r.tune(want)
	r.openVhost()
	return proposed
}

// openChannel sends channel.open on channel and expects open-ok.
func (r *rawConn) openChannel(channel uint16) {
	r.t.Helper()
	r.sendMethod(channel, 20, 10, []byte{0}) // reserved shortstr ""
	r.expectMethod(channel, 20, 11)
}

type encoder struct{ b []byte }

func (e *encoder) u8(v byte)         { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16)      { e.b = binary.BigEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32)      { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64)      { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *encoder) shortstr(s string) { e.u8(byte(len(s))); e.b = append(e.b, s...) }
func (e *encoder) longstr(s string)  { e.u32(uint32(len(s))); e.b = append(e.b, s...) }

// table encodes string, bool and nested-table values only.
func (e *encoder) table(t map[string]any) {
	var inner encoder
	for k, v := range t {
		inner.shortstr(k)
		switch v := v.(type) {
		case string:
			inner.u8('S')
			inner.longstr(v)
		case bool:
			inner.u8('t')
			if v {
				inner.u8(1)
			} else {
				inner.u8(0)
			}
		case map[string]any:
			inner.u8('F')
			inner.table(v)
		default:
			panic(fmt.Sprintf("raw encoder: unsupported table value %T", v))
		}
	}
	e.u32(uint32(len(inner.b)))
	e.b = append(e.b, inner.b...)
}

// decoder is a sticky-error reader over a method's arguments.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return make([]byte, n)
	}
	if len(d.b) < n {
		d.err = fmt.Errorf("short method arguments: need %d bytes, have %d", n, len(d.b))
		return make([]byte, n)
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) u8() byte    { return d.take(1)[0] }
func (d *decoder) u16() uint16 { return binary.BigEndian.Uint16(d.take(2)) }
func (d *decoder) u32() uint32 { return binary.BigEndian.Uint32(d.take(4)) }
func (d *decoder) shortstr() string {
	return string(d.take(int(d.u8())))
}
func (d *decoder) longstr() string { return string(d.take(int(d.u32()))) }

// table decodes a field table, keeping only the value types connection.start
// uses (strings, booleans, nested tables); any other type stops decoding.
func (d *decoder) table() map[string]any {
	t := map[string]any{}
	inner := &decoder{b: d.take(int(d.u32()))}
	for d.err == nil && inner.err == nil && len(inner.b) > 0 {
		k := inner.shortstr()
		switch typ := inner.u8(); typ {
		case 'S':
			t[k] = inner.longstr()
		case 't':
			t[k] = inner.u8() != 0
		case 'F':
			t[k] = inner.table()
		default:
			inner.err = fmt.Errorf("raw decoder: unsupported table value type %q for key %q", typ, k)
		}
	}
	if d.err == nil {
		d.err = inner.err
	}
	return t
}
