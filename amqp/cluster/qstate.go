package cluster

import (
	"encoding/binary"
	"errors"
	"slices"

	"github.com/warrenmq/warren/queue"
)

// qstate is a quorum queue's replicated state: every message not settled
// (ready, or delivered and not acknowledged: the log does not record
// deliveries) with its delivery count, by message id. Every member
// applies the group's entries to it in log order, so every member holds
// the same qstate at the same index: it is what a snapshot holds and
// what a new leader delivers from. It is owned by the loop goroutine.
type qstate struct {
	next uint64 // the last message id given: ids are 1, 2, ... in log order
	msgs map[uint64]*qmsg
	// procs: the last seq applied of each proposer (qseq.go).
	procs map[qproc]uint64
	// snap: the buffer of the snapshot this state was decoded from, which
	// the messages decoded borrow (qrehome.go); nil once none does.
	snap *snapBuf
}

type qmsg struct {
	msg        *queue.Message
	deliveries uint32 // returns applied: rabbitmq's x-delivery-count
	// expires is when the message expires (unix ms; 0: no TTL), from its
	// apply on this node (qttl.go): local, not in snapshots.
	expires int64
}

// effect is what applying an operation did to one message, for the local
// queue instance.
type effect struct {
	kind       byte // opEnqueue, opSettle, opReturn, opDiscard
	seq        uint64
	msg        *queue.Message
	deliveries uint32
	reason     queue.Reason // opDiscard
	expires    int64        // opReturn: the message's (qttl.go)
	purge      []uint64     // opPurge: its proposer and token (qpurge.go)
	count      int          // opPurge: the messages up to seq
}

// apply applies op; limit is the queue's x-delivery-limit (<0: none): a
// return that takes a message past it discards the message instead.
// Operations on ids that are gone (settled twice, a stale consumer's ack
// after a leader change) do nothing.
func (s *qstate) apply(op qop, limit int64, out []effect) []effect {
	if s.msgs == nil {
		s.msgs = map[uint64]*qmsg{}
	}
	switch op.kind {
	case opEnqueue:
		s.next++
		s.msgs[s.next] = &qmsg{msg: op.msg}
		return append(out, effect{kind: opEnqueue, seq: s.next, msg: op.msg})
	case opSettle:
		for _, id := range op.seqs {
			if m := s.msgs[id]; m != nil {
				s.drop(id, m)
				out = append(out, effect{kind: opSettle, seq: id, msg: m.msg})
			}
		}
	case opReturn:
		for _, id := range op.seqs {
			m := s.msgs[id]
			if m == nil {
				continue
			}
			m.deliveries++
			if limit >= 0 && int64(m.deliveries) > limit {
				// rabbitmq x-delivery-limit: returned more often than the
				// limit, the message is dead-lettered (or dropped).
				s.drop(id, m)
				out = append(out, effect{kind: opDiscard, seq: id, msg: m.msg, deliveries: m.deliveries, reason: queue.ReasonDeliveryLimit})
				continue
			}
			out = append(out, effect{kind: opReturn, seq: id, msg: m.msg, deliveries: m.deliveries, expires: m.expires})
		}
	case opPurge:
		// qpurge.go: the messages up to here; the leader settles those
		// of them that are ready.
		return append(out, effect{kind: opPurge, seq: s.next, purge: op.seqs, count: len(s.msgs)})
	case opDiscard:
		for _, id := range op.seqs {
			if m := s.msgs[id]; m != nil {
				s.drop(id, m)
				out = append(out, effect{kind: opDiscard, seq: id, msg: m.msg, deliveries: m.deliveries, reason: queue.ReasonRejected})
			}
		}
	}
	return out
}

// drop takes message id (m) out of the state.
func (s *qstate) drop(id uint64, m *qmsg) {
	delete(s.msgs, id)
	if s.snap != nil && m.msg.Borrowed() {
		s.snap.live -= borrowedBytes(m.msg)
	}
}

// ids returns the message ids in order.
func (s *qstate) ids() []uint64 {
	ids := make([]uint64, 0, len(s.msgs))
	for id := range s.msgs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// entries are the messages as a queue's ready entries, in id order.
func (s *qstate) entries() []queue.Entry {
	ids := s.ids()
	out := make([]queue.Entry, len(ids))
	for i, id := range ids {
		m := s.msgs[id]
		out[i] = queue.Entry{Msg: m.msg, Seq: id, Deliveries: m.deliveries, Redelivered: m.deliveries > 0, Expires: m.expires}
	}
	return out
}

// qview is a state frozen for a snapshot, taken on the loop and encoded
// off it (qsnap.go). A message does not
// change once applied (one re-homed is replaced, not changed:
// qrehome.go), so the view holds the messages themselves, and the state
// goes on applying meanwhile.
type qview struct {
	next  uint64
	msgs  []qviewMsg // in id order once encode sorted them
	procs []byte     // the proposers, encoded (appendProcs)
}

type qviewMsg struct {
	id         uint64
	deliveries uint32
	msg        *queue.Message
}

// view freezes s: a copy of the map's entries, put in order by encode,
// off the loop.
func (s *qstate) view() qview {
	v := qview{next: s.next, msgs: make([]qviewMsg, 0, len(s.msgs)), procs: s.appendProcs(nil)}
	for id, m := range s.msgs {
		v.msgs = append(v.msgs, qviewMsg{id, m.deliveries, m.msg})
	}
	return v
}

// encode is the snapshot's data:
//
//	version u8 (1) | next id uvarint | count uvarint |
//	count x ( id uvarint | deliveries uvarint | message (qcodec.go) ) |
//	proposers (version 2: qseq.go appendProcs)
func (v *qview) encode() []byte {
	slices.SortFunc(v.msgs, func(a, b qviewMsg) int { return cmpUint64(a.id, b.id) })
	// Sized first: a snapshot is as large as the queue (a gigabyte for a
	// million 1 KiB messages), so it is written once into one
	// allocation, not grown by doubling.
	b := make([]byte, 0, v.bound())
	b = append(b, qSnapVersion)
	b = binary.AppendUvarint(b, v.next)
	b = binary.AppendUvarint(b, uint64(len(v.msgs)))
	for _, m := range v.msgs {
		b = binary.AppendUvarint(b, m.id)
		b = binary.AppendUvarint(b, uint64(m.deliveries))
		b = appendMessage(b, m.msg)
	}
	return append(b, v.procs...)
}

// bound is at least the size of encode's answer.
func (v *qview) bound() int {
	size := 1 + 2*binary.MaxVarintLen64 + len(v.procs)
	for _, m := range v.msgs {
		size += 2*binary.MaxVarintLen64 + messageSize(m.msg)
	}
	return size
}

// minSnapMessage is the fewest bytes a message takes in a snapshot: id,
// deliveries, flags, priority, TTL, the four lengths.
const minSnapMessage = 9

// decodeQState decodes a snapshot's data, and returns with the state its
// messages as ready entries in id order (what entries returns, without
// its sort and lookups). The messages' properties and bodies are not
// copied out of b but borrow it (qrehome.go): b must not change after,
// and stays alive while any of them does. A restarted member decodes a
// million messages before it serves (issue 20): copying them was half
// its CPU, most of it in page faults on the fresh gigabyte.
func decodeQState(b []byte) (qstate, []queue.Entry, error) {
	s := qstate{msgs: map[uint64]*qmsg{}}
	if len(b) == 0 {
		return s, nil, nil // no snapshot: empty
	}
	r := reader{b: b, alias: true, names: map[string]string{}}
	v := r.byte()
	if v != qSnapVersion && v != 1 {
		return s, nil, errors.New("cluster: a quorum queue snapshot of an unknown version")
	}
	s.next = r.uvarint()
	n := r.uvarint()
	if r.err || n > uint64(len(r.b)) {
		return s, nil, errBadEntry
	}
	hint := min(n, uint64(len(r.b)/minSnapMessage))
	s.msgs = make(map[uint64]*qmsg, hint)
	es := make([]queue.Entry, 0, hint)
	sb := &snapBuf{size: int64(len(b))}
	for range n {
		id := r.uvarint()
		d := uint32(r.uvarint())
		m := r.message()
		if r.err {
			return s, nil, errors.New("cluster: a malformed quorum queue snapshot")
		}
		m.SetBorrowed()
		sb.live += borrowedBytes(m)
		s.msgs[id] = &qmsg{msg: m, deliveries: d}
		es = append(es, queue.Entry{Msg: m, Seq: id, Deliveries: d, Redelivered: d > 0})
	}
	if v >= 2 {
		if s.readProcs(&r); r.err {
			return s, nil, errors.New("cluster: a malformed quorum queue snapshot")
		}
	}
	if len(r.b) != 0 {
		return s, nil, errors.New("cluster: trailing bytes in a quorum queue snapshot")
	}
	if len(s.msgs) != len(es) || !slices.IsSortedFunc(es, func(a, b queue.Entry) int { return cmpUint64(a.Seq, b.Seq) }) {
		// Not written by encode (ids repeated or out of order): the
		// state is still what it says, the entries are made from it.
		es = s.entries()
	}
	if sb.live > 0 {
		s.snap = sb
	}
	return s, es, nil
}
