package cluster

import (
	"encoding/binary"
	"slices"
	"time"
)

// Sequenced proposals of a quorum queue's group (issue 20): each node
// numbers the batches it proposes to a group, 1, 2, ..., per incarnation
// (Node.inc, its start time), and the group's applied state keeps, per
// proposer (node, incarnation), the last sequence it applied. A batch is
// applied only if it is the next one of its proposer: a second copy is a
// duplicate (dropped), one that comes after a gap is refused, on every
// member alike. So a batch that raft lost (a proposal forwarded by a
// follower and lost on the way, the leader and its term unchanged) can be
// proposed again without being applied twice or out of its publisher's
// order (RabbitMQ's enqueuers number their commands the same way). The
// proposer learns each batch's fate by applying the log itself:
//
//   - applied, or a duplicate of one applied: confirmed; the batches
//     after it that were refused are proposed again at once, in order;
//   - refused (a gap): marked; proposed again once the gap fills;
//   - nothing of its own applied for resendAfter (two election timeouts)
//     while batches wait: the oldest is proposed again (the lost one,
//     most likely), and the rest follow as each gap fills.
//
// A batch not applied by its deadline (ProposeTimeout) is nacked, and
// becomes a filler: the same sequence with no operations, proposed until
// applied, so that the sequence has no hole (a nacked batch is never
// confirmed; a copy of it already in raft's log may still apply, as
// before).
//
// Entry, version 3 (version 2 entries, unsequenced, are still applied
// and deduplicated by seenSet):
//
//	version u8 (3) | proposer u64 BE | incarnation u64 BE | seq u64 BE | count uvarint | ops

const qEntrySeqVersion = 3

// qhdr is a decoded entry's header: id is the version 2 proposal id, or
// the seq (seq 0: a version 2 entry).
type qhdr struct {
	node, id uint64
	inc, seq uint64
}

// qproc is a proposer's place in the applied state: by (node,
// incarnation), the last seq applied.
type qproc struct{ node, inc uint64 }

// incarnationsKept is how many incarnations of a node the state keeps
// (the highest): an entry of an older one, proposed before as many
// restarts, cannot still be on its way.
const incarnationsKept = 4

// verdict is what apply does with a sequenced batch.
type verdict uint8

const (
	vApply verdict = iota // the proposer's next: applied
	vDup                  // applied before: dropped
	vGap                  // an earlier one is missing: refused
)

// admit decides a sequenced batch's fate and, applied, records it. It is
// deterministic in the state: every member decides alike.
func (s *qstate) admit(h qhdr) verdict {
	if h.seq == 0 {
		return vApply // version 2: seenSet decides
	}
	if s.procs == nil {
		s.procs = map[qproc]uint64{}
	}
	k := qproc{h.node, h.inc}
	last := s.procs[k]
	switch {
	case h.seq <= last:
		return vDup
	case h.seq > last+1:
		return vGap
	}
	s.procs[k] = h.seq
	if last == 0 {
		s.pruneProcs(h.node)
	}
	return vApply
}

// pruneProcs keeps the incarnationsKept highest incarnations of node.
func (s *qstate) pruneProcs(node uint64) {
	var incs []uint64
	for k := range s.procs {
		if k.node == node {
			incs = append(incs, k.inc)
		}
	}
	if len(incs) <= incarnationsKept {
		return
	}
	slices.Sort(incs)
	for _, inc := range incs[:len(incs)-incarnationsKept] {
		delete(s.procs, qproc{node, inc})
	}
}

// appendProcs encodes the proposers' table of a snapshot (version 2):
//
//	count uvarint | count x ( node u64 BE | incarnation u64 BE | last uvarint )
func (s *qstate) appendProcs(b []byte) []byte {
	ks := make([]qproc, 0, len(s.procs))
	for k := range s.procs {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b qproc) int {
		if c := cmpUint64(a.node, b.node); c != 0 {
			return c
		}
		return cmpUint64(a.inc, b.inc)
	})
	b = binary.AppendUvarint(b, uint64(len(ks)))
	for _, k := range ks {
		b = binary.BigEndian.AppendUint64(b, k.node)
		b = binary.BigEndian.AppendUint64(b, k.inc)
		b = binary.AppendUvarint(b, s.procs[k])
	}
	return b
}

func (s *qstate) readProcs(r *reader) {
	n := r.uvarint()
	if r.err || n > uint64(len(r.b)) {
		r.err = true
		return
	}
	s.procs = make(map[qproc]uint64, n)
	for range n {
		k := qproc{r.u64(), r.u64()}
		s.procs[k] = r.uvarint()
	}
}

// entrySeq frames the operations as a version 3 entry.
func (p *pendingOps) entrySeq(node, inc, seq uint64) []byte {
	b := make([]byte, 0, 25+binary.MaxVarintLen64+len(p.buf))
	b = append(b, qEntrySeqVersion)
	b = binary.BigEndian.AppendUint64(b, node)
	b = binary.BigEndian.AppendUint64(b, inc)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = binary.AppendUvarint(b, uint64(p.count))
	return append(b, p.buf...)
}

// newBatch makes g's next sequenced batch of ops.
func (l *loop) newBatch(g *qgroup, ops pendingOps, now time.Time) *qbatch {
	g.seq++
	return &qbatch{id: g.seq, data: ops.entrySeq(l.n.id, l.n.inc, g.seq), dones: ops.dones, bytes: ops.bytes,
		deadline: now.Add(l.n.cfg.ProposeTimeout)}
}

// mineApplied handles the apply of this node's batch seq (this
// incarnation's) with verdict v.
func (l *loop) mineApplied(g *qgroup, seq uint64, v verdict) {
	if v == vGap {
		if b := g.inflight[seq]; b != nil {
			b.rejected = true
		}
		return
	}
	g.progressAt = time.Now()
	if b := g.inflight[seq]; b != nil {
		delete(g.inflight, seq)
		g.release(b.bytes, b.dones, nil) // committed and applied here: confirm
	}
	g.dropped = slices.DeleteFunc(g.dropped, func(b *qbatch) bool {
		if b.id == seq { // another copy waited for a leader
			g.release(b.bytes, b.dones, nil)
			return true
		}
		return false
	})
	// The batches refused behind this one go again, in order.
	for s := seq + 1; ; s++ {
		b := g.inflight[s]
		if b == nil || !b.rejected {
			return
		}
		b.rejected = false
		l.proposeGroup(g, b)
	}
}

// resendStalled proposes again the oldest batch of g still waiting when
// none of this node's batches was applied for resendAfter (nor since
// that batch was last proposed): it was lost, most likely. The others
// that waited as long are marked as refused, so that they go again, in
// order, as the gap before each fills (mineApplied): one batch at a time
// on the link rather than all of them, which under load would only add
// to it.
func (l *loop) resendStalled(g *qgroup, now time.Time) {
	if len(g.inflight) == 0 || len(g.dropped) > 0 {
		return // dropped ones are retried by catchUp, before the rest
	}
	after := l.resendAfter()
	oldest := uint64(0)
	for s := range g.inflight {
		if oldest == 0 || s < oldest {
			oldest = s
		}
	}
	b := g.inflight[oldest]
	if now.Sub(g.progressAt) < after || now.Sub(b.proposedAt) < after {
		return
	}
	g.resent++
	for s, o := range g.inflight {
		if s != oldest && now.Sub(o.proposedAt) >= after {
			o.rejected = true
		}
	}
	b.rejected = false
	l.proposeGroup(g, b)
}

// resendAfter is how long a node waits for one of its batches to apply
// before it proposes the oldest again: two election timeouts.
func (l *loop) resendAfter() time.Duration {
	return 2 * l.n.cfg.Tick * time.Duration(l.n.cfg.ElectionTicks)
}

// expire nacks b's publishes at its deadline; a sequenced batch stays,
// emptied, to fill its place in the sequence.
func (g *qgroup) expire(b *qbatch, err error) (keep bool) {
	g.release(b.bytes, b.dones, err)
	b.bytes, b.dones = 0, nil
	if b.filler || !g.sequenced(b) {
		return b.filler
	}
	b.filler = true
	b.data = (&pendingOps{}).entrySeq(g.n.id, g.n.inc, b.id)
	return true
}

// sequenced reports whether b is a version 3 batch.
func (g *qgroup) sequenced(b *qbatch) bool {
	return len(b.data) > 0 && b.data[0] == qEntrySeqVersion
}
