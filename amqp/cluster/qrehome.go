package cluster

import (
	"slices"

	"github.com/warrenmq/warren/queue"
)

// Re-homing the messages of a snapshot (issue 20).
//
// decodeQState does not copy the messages out of the snapshot's buffer
// (a gigabyte for a million 1 KiB messages): their properties and bodies
// slice it (queue.Message.Borrowed), so a restarted member serves without
// first paging in and copying a second gigabyte. The garbage collector
// frees the buffer only once no message slices it, so a few messages
// left in the queue (a poison message, a consumer that never acks) would
// keep all of it. The state counts the bytes of its messages that borrow
// the buffer (snapBuf.live); once they are at most half the buffer, the
// loop copies them out, rehomeChunk bytes per group per round, and gives
// the state and the local queue the copies (queue.QuorumRehome): the
// buffer then takes at most twice the bytes of what is left of it, and
// is freed once the last copy is made and the deliveries in flight of
// the old messages are done. A queue consumed to the end never copies.
//
// Nothing writes into a borrowed message (messages are immutable once
// published, queue.Message); what may outlive the queue's entry (a
// dead-lettered or moved copy) takes its bytes with Message.Owned.

// snapBuf accounts the snapshot buffer a qstate's messages borrow.
type snapBuf struct {
	size int64 // the buffer's bytes
	live int64 // the properties and bodies in it of the messages in the state
	// ids are the messages left to re-home, in id order; nil until
	// re-homing starts.
	ids []uint64
}

// borrowed is the size of the buffer the state's messages borrow; 0: none.
func (s *qstate) borrowed() int64 {
	if s.snap == nil {
		return 0
	}
	return s.snap.size
}

// rehomeChunk bounds the bytes one group re-homes in a round of the
// loop, each message counted rehomeCost more (an allocation, a lookup):
// some 4 ms of work.
const (
	rehomeChunk = 4 << 20
	rehomeCost  = 128
)

// borrowedBytes is what m borrows of its buffer.
func borrowedBytes(m *queue.Message) int64 { return int64(len(m.Props) + len(m.Body)) }

// rehome copies out up to max bytes of the messages that borrow s.snap,
// once they hold at most half of it, and appends what it replaced to
// out. more: there is more to copy.
func (s *qstate) rehome(max int64, out []queue.Rehome) (_ []queue.Rehome, more bool) {
	sb := s.snap
	if sb == nil {
		return out, false
	}
	if sb.ids == nil {
		if sb.live*2 > sb.size {
			return out, false
		}
		ids := make([]uint64, 0, 64)
		for id, m := range s.msgs {
			if m.msg.Borrowed() {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		sb.ids = ids
	}
	var n int64
	for len(sb.ids) > 0 && n < max {
		id := sb.ids[0]
		sb.ids = sb.ids[1:]
		m := s.msgs[id]
		if m == nil || !m.msg.Borrowed() {
			continue // gone since
		}
		c := m.msg.Unborrowed()
		b := borrowedBytes(c)
		n += b + rehomeCost
		sb.live -= b
		out = append(out, queue.Rehome{Seq: id, Old: m.msg, New: c})
		m.msg = c
	}
	if len(sb.ids) == 0 {
		s.snap = nil // every message owns its bytes: the buffer goes with the last old one
		return out, false
	}
	return out, true
}

// rehomeGroups re-homes a chunk of each group's borrowed messages (see
// above); it wakes the loop again while there is more.
func (l *loop) rehomeGroups() {
	more := false
	for _, g := range l.groups {
		if g.st.snap == nil {
			continue
		}
		rs, m := g.st.rehome(rehomeChunk, nil)
		more = more || m
		if q := g.q.Load(); q != nil && len(rs) > 0 {
			q.QuorumRehome(rs)
		}
	}
	if more {
		l.n.kickLoop()
	}
}
