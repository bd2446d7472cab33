package broker

import (
	"encoding/binary"
	"errors"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/queue"
)

// Entry meta in the store:
//
//	flags u8 | body size u32 | deliveries u32 | expires i64 (Unix ms, 0: never)
const metaTransient = 1 // paged out, not journalled: dropped at recovery

const metaLen = 17

func entryMeta(b []byte, transient bool, e queue.Entry) []byte {
	f := byte(0)
	if transient {
		f = metaTransient
	}
	b = binary.BigEndian.AppendUint32(append(b, f), uint32(e.Msg.Size()))
	b = binary.BigEndian.AppendUint32(b, e.Deliveries)
	return binary.BigEndian.AppendUint64(b, uint64(e.Expires))
}

type entryState struct {
	transient  bool
	size       int64
	deliveries uint32
	expires    int64
}

func parseMeta(meta []byte) entryState {
	if len(meta) < 5 {
		return entryState{}
	}
	st := entryState{transient: meta[0]&metaTransient != 0, size: int64(binary.BigEndian.Uint32(meta[1:]))}
	if len(meta) >= metaLen {
		st.deliveries = binary.BigEndian.Uint32(meta[5:])
		st.expires = int64(binary.BigEndian.Uint64(meta[9:]))
	}
	return st
}

// Stored message format (the store keeps it as opaque bytes):
//
//	exchange len u8 | exchange | routing key len u8 | routing key |
//	properties len u32 | properties | body
func encodeMessage(m *queue.Message) []byte {
	return append(appendMessageHead(make([]byte, 0, 6+len(m.Exchange)+len(m.RoutingKey)+len(m.Props)+len(m.Body)), m), m.Body...)
}

// encodeMessageHead is the stored message up to its body: the store takes
// the two parts apart (Batch.PutMessageParts), so a large body goes to its
// body file from where it lies, never copied into one buffer first.
func encodeMessageHead(m *queue.Message) []byte {
	return appendMessageHead(make([]byte, 0, 6+len(m.Exchange)+len(m.RoutingKey)+len(m.Props)), m)
}

func appendMessageHead(b []byte, m *queue.Message) []byte {
	b = append(b, byte(len(m.Exchange)))
	b = append(b, m.Exchange...)
	b = append(b, byte(len(m.RoutingKey)))
	b = append(b, m.RoutingKey...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Props)))
	return append(b, m.Props...)
}

var errBadMessage = errors.New("stored message is malformed")

func decodeMessage(id uint64, b []byte) (*queue.Message, error) {
	take := func(n int) []byte {
		if n > len(b) {
			return nil
		}
		p := b[:n]
		b = b[n:]
		return p
	}
	m := &queue.Message{ID: id}
	if len(b) < 1 {
		return nil, errBadMessage
	}
	x := take(int(b[0]) + 1)
	if x == nil || len(b) < 1 {
		return nil, errBadMessage
	}
	m.Exchange = string(x[1:])
	rk := take(int(b[0]) + 1)
	if rk == nil || len(b) < 4 {
		return nil, errBadMessage
	}
	m.RoutingKey = string(rk[1:])
	n := binary.BigEndian.Uint32(b)
	b = b[4:]
	if uint64(n) > uint64(len(b)) {
		return nil, errBadMessage
	}
	m.Props = b[:n:n]
	m.Body = b[n:]
	if sum, err := amqp.ScanProperties(m.Props); err == nil {
		m.Priority = sum.Priority
		m.Persistent = sum.DeliveryMode == 2
	}
	return m, nil
}
