package amqp

import (
	"bufio"
	"bytes"
	"testing"
	"time"
)

// benchProps are the properties of a typical published message.
var benchProps = Properties{
	ContentType:  "application/json",
	DeliveryMode: 2,
	Headers:      Table{"x-retries": int32(2), "trace-id": "4bf92f3577b34da6a3ce929d0e0e4736"},
	MessageID:    "msg-000001",
	Timestamp:    time.Unix(1700000000, 0).UTC(),
}

var benchBody = bytes.Repeat([]byte("x"), 1024)

// publishStream is basic.publish, its content header and a 1 KiB body.
func publishStream(b *testing.B) []byte {
	s, err := AppendMethodFrame(nil, 1, &BasicPublish{Exchange: "orders", RoutingKey: "eu.orders.created"})
	if err != nil {
		b.Fatal(err)
	}
	if s, err = AppendHeaderFrame(s, 1, ClassBasic, uint64(len(benchBody)), &benchProps); err != nil {
		b.Fatal(err)
	}
	return AppendBodyFrames(s, 1, benchBody, 131072)
}

// BenchmarkDecodePublish reads and decodes a publish as the server's reader
// does: the header decoded ("props") or split for relaying ("raw").
func BenchmarkDecodePublish(b *testing.B) {
	for _, mode := range []string{"props", "raw"} {
		b.Run(mode, func(b *testing.B) {
			stream := publishStream(b)
			br := bytes.NewReader(stream)
			bufr := bufio.NewReader(br)
			fr := NewFrameReader(bufr, 131072)
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			for b.Loop() {
				br.Reset(stream)
				bufr.Reset(br)
				f, err := fr.ReadFrame()
				if err != nil {
					b.Fatal(err)
				}
				m, err := DecodeMethod(f.Payload)
				if err != nil || m.ID() != BasicPublishID {
					b.Fatal(m, err)
				}
				if f, err = fr.ReadFrame(); err != nil {
					b.Fatal(err)
				}
				if mode == "props" {
					if _, err := DecodeContentHeader(f.Payload); err != nil {
						b.Fatal(err)
					}
				} else if _, _, _, err := SplitContentHeader(f.Payload); err != nil {
					b.Fatal(err)
				}
				if f, err = fr.ReadFrame(); err != nil || len(f.Payload) != len(benchBody) {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncodeDeliver appends basic.deliver, its header and a 1 KiB body
// into a reused buffer: the header from its decoded properties ("props") or
// from the publisher's raw property bytes ("raw").
func BenchmarkEncodeDeliver(b *testing.B) {
	raw, err := AppendProperties(nil, &benchProps)
	if err != nil {
		b.Fatal(err)
	}
	deliver := &BasicDeliver{ConsumerTag: "amq.ctag-0123456789", DeliveryTag: 1, Exchange: "orders", RoutingKey: "eu.orders.created"}
	for _, mode := range []string{"props", "raw"} {
		b.Run(mode, func(b *testing.B) {
			buf := make([]byte, 0, 4096)
			b.ReportAllocs()
			for b.Loop() {
				deliver.DeliveryTag++
				buf, err = AppendMethodFrame(buf[:0], 1, deliver)
				if err != nil {
					b.Fatal(err)
				}
				if mode == "props" {
					if buf, err = AppendHeaderFrame(buf, 1, ClassBasic, uint64(len(benchBody)), &benchProps); err != nil {
						b.Fatal(err)
					}
				} else {
					buf = AppendRawHeaderFrame(buf, 1, ClassBasic, uint64(len(benchBody)), raw)
				}
				buf = AppendBodyFrames(buf, 1, benchBody, 131072)
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

// benchTable is a queue's arguments plus some nesting.
var benchTable = Table{
	"x-queue-type":             "quorum",
	"x-max-length":             int64(100000),
	"x-message-ttl":            int32(60000),
	"x-dead-letter-exchange":   "dlx",
	"x-single-active-consumer": true,
	"x-death": []any{Table{
		"count": int64(1), "reason": "expired", "queue": "orders", "time": time.Unix(1700000000, 0).UTC(),
		"exchange": "", "routing-keys": []any{"orders"},
	}},
}

func BenchmarkTableDecode(b *testing.B) {
	enc, err := AppendTable(nil, benchTable)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeTable(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTableEncode(b *testing.B) {
	buf := make([]byte, 0, 1024)
	var err error
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = AppendTable(buf[:0], benchTable); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}
