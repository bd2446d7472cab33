package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	wamqp "github.com/warrenmq/warren/amqp"
)

// The raw consumer (--raw-consumer): a minimal AMQP 0-9-1 consumer on
// Warren's own codec, for runs where amqp091-go's consumer, not the
// broker, would set the pace (a stream replay reads far faster than
// amqp091-go's three goroutine hops and per-delivery header table allow).
// It reads frames with one buffered reader, looks only at basic.deliver's
// delivery tag and the first 8 bytes of each body (the send time), and
// writes one multiple ack every --multiple-ack-every deliveries. Brokers
// compared get the same client. It speaks PLAIN over plain TCP only, with
// no heartbeats.

// rawConn is one raw consumer connection, channel 1 open.
type rawConn struct {
	c  net.Conn
	fr *wamqp.FrameReader
}

// rawDial opens a connection and channel 1 to rawURL (amqp:// only).
func rawDial(rawURL string) (*rawConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "amqp" {
		return nil, fmt.Errorf("--raw-consumer: %s: only amqp:// URLs", redact(rawURL))
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "5672")
	}
	user, pass := "guest", "guest"
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
	}
	vhost := "/"
	if p := strings.TrimPrefix(u.Path, "/"); p != "" {
		if vhost, err = url.PathUnescape(p); err != nil {
			return nil, err
		}
	}
	c, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		return nil, err
	}
	rc := &rawConn{c: c, fr: wamqp.NewFrameReader(bufio.NewReaderSize(c, 256<<10), wamqp.FrameMinSize)}
	if err := rc.handshake(user, pass, vhost); err != nil {
		c.Close()
		return nil, fmt.Errorf("raw consumer: %w", err)
	}
	return rc, nil
}

func (rc *rawConn) handshake(user, pass, vhost string) error {
	rc.c.SetDeadline(time.Now().Add(10 * time.Second))
	defer rc.c.SetDeadline(time.Time{})
	if _, err := rc.c.Write([]byte("AMQP\x00\x00\x09\x01")); err != nil {
		return err
	}
	if _, err := rc.expect(0, wamqp.ConnectionStartID); err != nil {
		return err
	}
	if err := rc.send(0, &wamqp.ConnectionStartOk{ClientProperties: wamqp.Table{"product": "warren-perf raw consumer"},
		Mechanism: "PLAIN", Response: "\x00" + user + "\x00" + pass, Locale: "en_US"}); err != nil {
		return err
	}
	m, err := rc.expect(0, wamqp.ConnectionTuneID)
	if err != nil {
		return err
	}
	tune := m.(*wamqp.ConnectionTune)
	frameMax := tune.FrameMax
	if frameMax == 0 {
		frameMax = 1 << 20
	}
	rc.fr.SetFrameMax(frameMax)
	if err := rc.send(0, &wamqp.ConnectionTuneOk{ChannelMax: 1, FrameMax: frameMax}); err != nil {
		return err
	}
	if err := rc.send(0, &wamqp.ConnectionOpen{VirtualHost: vhost}); err != nil {
		return err
	}
	if _, err := rc.expect(0, wamqp.ConnectionOpenOkID); err != nil {
		return err
	}
	if err := rc.send(1, &wamqp.ChannelOpen{}); err != nil {
		return err
	}
	_, err = rc.expect(1, wamqp.ChannelOpenOkID)
	return err
}

// send writes one method frame.
func (rc *rawConn) send(ch uint16, m wamqp.Method) error {
	b, err := wamqp.AppendMethodFrame(nil, ch, m)
	if err != nil {
		return err
	}
	_, err = rc.c.Write(b)
	return err
}

// expect reads frames until the method id on channel ch; a close from the
// broker is an error with its text.
func (rc *rawConn) expect(ch uint16, id uint32) (wamqp.Method, error) {
	for {
		f, err := rc.fr.ReadFrame()
		if err != nil {
			return nil, err
		}
		if f.Type != wamqp.FrameMethod {
			continue
		}
		m, err := wamqp.DecodeMethod(f.Payload)
		if err != nil {
			return nil, err
		}
		if err := closeError(m); err != nil {
			return nil, err
		}
		if f.Channel == ch && m.ID() == id {
			return m, nil
		}
	}
}

func closeError(m wamqp.Method) error {
	switch m := m.(type) {
	case *wamqp.ConnectionClose:
		return fmt.Errorf("connection closed by the broker: %d %s", m.ReplyCode, m.ReplyText)
	case *wamqp.ChannelClose:
		return fmt.Errorf("channel closed by the broker: %d %s", m.ReplyCode, m.ReplyText)
	}
	return nil
}

// startRawConsumer consumes queue on a raw connection of its own.
func (r *run) startRawConsumer(idx int, queue string, args wamqp.Table) error {
	c := &r.cfg
	rc, err := rawDial(c.URL)
	if err != nil {
		return err
	}
	if !c.AutoAck && c.Prefetch > 0 {
		if err := rc.send(1, &wamqp.BasicQos{PrefetchCount: uint16(c.Prefetch)}); err != nil {
			rc.c.Close()
			return err
		}
		if _, err := rc.expect(1, wamqp.BasicQosOkID); err != nil {
			rc.c.Close()
			return fmt.Errorf("basic.qos: %w", err)
		}
	}
	tag := fmt.Sprintf("warren-perf-%d", idx)
	if err := rc.send(1, &wamqp.BasicConsume{Queue: queue, ConsumerTag: tag, NoAck: c.AutoAck, Arguments: args}); err != nil {
		rc.c.Close()
		return err
	}
	if _, err := rc.expect(1, wamqp.BasicConsumeOkID); err != nil {
		rc.c.Close()
		return fmt.Errorf("basic.consume %q: %w", queue, err)
	}
	cs := &consumer{r: r, idx: idx, queue: queue}
	r.consumers = append(r.consumers, cs)
	cs.done.Add(2)
	go func() { // the stop closes the socket under the reader
		defer cs.done.Done()
		<-r.stopCh
		rc.c.Close()
	}()
	go cs.consumeRaw(rc)
	return nil
}

// consumeRaw counts deliveries, records each body's latency and acks.
func (cs *consumer) consumeRaw(rc *rawConn) {
	defer cs.done.Done()
	c := &cs.r.cfg
	every := c.MultipleAckEvery
	var n int64
	unacked := 0
	body := false // the next body frame is a delivery's first
	var ack []byte
	for {
		f, err := rc.fr.ReadFrame()
		if err != nil {
			if !cs.r.stopping() && !errors.Is(err, net.ErrClosed) {
				cs.r.fail(fmt.Errorf("raw consumer %d on %q: %w", cs.idx, cs.queue, err))
			}
			return
		}
		switch f.Type {
		case wamqp.FrameMethod:
			if wamqp.MethodIDOf(f.Payload) != wamqp.BasicDeliverID {
				if m, err := wamqp.DecodeMethod(f.Payload); err == nil {
					if err := closeError(m); err != nil {
						cs.r.fail(fmt.Errorf("raw consumer %d on %q: %w", cs.idx, cs.queue, err))
						return
					}
				}
				continue
			}
			// basic.deliver: class, method, consumer-tag shortstr, delivery-tag.
			p := f.Payload
			if len(p) < 5 || len(p) < 5+int(p[4])+8 {
				cs.r.fail(fmt.Errorf("raw consumer %d: short basic.deliver", cs.idx))
				return
			}
			dtag := binary.BigEndian.Uint64(p[5+int(p[4]):])
			n++
			now := time.Now().UnixNano()
			cs.received.Store(n)
			cs.last.Store(now)
			body = true
			if !c.AutoAck {
				if unacked++; unacked >= every {
					ack, _ = wamqp.AppendMethodFrame(ack[:0], 1, &wamqp.BasicAck{DeliveryTag: dtag, Multiple: every > 1})
					if _, err := rc.c.Write(ack); err != nil {
						if !cs.r.stopping() {
							cs.r.fail(fmt.Errorf("raw consumer %d: ack: %w", cs.idx, err))
						}
						return
					}
					unacked = 0
				}
			}
		case wamqp.FrameBody:
			if body && len(f.Payload) >= 8 {
				cs.lat.Record(time.Duration(time.Now().UnixNano() - int64(binary.BigEndian.Uint64(f.Payload))))
			}
			body = false
		}
	}
}
