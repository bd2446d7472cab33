package cluster

import (
	"encoding/binary"
	"errors"
	"slices"

	"github.com/warrenmq/warren/queue"
)

// The quorum queues' log entries and snapshots (doc.go: Wire format).

const (
	qEntryVersion = 2 // distinct from the metadata proposals' version 1
	qSnapVersion  = 2 // 1: without the proposers (qseq.go)
)

// Operations in a quorum queue's entry.
const (
	opEnqueue = 1 + iota
	opSettle
	opReturn
	opDiscard
	opPurge // proposer node, purge token (qpurge.go), as seqs
)

var errBadEntry = errors.New("cluster: a malformed quorum queue entry")

// appendMessage encodes m:
//
//	flags u8 (1 persistent, 2 has TTL) | priority u8 | ttl varint |
//	exchange len u8 | exchange | routing key len u8 | routing key |
//	properties len uvarint | properties | body len uvarint | body
func appendMessage(b []byte, m *queue.Message) []byte {
	var flags byte
	if m.Persistent {
		flags |= 1
	}
	if m.HasTTL {
		flags |= 2
	}
	b = append(b, flags, m.Priority)
	b = binary.AppendVarint(b, m.TTL)
	b = append(b, byte(len(m.Exchange)))
	b = append(b, m.Exchange...)
	b = append(b, byte(len(m.RoutingKey)))
	b = append(b, m.RoutingKey...)
	b = binary.AppendUvarint(b, uint64(len(m.Props)))
	b = append(b, m.Props...)
	b = binary.AppendUvarint(b, uint64(len(m.Body)))
	return append(b, m.Body...)
}

// messageSize is at least what appendMessage appends for m.
func messageSize(m *queue.Message) int {
	return 2 + binary.MaxVarintLen64 + 2 + len(m.Exchange) + len(m.RoutingKey) +
		2*binary.MaxVarintLen64 + len(m.Props) + len(m.Body)
}

// reader is a sticky-error decoder over one entry or snapshot.
type reader struct {
	b   []byte
	err bool
	// alias: bytes slices b instead of copying (a snapshot's buffer,
	// decodeQState); names then interns the exchanges and routing keys.
	alias bool
	names map[string]string
	last  [2]string // the last exchange and routing key interned
}

// maxInterned bounds reader.names: a snapshot's messages name few
// exchanges and routing keys, but nothing says they must.
const maxInterned = 1024

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.err = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) u64() uint64 {
	if len(r.b) < 8 {
		r.err = true
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) uvarint() uint64 {
	v, k := binary.Uvarint(r.b)
	if k <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[k:]
	return v
}

func (r *reader) varint() int64 {
	v, k := binary.Varint(r.b)
	if k <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[k:]
	return v
}

// bytes returns the next n bytes: copied (an entry's buffer is raft's),
// or with alias a slice of the buffer, its capacity cut at n so that an
// append cannot write over the next message.
func (r *reader) bytes(n uint64) []byte {
	if n > uint64(len(r.b)) {
		r.err = true
		r.b = nil
		return nil
	}
	var out []byte
	switch {
	case !r.alias:
		out = slices.Clone(r.b[:n])
	case n == 0:
		out = []byte{} // not a slice of the buffer: it would keep it alive
	default:
		out = r.b[:n:n]
	}
	r.b = r.b[n:]
	return out
}

// name returns the next exchange (slot 0) or routing key (slot 1): u8
// length, bytes.
func (r *reader) name(slot int) string {
	n := uint64(r.byte())
	if n > uint64(len(r.b)) {
		r.err = true
		r.b = nil
		return ""
	}
	b := r.b[:n]
	r.b = r.b[n:]
	if r.names == nil {
		return string(b)
	}
	if string(b) == r.last[slot] {
		return r.last[slot] // the common case: as the message before
	}
	s, ok := r.names[string(b)]
	if !ok {
		s = string(b)
		if len(r.names) < maxInterned {
			r.names[s] = s
		}
	}
	r.last[slot] = s
	return s
}

func (r *reader) message() *queue.Message {
	m := &queue.Message{}
	flags := r.byte()
	m.Persistent, m.HasTTL = flags&1 != 0, flags&2 != 0
	m.Priority = r.byte()
	m.TTL = r.varint()
	m.Exchange = r.name(0)
	m.RoutingKey = r.name(1)
	m.Props = r.bytes(r.uvarint())
	m.Body = r.bytes(r.uvarint())
	if r.err {
		return nil
	}
	return m
}

// qop is one decoded operation.
type qop struct {
	kind byte
	msg  *queue.Message // opEnqueue
	seqs []uint64       // the others
}

// pendingOps collects a group's operations between two rounds of the
// loop, encoded: they become one entry.
type pendingOps struct {
	buf   []byte
	count int
	dones []func(error) // the enqueues' confirms, and SettleDone's
	bytes int64         // the enqueues' (qgroup.pending)
}

func (p *pendingOps) enqueue(m *queue.Message, done func(error)) {
	p.buf = append(p.buf, opEnqueue)
	n := len(p.buf)
	p.buf = appendMessage(p.buf, m)
	p.bytes += int64(len(p.buf) - n)
	p.count++
	if done != nil {
		p.dones = append(p.dones, done)
	}
}

func (p *pendingOps) seqs(kind byte, seqs []uint64) {
	p.buf = append(p.buf, kind)
	p.buf = binary.AppendUvarint(p.buf, uint64(len(seqs)))
	for _, s := range seqs {
		p.buf = binary.AppendUvarint(p.buf, s)
	}
	p.count++
}

// entry frames the operations as one log entry:
//
//	version u8 (2) | proposer u64 BE | proposal id u64 BE | count uvarint | ops
func (p *pendingOps) entry(node, id uint64) []byte {
	b := make([]byte, 0, 17+binary.MaxVarintLen64+len(p.buf))
	b = append(b, qEntryVersion)
	b = binary.BigEndian.AppendUint64(b, node)
	b = binary.BigEndian.AppendUint64(b, id)
	b = binary.AppendUvarint(b, uint64(p.count))
	return append(b, p.buf...)
}

func decodeQEntry(b []byte) (node, id uint64, ops []qop, err error) {
	h, ops, err := decodeQEntryHdr(b)
	return h.node, h.id, ops, err
}

// decodeQEntryHdr decodes an entry of version 2 or 3 (qseq.go).
func decodeQEntryHdr(b []byte) (h qhdr, ops []qop, err error) {
	r := reader{b: b}
	switch v := r.byte(); {
	case len(b) == 0:
		return h, nil, errBadEntry
	case v == qEntryVersion:
		h.node, h.id = r.u64(), r.u64()
	case v == qEntrySeqVersion:
		h.node, h.inc, h.seq = r.u64(), r.u64(), r.u64()
		h.id = h.seq
		if h.seq == 0 {
			return qhdr{}, nil, errBadEntry
		}
	default:
		return h, nil, errBadEntry
	}
	ops, err = decodeOps(&r)
	if err != nil {
		return qhdr{}, nil, err
	}
	return h, ops, nil
}

func decodeOps(r *reader) (ops []qop, err error) {
	n := r.uvarint()
	if r.err || n > uint64(len(r.b)) {
		return nil, errBadEntry
	}
	ops = make([]qop, 0, n)
	for range n {
		op := qop{kind: r.byte()}
		switch op.kind {
		case opEnqueue:
			op.msg = r.message()
		case opSettle, opReturn, opDiscard, opPurge:
			k := r.uvarint()
			if k > uint64(len(r.b)) {
				return nil, errBadEntry
			}
			op.seqs = make([]uint64, k)
			for i := range op.seqs {
				op.seqs[i] = r.uvarint()
			}
		default:
			return nil, errBadEntry
		}
		if r.err {
			return nil, errBadEntry
		}
		ops = append(ops, op)
	}
	if len(r.b) != 0 {
		return nil, errBadEntry
	}
	return ops, nil
}
