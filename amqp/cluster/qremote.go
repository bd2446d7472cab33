package cluster

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/warrenmq/warren/queue"
)

// Remote consumers of a quorum queue (issue 20): a consumer on a node
// that does not lead the queue's group is fed by the leader over the
// peer link, with credit, so that prefetch means what it means on one
// node.
//
//	consumer's node (C)                         leader (L)
//	loop tick: C's passive queue has a new
//	consumer -> consume(cid, prefetch) ------>  loop: a proxy consumer on
//	                                            L's queue (rproxy), window =
//	                                            prefetch (0: feedWindow)
//	reader: QuorumFeed(c, entries) <--------    deliver(cid, entries): what
//	  the Sink takes it; the rest waits in        the proxy took, sent by the
//	  the consumer's backlog (next Dispatch)      loop after each round
//	ack / requeue / reject -> Settle, Return,
//	  Discard proposals (same message ids) ->   applied: the proxy's credit
//	                                            comes back, L dispatches again
//	consumer gone -> cancel(cid); its backlog   proxy removed
//	  returned (proposed)
//
// C sends consume again every election timeout (a keepalive, and how a
// new leader learns of it) and at once when it sees a new leader, after
// dropping its backlog (a new leader delivers every message again). A
// leader that stops leading drops its proxies. A proxy whose node is not
// heard from for three election timeouts is dropped and what it had out
// is returned (proposed): node loss. Deliveries for a consumer C no longer
// has are returned by C.
//
// On the link (controlGroup, a message's Context):
//
//	"WRNF" | kind u8 | group u64 BE | body
//	consume  cid u64 BE | prefetch uvarint
//	cancel   cid u64 BE
//	deliver  cid u64 BE | count uvarint |
//	         count x ( seq uvarint | deliveries uvarint | redelivered u8 | message )
//
// Concurrency: the proxies and the registrations are the loop's; a
// qgroup's fmu (a leaf, taken under queue.Queue.mu by rproxy.TryDeliver)
// guards the proxies' credit and outboxes, and the registrations' id ->
// consumer map read by the peer link's readers.

const feedMagic = "WRNF"

const (
	feedConsume = 1 + iota
	feedCancel
	feedDeliver
)

// feedWindow is the credit of a consumer without a prefetch limit
// (RabbitMQ's quorum queues give such consumers a fixed credit too).
const feedWindow = 2000

// feedChunk bounds one deliver message's bodies.
const feedChunk = 4 << 20

// proxyKey names a remote consumer: its node and its id there.
type proxyKey struct{ node, cid uint64 }

// rproxy is a remote consumer's stand-in on the leader's queue: a Sink
// that takes at most window entries unsettled.
type rproxy struct {
	g      *qgroup
	key    proxyKey
	window int
	c      *queue.Consumer
	// Under g.fmu.
	out  []queue.Entry
	owed int // delivered, not yet settled, returned or discarded
	gone bool
}

// feeds is a qgroup's remote-consumer state.
type feeds struct {
	// The loop's.
	proxies map[proxyKey]*rproxy // on the leader
	reg     map[*queue.Consumer]uint64
	regLead uint64 // the leader the registrations went to
	regTerm uint64 // and its term
	regTick uint64 // when they last went
	nextCID uint64

	fmu struct {
		sync.Mutex
		owner map[uint64]*rproxy // message id -> the proxy it went to
		byID  map[uint64]*queue.Consumer
		dirty bool                     // some proxy has entries to send
		gets  map[uint64]chan getReply // qget.go: gets waiting for the leader
	}
}

// TryDeliver implements queue.Sink on the leader (under the queue's lock).
func (p *rproxy) TryDeliver(q *queue.Queue, e queue.Entry) bool {
	g := p.g
	g.fd.fmu.Lock()
	if p.gone || p.owed >= p.window {
		g.fd.fmu.Unlock()
		return false
	}
	p.takeLocked(e.Seq)
	p.out = append(p.out, e)
	g.fd.fmu.dirty = true
	g.fd.fmu.Unlock()
	g.n.kickLoop()
	return true
}

// takeLocked records message seq as out to p until it is settled,
// returned or discarded (g.fd.fmu held).
func (p *rproxy) takeLocked(seq uint64) {
	fd := &p.g.fd
	if fd.fmu.owner == nil {
		fd.fmu.owner = map[uint64]*rproxy{}
	}
	fd.fmu.owner[seq] = p
	p.owed++
}

// feedSend sends what every leading group's proxies took since the last
// round (on the loop).
func (l *loop) feedSend() {
	for _, g := range l.groups {
		if len(g.fd.proxies) == 0 {
			continue
		}
		g.fd.fmu.Lock()
		if !g.fd.fmu.dirty {
			g.fd.fmu.Unlock()
			continue
		}
		g.fd.fmu.dirty = false
		outs := map[*rproxy][]queue.Entry{}
		for _, p := range g.fd.proxies {
			if len(p.out) > 0 {
				outs[p], p.out = p.out, nil
			}
		}
		g.fd.fmu.Unlock()
		for p, es := range outs {
			for len(es) > 0 {
				body, n := encodeDeliver(p.key.cid, es)
				l.n.tr.send(controlGroup, []*pb.Message{feedMsg(l.n.id, p.key.node, feedDeliver, g.id, body)})
				es = es[n:]
			}
		}
	}
}

// encodeDeliver encodes entries of es up to feedChunk bytes (one at
// least) and returns how many.
func encodeDeliver(cid uint64, es []queue.Entry) ([]byte, int) {
	var ops []byte
	n := 0
	for n < len(es) && (n == 0 || len(ops) < feedChunk) {
		e := es[n]
		ops = binary.AppendUvarint(ops, e.Seq)
		ops = binary.AppendUvarint(ops, uint64(e.Deliveries))
		r := byte(0)
		if e.Redelivered {
			r = 1
		}
		ops = append(ops, r)
		ops = appendMessage(ops, e.Msg)
		n++
	}
	b := binary.BigEndian.AppendUint64(nil, cid)
	b = binary.AppendUvarint(b, uint64(n))
	return append(b, ops...), n
}

func feedMsg(from, to uint64, kind byte, group uint64, body []byte) *pb.Message {
	ctx := make([]byte, 0, len(feedMagic)+9+len(body))
	ctx = append(ctx, feedMagic...)
	ctx = append(ctx, kind)
	ctx = binary.BigEndian.AppendUint64(ctx, group)
	ctx = append(ctx, body...)
	return &pb.Message{Type: pb.MessageType_MsgHeartbeat.Enum(), From: new(from), To: new(to), Context: ctx}
}

// feedReceive handles a feed message from the peer link (a reader
// goroutine); false if m is not one.
func (n *Node) feedReceive(m *pb.Message) bool {
	ctx := m.GetContext()
	if len(ctx) < len(feedMagic)+9 || string(ctx[:len(feedMagic)]) != feedMagic {
		return false
	}
	kind := ctx[len(feedMagic)]
	group := binary.BigEndian.Uint64(ctx[len(feedMagic)+1:])
	r := reader{b: ctx[len(feedMagic)+9:]}
	from := m.GetFrom()
	switch kind {
	case feedPropose, feedApplied: // qforward.go
		body := r.b
		var f func(*loop)
		if kind == feedPropose {
			f = func(l *loop) { l.forwardedPropose(group, body) }
		} else {
			inc, seq, v := r.u64(), r.u64(), r.byte()
			if r.err || v > byte(vGap) {
				return true
			}
			f = func(l *loop) { l.forwardedApplied(group, from, inc, seq, verdict(v)) }
		}
		select {
		case n.ctlc <- f:
		case <-n.stop:
		case <-n.done:
		}
	case feedDeliver:
		n.feedDeliver(group, &r)
	case feedGot: // qget.go
		n.gotReply(group, &r)
	case feedPurged: // qpurge.go
		token, count := r.u64(), r.uvarint()
		if g := n.qgroupOf(group); g != nil && !r.err {
			g.purged(token, int(min(count, 1<<31)))
		}
	case feedGet:
		pg := parkedGet{group: group, from: from, req: r.u64(), noAck: r.byte() == 1, inc: r.u64(), seq: r.u64(), until: time.Now().Add(getWait)}
		if r.err {
			return true
		}
		select {
		case n.ctlc <- func(l *loop) { l.serveGet(pg) }:
		case <-n.stop:
		case <-n.done:
		}
	case feedConsume, feedCancel:
		cid := r.u64()
		window := 0
		if kind == feedConsume {
			window = int(min(r.uvarint(), 1<<20))
		}
		if r.err {
			return true
		}
		select {
		case n.ctlc <- func(l *loop) { l.feedControl(group, proxyKey{from, cid}, kind == feedConsume, window) }:
		case <-n.stop:
		case <-n.done:
		}
	}
	return true
}

// feedDeliver hands a leader's deliveries to the consumer they are for;
// those for a consumer gone are returned.
func (n *Node) feedDeliver(group uint64, r *reader) {
	cid := r.u64()
	es, ok := readEntries(r)
	if !ok {
		n.log.Debug("cluster: a malformed remote delivery")
		return
	}
	g := n.qgroupOf(group)
	if g == nil {
		return
	}
	g.fd.fmu.Lock()
	c := g.fd.fmu.byID[cid]
	g.fd.fmu.Unlock()
	q := g.q.Load()
	if c != nil && q != nil && q.QuorumFeed(c, es) {
		return
	}
	g.Return(entrySeqs(es))
}

// readEntries decodes a deliver body's entries (after its cid).
func readEntries(r *reader) ([]queue.Entry, bool) {
	count := r.uvarint()
	if r.err || count > uint64(len(r.b)) {
		return nil, false
	}
	es := make([]queue.Entry, 0, count)
	for range count {
		e := queue.Entry{Seq: r.uvarint(), Deliveries: uint32(r.uvarint())}
		e.Redelivered = r.byte() == 1
		e.Msg = r.message()
		if r.err {
			return nil, false
		}
		es = append(es, e)
	}
	return es, true
}

func entrySeqs(es []queue.Entry) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

// feedControl handles consume (a keepalive too) and cancel on the loop.
func (l *loop) feedControl(group uint64, k proxyKey, consume bool, window int) {
	g := l.groups[group]
	if g == nil {
		return
	}
	p := g.fd.proxies[k]
	switch {
	case !consume:
		if p != nil {
			l.dropProxy(g, p, false)
		}
	case p != nil || !g.leading:
		// Known, or not the leader: C finds the leader on its own.
	default:
		q := g.q.Load()
		if q == nil {
			return
		}
		if window <= 0 {
			window = feedWindow
		}
		p = &rproxy{g: g, key: k, window: window}
		p.c = &queue.Consumer{Tag: fmt.Sprintf("remote:%s:%d", l.n.names[k.node], k.cid), Sink: p, Remote: true}
		if g.fd.proxies == nil {
			g.fd.proxies = map[proxyKey]*rproxy{}
		}
		g.fd.proxies[k] = p
		if err := q.AddConsumer(p.c); err != nil {
			delete(g.fd.proxies, k)
		}
	}
}

// dropProxy removes p from the leader's queue; with giveBack (its node
// lost) what it had out is returned.
func (l *loop) dropProxy(g *qgroup, p *rproxy, giveBack bool) {
	delete(g.fd.proxies, p.key)
	g.fd.fmu.Lock()
	p.gone = true
	var seqs []uint64
	for s, o := range g.fd.fmu.owner {
		if o == p {
			delete(g.fd.fmu.owner, s)
			seqs = append(seqs, s)
		}
	}
	p.out = nil
	g.fd.fmu.Unlock()
	if q := g.q.Load(); q != nil && p.c != nil { // a get proxy is no consumer (qget.go)
		q.RemoveConsumer(p.c)
	}
	if giveBack && len(seqs) > 0 {
		slices.Sort(seqs)
		g.Return(seqs)
	}
}

// feedLinkFailed follows a write (or dial) to node that failed: what
// the link was carrying is lost, deliveries to node's consumers among it
// perhaps, which nothing would send again while the node stays heard
// from and this node leads. So every proxy of node's consumers here is
// dropped and what it had out is returned (a copy the node did receive
// comes again marked redelivered); the node registers them again at its
// next keepalive (feedTick). On the loop.
func (l *loop) feedLinkFailed(node uint64) {
	for _, g := range l.groups {
		if !g.leading {
			continue
		}
		for k, p := range g.fd.proxies {
			if k.node == node {
				l.dropProxy(g, p, true)
			}
		}
	}
}

// feedSettled gives the credit of settled, returned and discarded
// messages back to the proxies they went to (on the loop, after apply),
// and reports whether any got some.
func (g *qgroup) feedSettled(fx []effect) bool {
	if len(g.fd.proxies) == 0 {
		return false
	}
	freed := false
	g.fd.fmu.Lock()
	for _, f := range fx {
		if f.kind == opEnqueue {
			continue
		}
		if p := g.fd.fmu.owner[f.seq]; p != nil {
			delete(g.fd.fmu.owner, f.seq)
			p.owed--
			freed = true
		}
	}
	g.fd.fmu.Unlock()
	return freed
}

// feedLead follows a change of g's leadership here: a former leader
// drops its proxies (the new one delivers every message again); a new
// one drops its registrations elsewhere and what they were sent (its
// queue delivers every message itself now).
func (l *loop) feedLead(g *qgroup, leading bool) {
	for _, p := range g.fd.proxies {
		l.dropProxy(g, p, false)
	}
	if !leading {
		return
	}
	q := g.q.Load()
	for c := range g.fd.reg {
		if q != nil {
			q.QuorumUnfeed(c)
		}
	}
	g.fd.reg, g.fd.regLead, g.fd.regTerm = nil, 0, 0
	g.fd.fmu.Lock()
	g.fd.fmu.byID = nil
	g.fd.fmu.Unlock()
}

// feedTick registers this node's consumers of g with its leader (when g
// is led elsewhere), cancels those gone, and drops the proxies of nodes
// lost (on the leader).
func (l *loop) feedTick(g *qgroup) {
	et := uint64(l.n.cfg.ElectionTicks)
	if g.leading {
		for _, p := range g.fd.proxies {
			if !l.n.tr.heardWithin(p.key.node, 3*l.n.cfg.Tick*time.Duration(et)) {
				l.dropProxy(g, p, true)
			}
		}
	}
	q := g.q.Load()
	if q == nil {
		return
	}
	cs := q.QuorumConsumers() // nil while this node leads
	if len(cs) == 0 && len(g.fd.reg) == 0 {
		return
	}
	// A new leader, or the same one in a newer term (it stopped leading
	// in between), delivers every message again: drop what was sent
	// before and the consumers have not taken. A leader not known for a
	// moment (a follower that missed heartbeats under load stands as a
	// pre-candidate: no leader, the term unchanged) is not a change: the
	// leader's proxy still counts what it sent, so dropping it here left
	// that credit owed for good and the queue's last messages undelivered.
	lead, term := g.lead, g.hard.GetTerm()
	newLead := lead != raft.None && (lead != g.fd.regLead || term != g.fd.regTerm)
	if newLead {
		for c := range g.fd.reg {
			q.QuorumUnfeed(c)
		}
		g.fd.regLead, g.fd.regTerm = lead, term
	}
	keepalive := newLead || l.ticks-g.fd.regTick >= et
	if g.fd.reg == nil {
		g.fd.reg = map[*queue.Consumer]uint64{}
	}
	var msgs []*pb.Message
	for c, cid := range g.fd.reg {
		if slices.Contains(cs, c) {
			continue
		}
		delete(g.fd.reg, c)
		g.fd.fmu.Lock()
		delete(g.fd.fmu.byID, cid)
		g.fd.fmu.Unlock()
		if es := q.QuorumUnfeed(c); len(es) > 0 {
			g.Return(entrySeqs(es))
		}
		msgs = append(msgs, l.feedTo(g, lead, feedCancel, binary.BigEndian.AppendUint64(nil, cid))...)
	}
	for _, c := range cs {
		cid, known := g.fd.reg[c]
		if !known {
			g.fd.nextCID++
			cid = g.fd.nextCID
			g.fd.reg[c] = cid
			g.fd.fmu.Lock()
			if g.fd.fmu.byID == nil {
				g.fd.fmu.byID = map[uint64]*queue.Consumer{}
			}
			g.fd.fmu.byID[cid] = c
			g.fd.fmu.Unlock()
		}
		if known && !keepalive {
			continue
		}
		body := binary.BigEndian.AppendUint64(nil, cid)
		body = binary.AppendUvarint(body, uint64(max(c.Prefetch, 0)))
		msgs = append(msgs, l.feedTo(g, lead, feedConsume, body)...)
	}
	if keepalive {
		g.fd.regTick = l.ticks
	}
	l.n.tr.send(controlGroup, msgs)
}

// feedTo addresses a feed message to g's leader, or, when this node does
// not know it, to every member.
func (l *loop) feedTo(g *qgroup, lead uint64, kind byte, body []byte) []*pb.Message {
	if lead != 0 && lead != l.n.id {
		return []*pb.Message{feedMsg(l.n.id, lead, kind, g.id, body)}
	}
	var out []*pb.Message
	for _, m := range g.members {
		if m != l.n.id {
			out = append(out, feedMsg(l.n.id, m, kind, g.id, body))
		}
	}
	return out
}
