package amqp_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"reflect"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/amqp"
)

// This file checks the codec against a real client: a minimal fake server,
// written only with package amqp, drives github.com/rabbitmq/amqp091-go
// over net.Pipe.

const clientFrameMax = 4096

// fakeServer is one scripted server connection.
type fakeServer struct {
	conn net.Conn
	fr   *amqp.FrameReader
	buf  []byte
}

func (s *fakeServer) write(b []byte) error {
	_, err := s.conn.Write(b)
	return err
}

func (s *fakeServer) send(ch uint16, m amqp.Method) error {
	b, err := amqp.AppendMethodFrame(s.buf[:0], ch, m)
	if err != nil {
		return fmt.Errorf("encode %s: %w", m.Name(), err)
	}
	s.buf = b
	return s.write(b)
}

// frame reads the next frame that is not a heartbeat.
func (s *fakeServer) frame() (amqp.Frame, error) {
	for {
		f, err := s.fr.ReadFrame()
		if err != nil || f.Type != amqp.FrameHeartbeat {
			return f, err
		}
	}
}

// expect reads a method frame and checks its channel and id.
func (s *fakeServer) expect(ch uint16, id uint32) (amqp.Method, error) {
	f, err := s.frame()
	if err != nil {
		return nil, err
	}
	if f.Type != amqp.FrameMethod || f.Channel != ch {
		return nil, fmt.Errorf("frame type %d on channel %d, want a method on channel %d", f.Type, f.Channel, ch)
	}
	m, err := amqp.DecodeMethod(f.Payload)
	if err != nil {
		return nil, err
	}
	if m.ID() != id {
		mi, _ := amqp.LookupMethod(id)
		return nil, fmt.Errorf("got %v, want %s", m, mi.Name)
	}
	return m, nil
}

// content reads a content header and the body frames that complete it.
func (s *fakeServer) content(ch uint16) (amqp.ContentHeader, []byte, int, error) {
	f, err := s.frame()
	if err != nil {
		return amqp.ContentHeader{}, nil, 0, err
	}
	if f.Type != amqp.FrameHeader || f.Channel != ch {
		return amqp.ContentHeader{}, nil, 0, fmt.Errorf("frame type %d channel %d, want a header", f.Type, f.Channel)
	}
	h, err := amqp.DecodeContentHeader(f.Payload)
	if err != nil {
		return h, nil, 0, err
	}
	// The relay path must agree with the decoder.
	class, size, raw, err := amqp.SplitContentHeader(f.Payload)
	if err != nil || class != h.ClassID || size != h.BodySize {
		return h, nil, 0, fmt.Errorf("SplitContentHeader = %d, %d, %v", class, size, err)
	}
	if p, err := amqp.DecodeProperties(raw); err != nil || !reflect.DeepEqual(p, h.Properties) {
		return h, nil, 0, fmt.Errorf("DecodeProperties = %+v, %v", p, err)
	}
	var body []byte
	frames := 0
	for uint64(len(body)) < h.BodySize {
		f, err := s.frame()
		if err != nil {
			return h, nil, 0, err
		}
		if f.Type != amqp.FrameBody || f.Channel != ch {
			return h, nil, 0, fmt.Errorf("frame type %d channel %d, want a body", f.Type, f.Channel)
		}
		body = append(body, f.Payload...)
		frames++
	}
	if uint64(len(body)) != h.BodySize {
		return h, nil, 0, fmt.Errorf("body of %d bytes, header says %d", len(body), h.BodySize)
	}
	return h, body, frames, nil
}

// handshake plays the server's side of connection opening and opens
// channel 1.
func (s *fakeServer) handshake() error {
	if err := amqp.ReadProtocolHeader(s.conn); err != nil {
		return err
	}
	err := s.send(0, &amqp.ConnectionStart{
		VersionMajor: 0, VersionMinor: 9,
		ServerProperties: amqp.Table{
			"product": "fake",
			"capabilities": amqp.Table{
				"basic.nack": true, "publisher_confirms": true, "consumer_cancel_notify": true,
				"connection.blocked": true,
			},
		},
		Mechanisms: "AMQPLAIN PLAIN", Locales: "en_US",
	})
	if err != nil {
		return err
	}
	m, err := s.expect(0, amqp.ConnectionStartOkID)
	if err != nil {
		return err
	}
	so := m.(*amqp.ConnectionStartOk)
	caps, _ := so.ClientProperties["capabilities"].(amqp.Table)
	if so.Mechanism != "PLAIN" || so.Response != "\x00guest\x00guest" || so.Locale != "en_US" ||
		caps["basic.nack"] != true || caps["connection.blocked"] != true || so.ClientProperties["product"] == nil {
		return fmt.Errorf("start-ok %v", so)
	}
	if err := s.send(0, &amqp.ConnectionTune{ChannelMax: 16, FrameMax: clientFrameMax, Heartbeat: 0}); err != nil {
		return err
	}
	m, err = s.expect(0, amqp.ConnectionTuneOkID)
	if err != nil {
		return err
	}
	if to := m.(*amqp.ConnectionTuneOk); to.FrameMax != clientFrameMax || to.ChannelMax != 16 || to.Heartbeat != 0 {
		return fmt.Errorf("tune-ok %v", to)
	}
	s.fr.SetFrameMax(clientFrameMax)
	m, err = s.expect(0, amqp.ConnectionOpenID)
	if err != nil {
		return err
	}
	if o := m.(*amqp.ConnectionOpen); o.VirtualHost != "/test" {
		return fmt.Errorf("open %v", o)
	}
	if err := s.send(0, &amqp.ConnectionOpenOk{}); err != nil {
		return err
	}
	if _, err := s.expect(1, amqp.ChannelOpenID); err != nil {
		return err
	}
	return s.send(1, &amqp.ChannelOpenOk{})
}

// serverTable holds a value of every field type at each of depth levels
// of tables and arrays.
func serverTable(depth int) amqp.Table {
	vals := []any{
		true, int8(-8), uint8(200), int16(-16), uint16(60000), int32(-32), uint32(4e9), int64(-64e12),
		float32(3.5), 6.25, amqp.Decimal{Scale: 2, Value: -12345}, "string", []byte{0, 1, 0xff},
		time.Unix(1700000000, 0).UTC(), nil,
	}
	t := amqp.Table{}
	for i, v := range vals {
		t[fmt.Sprintf("v%02d", i)] = v
	}
	if depth > 0 {
		t["table"] = serverTable(depth - 1)
		t["array"] = append(vals, serverTable(depth-1), []any{vals, []any{}})
	}
	return t
}

// clientTable is the like for amqp091-go, with every Go type it can write.
func clientTable(depth int) amqp091.Table {
	vals := []any{
		true, byte(200), int8(-8), int16(-16), int(-1 << 30), int32(-32), int64(-64e12), uint16(60000),
		uint32(4e9), float32(3.5), 6.25, amqp091.Decimal{Scale: 2, Value: -12345}, "string",
		[]byte{0, 1, 0xff}, time.Unix(1700000000, 0), nil,
	}
	t := amqp091.Table{}
	for i, v := range vals {
		t[fmt.Sprintf("v%02d", i)] = v
	}
	if depth > 0 {
		t["table"] = clientTable(depth - 1)
		t["array"] = append(vals, clientTable(depth-1), []any{vals, []any{}})
	}
	return t
}

// toClient converts a value as amqp091-go decodes it. Times compare in UTC.
func toClient(v any) any {
	switch v := v.(type) {
	case amqp.Table:
		t := amqp091.Table{}
		for k, x := range v {
			t[k] = toClient(x)
		}
		return t
	case []any:
		a := make([]any, len(v))
		for i, x := range v {
			a[i] = toClient(x)
		}
		return a
	case amqp.Decimal:
		return amqp091.Decimal{Scale: v.Scale, Value: v.Value}
	case time.Time:
		return v.UTC()
	}
	return v
}

// utc returns v, as amqp091-go decoded it, with its times in UTC.
func utc(v any) any {
	switch v := v.(type) {
	case amqp091.Table:
		t := amqp091.Table{}
		for k, x := range v {
			t[k] = utc(x)
		}
		return t
	case []any:
		a := make([]any, len(v))
		for i, x := range v {
			a[i] = utc(x)
		}
		return a
	case time.Time:
		return v.UTC()
	}
	return v
}

// fromClient converts a value as package amqp decodes what amqp091-go
// wrote: amqp091-go writes a Go int as 'I', a 32-bit integer.
func fromClient(v any) any {
	switch v := v.(type) {
	case amqp091.Table:
		t := amqp.Table{}
		for k, x := range v {
			t[k] = fromClient(x)
		}
		return t
	case []any:
		a := make([]any, len(v))
		for i, x := range v {
			a[i] = fromClient(x)
		}
		return a
	case amqp091.Decimal:
		return amqp.Decimal{Scale: v.Scale, Value: v.Value}
	case time.Time:
		return v.UTC()
	case int:
		return int32(v)
	}
	return v
}

func TestAgainstAmqp091Client(t *testing.T) {
	srvConn, cliConn := net.Pipe()
	deadline := time.Now().Add(30 * time.Second)
	srvConn.SetDeadline(deadline)
	cliConn.SetDeadline(deadline) // amqp091-go clears it once open
	t.Cleanup(func() { srvConn.Close(); cliConn.Close() })

	deliverBody := bytes.Repeat([]byte("deliver-"), 1500) // 12000 bytes
	deliverProps := amqp.Properties{
		ContentType: "application/json", ContentEncoding: "gzip", Headers: serverTable(3),
		DeliveryMode: 2, Priority: 7, CorrelationID: "corr-1", ReplyTo: "amq.rabbitmq.reply-to",
		Expiration: "60000", MessageID: "msg-1", Timestamp: time.Unix(1700000001, 0).UTC(),
		Type: "order.created", UserID: "guest", AppID: "warren", ClusterID: "cluster-a",
	}
	publishBody := bytes.Repeat([]byte("publish-"), 1200) // 9600 bytes
	publishing := amqp091.Publishing{
		Headers: clientTable(3), ContentType: "text/plain", ContentEncoding: "utf-8",
		DeliveryMode: amqp091.Persistent, Priority: 9, CorrelationId: "corr-2", ReplyTo: "replies",
		Expiration: "1000", MessageId: "msg-2", Timestamp: time.Unix(1700000002, 0), Type: "t",
		UserId: "guest", AppId: "app", Body: publishBody,
	}

	type published struct {
		pub    *amqp.BasicPublish
		hdr    amqp.ContentHeader
		body   []byte
		frames int
	}
	pubc := make(chan published, 1)
	ackc := make(chan *amqp.BasicAck, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- func() error {
			s := &fakeServer{conn: srvConn, fr: amqp.NewFrameReader(bufio.NewReader(srvConn), 0)}
			if err := s.handshake(); err != nil {
				return fmt.Errorf("handshake: %w", err)
			}
			m, err := s.expect(1, amqp.BasicConsumeID)
			if err != nil {
				return err
			}
			if c := m.(*amqp.BasicConsume); c.Queue != "orders" || c.ConsumerTag != "ctag-1" || c.NoAck || !c.Exclusive ||
				c.Arguments["x-priority"] != int32(5) {
				return fmt.Errorf("consume %v", c)
			}
			if err := s.send(1, &amqp.BasicConsumeOk{ConsumerTag: "ctag-1"}); err != nil {
				return err
			}

			// (a) One delivery: method, header and body in one write, the
			// body over 13 frames of at most 1000 bytes.
			b, err := amqp.AppendMethodFrame(nil, 1, &amqp.BasicDeliver{ConsumerTag: "ctag-1", DeliveryTag: 42,
				Redelivered: true, Exchange: "logs", RoutingKey: "eu.orders"})
			if err != nil {
				return err
			}
			if b, err = amqp.AppendHeaderFrame(b, 1, amqp.ClassBasic, uint64(len(deliverBody)), &deliverProps); err != nil {
				return err
			}
			b = amqp.AppendBodyFrames(b, 1, deliverBody, 1000)
			if err := s.write(b); err != nil {
				return err
			}
			m, err = s.expect(1, amqp.BasicAckID)
			if err != nil {
				return err
			}
			ackc <- m.(*amqp.BasicAck)

			// (b) One publish from the client.
			m, err = s.expect(1, amqp.BasicPublishID)
			if err != nil {
				return err
			}
			hdr, body, frames, err := s.content(1)
			if err != nil {
				return fmt.Errorf("publish content: %w", err)
			}
			pubc <- published{m.(*amqp.BasicPublish), hdr, body, frames}

			if _, err := s.expect(1, amqp.ChannelCloseID); err != nil {
				return err
			}
			if err := s.send(1, &amqp.ChannelCloseOk{}); err != nil {
				return err
			}
			m, err = s.expect(0, amqp.ConnectionCloseID)
			if err != nil {
				return err
			}
			if c := m.(*amqp.ConnectionClose); c.ReplyCode != amqp.ReplySuccess {
				return fmt.Errorf("close %v", c)
			}
			return s.send(0, &amqp.ConnectionCloseOk{})
		}()
	}()
	// A failed server closes its end, so the client fails too and the test
	// reports the server's error first.
	serverFailed := func() {
		t.Helper()
		select {
		case err := <-errc:
			t.Fatalf("server: %v", err)
		default:
		}
	}

	conn, err := amqp091.Open(cliConn, amqp091.Config{
		SASL:   []amqp091.Authentication{&amqp091.PlainAuth{Username: "guest", Password: "guest"}},
		Vhost:  "/test",
		Locale: "en_US",
	})
	if err != nil {
		serverFailed()
		t.Fatalf("Open: %v", err)
	}
	if conn.Properties["product"] != "fake" || conn.Major != 0 || conn.Minor != 9 {
		t.Errorf("server properties %v, version %d-%d", conn.Properties, conn.Major, conn.Minor)
	}
	if got := conn.Config.FrameSize; got != clientFrameMax {
		t.Errorf("negotiated frame size %d", got)
	}
	ch, err := conn.Channel()
	if err != nil {
		serverFailed()
		t.Fatalf("Channel: %v", err)
	}
	deliveries, err := ch.Consume("orders", "ctag-1", false, true, false, false, amqp091.Table{"x-priority": int32(5)})
	if err != nil {
		serverFailed()
		t.Fatalf("Consume: %v", err)
	}

	// (a) What amqp091-go made of the delivery.
	var d amqp091.Delivery
	select {
	case d = <-deliveries:
	case err := <-errc:
		t.Fatalf("server: %v", err)
	case <-time.After(time.Until(deadline)):
		t.Fatal("no delivery")
	}
	if d.ConsumerTag != "ctag-1" || d.DeliveryTag != 42 || !d.Redelivered || d.Exchange != "logs" || d.RoutingKey != "eu.orders" {
		t.Errorf("delivery method fields: %+v", d)
	}
	if !bytes.Equal(d.Body, deliverBody) {
		t.Errorf("body of %d bytes, want %d", len(d.Body), len(deliverBody))
	}
	p := deliverProps
	if d.ContentType != p.ContentType || d.ContentEncoding != p.ContentEncoding || d.DeliveryMode != p.DeliveryMode ||
		d.Priority != p.Priority || d.CorrelationId != p.CorrelationID || d.ReplyTo != p.ReplyTo ||
		d.Expiration != p.Expiration || d.MessageId != p.MessageID || !d.Timestamp.Equal(p.Timestamp) ||
		d.Type != p.Type || d.UserId != p.UserID || d.AppId != p.AppID {
		t.Errorf("delivery properties:\n %+v\nwant\n %+v", d, p)
	}
	if want := toClient(p.Headers); !reflect.DeepEqual(utc(d.Headers), want) {
		t.Errorf("delivery headers:\n %#v\nwant\n %#v", d.Headers, want)
	}
	if err := d.Ack(true); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	select {
	case a := <-ackc:
		if a.DeliveryTag != 42 || !a.Multiple {
			t.Errorf("ack %v", a)
		}
	case err := <-errc:
		t.Fatalf("server: %v", err)
	}

	// (b) What package amqp made of the client's publish.
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := ch.PublishWithContext(ctx, "logs", "eu.orders", true, false, publishing); err != nil {
		serverFailed()
		t.Fatalf("Publish: %v", err)
	}
	var got published
	select {
	case got = <-pubc:
	case err := <-errc:
		t.Fatalf("server: %v", err)
	}
	if pub := got.pub; pub.Exchange != "logs" || pub.RoutingKey != "eu.orders" || !pub.Mandatory || pub.Immediate {
		t.Errorf("publish %v", pub)
	}
	if got.hdr.ClassID != amqp.ClassBasic || got.hdr.Weight != 0 || got.hdr.BodySize != uint64(len(publishBody)) {
		t.Errorf("header %+v", got.hdr)
	}
	// 9600 bytes in frames of at most 4096-8: three.
	if !bytes.Equal(got.body, publishBody) || got.frames != 3 {
		t.Errorf("body of %d bytes in %d frames", len(got.body), got.frames)
	}
	want := amqp.Properties{
		Flags:       0xfff8, // all but cluster-id, which amqp091-go does not write
		ContentType: "text/plain", ContentEncoding: "utf-8", Headers: fromClient(publishing.Headers).(amqp.Table),
		DeliveryMode: 2, Priority: 9, CorrelationID: "corr-2", ReplyTo: "replies", Expiration: "1000",
		MessageID: "msg-2", Timestamp: time.Unix(1700000002, 0).UTC(), Type: "t", UserID: "guest", AppID: "app",
	}
	if !reflect.DeepEqual(got.hdr.Properties, want) {
		t.Errorf("publish properties:\n %+v\nwant\n %+v", got.hdr.Properties, want)
	}
	if v := got.hdr.Headers["v04"]; v != int32(-1<<30) {
		t.Errorf("a Go int arrives as %T %v, want int32", v, v)
	}

	if err := ch.Close(); err != nil {
		t.Errorf("channel Close: %v", err)
	}
	if err := conn.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server: %v", err)
	}
}
