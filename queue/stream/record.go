package stream

import (
	"encoding/binary"
	"errors"

	"github.com/warrenmq/warren/queue"
)

var errBadRecord = errors.New("stream: bad record")

// encodeRecord is m as one log record, with its filter value ("": none;
// at most 255 bytes).
func encodeRecord(m *queue.Message, filter string) []byte {
	b := make([]byte, 0, 8+len(filter)+len(m.Exchange)+len(m.RoutingKey)+len(m.Props)+len(m.Body))
	var flags byte
	if m.Persistent {
		flags |= 1
	}
	if filter != "" {
		flags |= 2
		b = append(b, flags, byte(len(filter)))
		b = append(b, filter...)
	} else {
		b = append(b, flags)
	}
	b = append(b, byte(len(m.Exchange)))
	b = append(b, m.Exchange...)
	b = append(b, byte(len(m.RoutingKey)))
	b = append(b, m.RoutingKey...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Props)))
	b = append(b, m.Props...)
	return append(b, m.Body...)
}

// decodeRecord reads a record back; the message's slices point into rec.
func decodeRecord(rec []byte) (m *queue.Message, filter string, err error) {
	if len(rec) < 2 {
		return nil, "", errBadRecord
	}
	m = &queue.Message{Persistent: rec[0]&1 != 0}
	if rec[0]&2 != 0 {
		n := int(rec[1])
		if len(rec) < 2+n+1 {
			return nil, "", errBadRecord
		}
		filter = string(rec[2 : 2+n])
		rec = rec[1+n:]
	}
	n := int(rec[1])
	rec = rec[2:]
	if len(rec) < n+1 {
		return nil, "", errBadRecord
	}
	m.Exchange = string(rec[:n])
	rec = rec[n:]
	n = int(rec[0])
	rec = rec[1:]
	if len(rec) < n+4 {
		return nil, "", errBadRecord
	}
	m.RoutingKey = string(rec[:n])
	rec = rec[n:]
	p := binary.BigEndian.Uint32(rec)
	rec = rec[4:]
	if uint64(p) > uint64(len(rec)) {
		return nil, "", errBadRecord
	}
	m.Props = rec[:p:p]
	m.Body = rec[p:]
	return m, filter, nil
}
