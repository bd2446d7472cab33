package conformance

import (
	"bytes"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

func TestConnectionServerProperties(t *testing.T) {
	b := setup(t)
	conn := b.dial()

	equal(t, "protocol major", conn.Major, 0)
	equal(t, "protocol minor", conn.Minor, 9)
	if !slices.Contains(conn.Locales, "en_US") {
		t.Fatalf("locales %q do not include en_US", conn.Locales)
	}
	if p, _ := conn.Properties["product"].(string); p == "" {
		t.Fatalf("server property product = %#v, want a non-empty string", conn.Properties["product"])
	}
	if v, _ := conn.Properties["version"].(string); v == "" {
		t.Fatalf("server property version = %#v, want a non-empty string", conn.Properties["version"])
	}
	caps, ok := conn.Properties["capabilities"].(amqp.Table)
	if !ok {
		t.Fatalf("server property capabilities = %#v, want a table", conn.Properties["capabilities"])
	}
	for _, c := range []string{
		"publisher_confirms",
		"exchange_exchange_bindings",
		"basic.nack",
		"consumer_cancel_notify",
		"per_consumer_qos",
		"authentication_failure_close",
		"consumer_priorities",
		"direct_reply_to",
		// RabbitMQ 3.10 also announces connection.blocked; Warren never
		// blocks publishers with it (it applies backpressure on the socket),
		// so it does not announce it.
	} {
		if v, _ := caps[c].(bool); !v {
			t.Errorf("capability %q = %#v, want true", c, caps[c])
		}
	}
}

// amqp091-go does not announce authentication_failure_close, so RabbitMQ
// closes the socket without a connection.close and the client reports its
// own ErrCredentials.
func TestConnectionWrongPassword(t *testing.T) {
	b := setup(t)
	uri, err := amqp.ParseURI(b.url)
	if err != nil {
		t.Fatal(err)
	}
	uri.Password = "wrong-" + uri.Password
	conn, err := b.dialURL(uri.String(), amqp.Config{})
	if err == nil {
		conn.Close()
		t.Fatal("dial with a wrong password succeeded")
	}
	if err != amqp.ErrCredentials {
		t.Fatalf("got %v, want amqp.ErrCredentials (the socket closed without connection.close)", err)
	}
}

// A client announcing authentication_failure_close gets a connection.close
// with 403 and the text before the socket closes.
func TestConnectionWrongPasswordAuthenticationFailureClose(t *testing.T) {
	b := setup(t)
	r := b.rawDial()
	r.start("wrong-password")
	r.expectConnectionClose(403, "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.")
}

func TestConnectionUnknownVhost(t *testing.T) {
	b := setup(t)
	uri, err := amqp.ParseURI(b.url)
	if err != nil {
		t.Fatal(err)
	}
	vhost := b.name("vhost")
	uri.Vhost = vhost
	conn, err := b.dialURL(uri.String(), amqp.Config{})
	if err == nil {
		conn.Close()
		t.Fatal("dial to an unknown vhost succeeded")
	}
	expectError(t, err, amqp.NotAllowed, "NOT_ALLOWED - vhost "+vhost+" not found")
}

func TestConnectionTuneDefaults(t *testing.T) {
	b := setup(t)
	r := b.rawDial()
	r.start("")
	got := r.tune(rawTune{})
	r.openVhost()
	equal(t, "proposed channel_max", got.channelMax, 2047)
	equal(t, "proposed frame_max", got.frameMax, 131072)
	equal(t, "proposed heartbeat", got.heartbeat, 60)
}

func TestConnectionHeartbeatNegotiation(t *testing.T) {
	b := setup(t)
	conn, err := b.dialConfig(amqp.Config{Heartbeat: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "negotiated heartbeat", conn.Config.Heartbeat, 3*time.Second)

	// Asking for more than the broker proposes (60 s) gets the proposal.
	conn, err = b.dialConfig(amqp.Config{Heartbeat: 120 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "negotiated heartbeat", conn.Config.Heartbeat, 60*time.Second)
}

// After tune-ok with heartbeat=1 the broker sends heartbeat frames.
func TestConnectionServerSendsHeartbeats(t *testing.T) {
	b := setup(t)
	r := b.rawDial()
	r.handshake(rawTune{heartbeat: 1})
	f := r.mustReadFrame()
	equal(t, "frame type", f.typ, frameHeartbeat)
	equal(t, "heartbeat channel", f.channel, 0)
	equal(t, "heartbeat payload size", len(f.payload), 0)
}

func TestConnectionChannelMaxNegotiation(t *testing.T) {
	b := setup(t)
	conn, err := b.dialConfig(amqp.Config{ChannelMax: 10})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "negotiated channel_max", conn.Config.ChannelMax, 10)
	for i := range 10 {
		ch, err := conn.Channel()
		if err != nil {
			t.Fatalf("channel %d of 10: %v", i+1, err)
		}
		if err := ch.Qos(1, 0, false); err != nil {
			t.Fatalf("basic.qos on channel %d: %v", i+1, err)
		}
	}
	if _, err := conn.Channel(); err != amqp.ErrChannelMax {
		t.Fatalf("11th channel: got %v, want amqp.ErrChannelMax", err)
	}
}

// The broker itself refuses an 11th open channel when channel_max is 10,
// with a hard error. rabbitmq: the limit is on the number of open channels,
// not on the channel id.
func TestConnectionChannelAboveChannelMax(t *testing.T) {
	b := setup(t)
	r := b.rawDial()
	r.handshake(rawTune{channelMax: 10})
	for id := range uint16(10) {
		r.openChannel(id + 1)
	}
	r.sendMethod(11, 20, 10, []byte{0})
	r.expectConnectionClose(530, "NOT_ALLOWED - number of channels opened (10) has reached the negotiated channel_max (10)")
}

func TestConnectionFrameMaxNegotiation(t *testing.T) {
	b := setup(t)
	conn, err := b.dialConfig(amqp.Config{FrameSize: 8192})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "negotiated frame_max", conn.Config.FrameSize, 8192)

	// A body many times frame_max goes out and comes back in many frames.
	ch := b.channel(conn)
	q := b.queue(ch)
	body := bytes.Repeat([]byte("0123456789abcdef"), 100_000/16)
	if err := ch.Publish("", q, false, false, amqp.Publishing{Body: body}); err != nil {
		t.Fatal(err)
	}
	d := recv(t, consume(t, ch, q, "", true))
	if !bytes.Equal(d.Body, body) {
		t.Fatalf("body of %d bytes came back as %d bytes, different", len(body), len(d.Body))
	}
}

// Frames the broker sends never exceed the negotiated frame_max.
func TestConnectionFrameMaxRespectedByBroker(t *testing.T) {
	b := setup(t)
	_, ch := b.open()
	q := b.queue(ch)
	body := bytes.Repeat([]byte("x"), 20_000)
	if err := ch.Publish("", q, false, false, amqp.Publishing{Body: body}); err != nil {
		t.Fatal(err)
	}
	b.waitCounts(q, 1, 0)

	const frameMax = 4096
	r := b.rawDial()
	r.handshake(rawTune{frameMax: frameMax})
	r.openChannel(1)
	var e encoder
	e.u16(0)
	e.shortstr(q)
	e.u8(1) // no-ack
	r.sendMethod(1, 60, 70, e.b)
	r.expectMethod(1, 60, 71)
	var got []byte
	for len(got) < len(body) {
		f := r.mustReadFrame()
		if len(f.payload)+8 > frameMax {
			t.Fatalf("frame type %d of %d bytes exceeds frame_max %d", f.typ, len(f.payload)+8, frameMax)
		}
		switch f.typ {
		case frameHeader:
		case frameBody:
			got = append(got, f.payload...)
		default:
			t.Fatalf("got frame type %d while reading content", f.typ)
		}
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("body differs: got %d bytes", len(got))
	}
}

func TestConnectionWrongProtocolHeader(t *testing.T) {
	for _, tc := range []struct{ name, header string }{
		{"amqp 0-10", "AMQP\x01\x01\x00\x0a"},
		{"amqp 1.0", "AMQP\x00\x01\x00\x00"},
		{"http", "GET / HT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t)
			r := b.rawDial()
			r.write([]byte(tc.header))
			got, err := io.ReadAll(r.r)
			if err != nil && !isConnReset(err) {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, protocolHeader) {
				t.Fatalf("broker answered %q, want %q then close", got, protocolHeader)
			}
		})
	}
}

func isConnReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

func TestConnectionStart(t *testing.T) {
	b := setup(t)
	r := b.rawDial()
	r.write(protocolHeader)
	d := r.expectMethod(0, 10, 10)
	major, minor := d.u8(), d.u8()
	props := d.table()
	mechanisms, locales := d.longstr(), d.longstr()
	if d.err != nil {
		t.Fatalf("decode connection.start: %v", d.err)
	}
	equal(t, "version-major", major, 0)
	equal(t, "version-minor", minor, 9)
	if p, _ := props["product"].(string); p == "" {
		t.Fatalf("server-properties product = %#v", props["product"])
	}
	if !slices.Contains(strings.Fields(mechanisms), "PLAIN") {
		t.Fatalf("mechanisms %q do not include PLAIN", mechanisms)
	}
	if !slices.Contains(strings.Fields(locales), "en_US") {
		t.Fatalf("locales %q do not include en_US", locales)
	}
}

func TestConnectionCloseByClient(t *testing.T) {
	b := setup(t)
	conn := b.dial()
	closes := notifyConnClose(conn)
	if err := conn.Close(); err != nil {
		t.Fatalf("connection.close: %v", err)
	}
	select {
	case e, ok := <-closes:
		if ok {
			t.Fatalf("close notification carries %v, want none for a clean close", e)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no close notification")
	}
	if !conn.IsClosed() {
		t.Fatal("connection not closed")
	}
	if _, err := conn.Channel(); !errors.Is(err, amqp.ErrClosed) {
		t.Fatalf("channel on a closed connection: got %v, want ErrClosed", err)
	}
}

// A client that stops sending after tune-ok heartbeat=1 is disconnected
// without a connection.close; meanwhile the broker sends heartbeats.
func TestConnectionMissedHeartbeatsClose(t *testing.T) {
	b := setup(t)
	r := b.rawDial()
	r.handshake(rawTune{heartbeat: 1})
	start := time.Now()
	heartbeats := 0
	for {
		f, err := r.readFrame()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("still connected after %v of client silence", time.Since(start))
			}
			break // EOF or reset: disconnected
		}
		if f.typ != frameHeartbeat {
			t.Fatalf("got frame type %d on channel %d, want only heartbeats before the disconnect", f.typ, f.channel)
		}
		heartbeats++
	}
	if heartbeats == 0 {
		t.Fatal("disconnected without sending a heartbeat first")
	}
	if d := time.Since(start); d < time.Second {
		t.Fatalf("disconnected after %v, before one heartbeat interval passed", d)
	}
}

func TestConnectionFrameErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame []byte
		text  string
	}{
		{"body frame over frame_max",
			appendFrame(nil, frameBody, 1, make([]byte, 5000)),
			"FRAME_ERROR - type 3, all octets = <<>>: {frame_too_large,5000,4088}"},
		{"unknown frame type",
			appendFrame(nil, 9, 0, nil),
			"FRAME_ERROR - type 9, all octets = <<>>: unknown_frame"},
		{"bad frame end",
			[]byte{frameMethod, 0, 0, 0, 0, 0, 4, 0, 10, 0, 40, 0xAB},
			"FRAME_ERROR - type 1, all octets = <<0,10,0,40>>: {invalid_frame_end_marker,171}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t)
			r := b.rawDial()
			r.handshake(rawTune{frameMax: 4096})
			r.openChannel(1)
			r.write(tc.frame)
			r.expectConnectionClose(501, tc.text)
		})
	}
}
