package cluster

import (
	"encoding/binary"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/warrenmq/warren/queue"
)

// basic.get on a node that does not lead a quorum queue's group (issue
// 20): RabbitMQ serves a get on any node, so this node asks the leader
// over the peer link. The leader takes the head of its ready messages and
// answers with it and how many are left. With acks, what it took is out
// to the asking node's get proxy (an rproxy of no window that is no
// consumer of the queue), as a remote consumer's delivery is: the node's
// ack, requeue or reject is the usual settle, return or discard proposal,
// a leader that stops hearing from the node returns it, and a new leader
// has it still (nothing but a settle removes a message). Without acks the
// leader settles it at once. An answer that comes after the asker gave up
// goes back (acked gets) or is lost (no-ack: at most once, as a no-ack
// delivery on a connection that breaks).
//
// A get keeps its channel's order: the node first proposes what waits
// (an ack or a requeue the channel sent before the get), then sends the
// get with its incarnation and last batch seq, and the leader serves it
// once it has applied that batch (parked until then, at most getWait).
//
// On the link (controlGroup, qremote.go's framing):
//
//	get  req u64 BE | noAck u8 | incarnation u64 BE | seq u64 BE
//	got  req u64 BE | noAck u8 | remaining uvarint | deliver body (cid 0, 0 or 1 entry)

const (
	feedGet = 32 + iota
	feedGot
	feedPurged // qpurge.go
)

// getWait is how long a get waits for the leader's answer.
const getWait = 5 * time.Second

type getReply struct {
	e         queue.Entry
	remaining int
	found     bool
}

// RemoteGet implements queue.RemoteGetter: a get on this node's passive
// queue, served by the group's leader.
func (g *qgroup) RemoteGet(noAck bool) (e queue.Entry, remaining int, ok bool) {
	lead := g.leadSeen.Load()
	if lead == g.n.id {
		return queue.Entry{}, 0, false
	}
	req := g.n.nextID.Add(1)
	ch := make(chan getReply, 1)
	g.fd.fmu.Lock()
	if g.fd.fmu.gets == nil {
		g.fd.fmu.gets = map[uint64]chan getReply{}
	}
	g.fd.fmu.gets[req] = ch
	g.fd.fmu.Unlock()
	defer func() {
		g.fd.fmu.Lock()
		delete(g.fd.fmu.gets, req)
		g.fd.fmu.Unlock()
	}()
	select {
	case g.n.ctlc <- func(l *loop) { l.sendGet(g, lead, req, noAck) }:
	case <-g.n.stop:
		return queue.Entry{}, 0, false
	case <-g.n.done:
		return queue.Entry{}, 0, false
	}
	t := time.NewTimer(getWait)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.e, r.remaining, r.found
	case <-t.C:
	case <-g.n.done:
	}
	g.fd.fmu.Lock()
	delete(g.fd.fmu.gets, req) // from now on gotReply gives a late answer back itself
	g.fd.fmu.Unlock()
	select {
	case r := <-ch: // handed over just before the delete
		return r.e, r.remaining, r.found
	default:
	}
	return queue.Entry{}, 0, false
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// sendGet proposes g's waiting operations, then asks lead for the get
// (on the loop).
func (l *loop) sendGet(g *qgroup, lead, req uint64, noAck bool) {
	l.proposeGroups()
	body := binary.BigEndian.AppendUint64(nil, req)
	body = append(body, boolByte(noAck))
	body = binary.BigEndian.AppendUint64(body, l.n.inc)
	body = binary.BigEndian.AppendUint64(body, g.seq)
	// A leader not known here (a node outside the group that has not
	// published yet): every member is asked, and only the leader answers.
	l.n.tr.send(controlGroup, l.feedTo(g, lead, feedGet, body))
}

// parkedGet is a get waiting for its node's earlier operations to apply.
type parkedGet struct {
	group, from, req, inc, seq uint64
	noAck                      bool
	until                      time.Time
}

// serveGet answers node from's get of g's queue once the node's batches
// up to seq are applied here (on the loop).
func (l *loop) serveGet(pg parkedGet) {
	if g := l.groups[pg.group]; g != nil && g.leading && pg.seq > g.st.procs[qproc{pg.from, pg.inc}] && time.Now().Before(pg.until) {
		l.parked = append(l.parked, pg)
		return
	}
	g := l.groups[pg.group]
	if g == nil || !g.leading {
		return // the asker's view of the leader is stale: no answer, it gives up after getWait
	}
	var es []queue.Entry
	remaining := 0
	if q := g.q.Load(); q != nil {
		if e, left, ok := q.QuorumTake(); ok {
			es, remaining = []queue.Entry{e}, left
			if pg.noAck {
				// Answered once the settle is committed (queue.Queue's
				// quorumGetNoAck): on the loop, from the batch's fate.
				g.SettleDone([]uint64{e.Seq}, func(err error) {
					if err != nil {
						q.QuorumUntake(e)
						l.sendGot(pg, 0, nil)
						return
					}
					l.sendGot(pg, remaining, es)
				})
				return
			}
			p := l.getProxy(g, pg.from)
			g.fd.fmu.Lock()
			p.takeLocked(e.Seq)
			g.fd.fmu.Unlock()
		}
	}
	l.sendGot(pg, remaining, es)
}

// sendGot answers get pg with es (none: empty).
func (l *loop) sendGot(pg parkedGet, remaining int, es []queue.Entry) {
	body := binary.BigEndian.AppendUint64(nil, pg.req)
	body = append(body, boolByte(pg.noAck))
	body = binary.AppendUvarint(body, uint64(remaining))
	d, _ := encodeDeliver(0, es)
	body = append(body, d...)
	l.n.tr.send(controlGroup, []*pb.Message{feedMsg(l.n.id, pg.from, feedGot, pg.group, body)})
}

// serveParked tries the parked gets again (on the loop, each round).
func (l *loop) serveParked() {
	if len(l.parked) == 0 {
		return
	}
	parked := l.parked
	l.parked = nil
	for _, pg := range parked {
		l.serveGet(pg)
	}
}

// getProxy is node's get proxy on g (on the loop): it owns what the
// node's gets took until they are settled, returned or discarded.
func (l *loop) getProxy(g *qgroup, node uint64) *rproxy {
	k := proxyKey{node: node, cid: 0} // a remote consumer's cid is never 0
	if p := g.fd.proxies[k]; p != nil {
		return p
	}
	p := &rproxy{g: g, key: k}
	if g.fd.proxies == nil {
		g.fd.proxies = map[proxyKey]*rproxy{}
	}
	g.fd.proxies[k] = p
	return p
}

// gotReply hands the leader's answer to the get waiting for it (a reader
// goroutine); one nobody waits for any more goes back.
func (n *Node) gotReply(group uint64, r *reader) {
	req := r.u64()
	noAck := r.byte() == 1
	remaining := r.uvarint()
	_ = r.u64() // cid
	es, ok := readEntries(r)
	if !ok || len(es) > 1 {
		return
	}
	g := n.qgroupOf(group)
	if g == nil {
		return
	}
	g.fd.fmu.Lock()
	ch := g.fd.fmu.gets[req]
	delete(g.fd.fmu.gets, req)
	g.fd.fmu.Unlock()
	rep := getReply{remaining: int(min(remaining, 1<<31)), found: len(es) == 1}
	if rep.found {
		rep.e = es[0]
	}
	if ch != nil {
		ch <- rep // buffered, one answer per request
		return
	}
	if rep.found && !noAck {
		g.Return([]uint64{rep.e.Seq})
	}
}
