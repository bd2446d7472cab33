package cluster

import (
	"cmp"
	"encoding/binary"
	"hash/fnv"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/storage/raftlog"
)

// qgroup is one quorum queue's Raft group on this node: the queue's
// queue.Quorum (its operations go in as proposals) and, for the loop, the
// group's RawNode, log and replicated state. Created by QueueConfig when
// the broker makes the queue (declared through the metadata log, or
// recovered from the store at start), adopted by the loop at its next
// round, dropped with the queue.
type qgroup struct {
	n           *Node
	id          uint64
	vhost, name string
	members     []uint64 // chosen at declaration (memberIDs); the log's conf state after
	member      bool     // this node is one
	q           atomic.Pointer[queue.Queue]
	gone        atomic.Bool // the queue was deleted
	// pending is the bytes of messages proposed and not yet applied here
	// or failed: past Config.QueuePendingBytes, publishers wait (waitRoom).
	pending, maxPending atomic.Int64

	mu struct {
		sync.Mutex
		ops    pendingOps // proposed since the loop last took them
		queued bool       // in Node.qmu.dirty
		status QueueStatus
		room   chan struct{} // closed when pending falls to half the cap

		purges map[uint64]chan int // qpurge.go: purges proposed here, by token
	}

	// Owned by the loop goroutine once adopted.
	rn                 *raft.RawNode
	g                  *raftlog.Group
	st                 qstate
	applied, snapIndex uint64
	hard, savedHard    *pb.HardState
	conf               *pb.ConfState
	confDirty          bool
	lead               uint64 // the leader known
	proposedLead       uint64 // the leader when inflight was last proposed
	proposedTerm       uint64 // and its term
	ticks              uint64
	campaign           bool // stand once the bootstrap is applied
	leading            bool // this node leads: its queue delivers
	inflight           map[uint64]*qbatch
	dropped            []*qbatch
	seen               seenSet
	effects            []effect // scratch
	stuckLogged        uint64   // the tick logStuck last told at
	// logBytes is the entry data applied since the last snapshot,
	// snapBytes that snapshot's size (qloop.go snapshotGroups).
	logBytes, snapBytes int64
	snapping            bool // a snapshot is being written off the loop (qsnap.go)

	failover *failover // failover.go: an election after the leader's node went down

	// qmove.go: members moved. joined: this node was added to the group
	// after its declaration (read by publishers: atomic).
	joined       atomic.Bool
	snapNow      bool
	confProposed map[[2]uint64]uint64

	// Sequenced batches (qseq.go), the loop's: the last sequence given;
	// when a batch of this node's was last applied; resends for want of
	// progress.
	seq        uint64
	progressAt time.Time
	resent     uint64

	fd feeds // remote consumers (qremote.go)
	// leadSeen is the leader this node last knew of (the loop writes
	// it; a get on a passive queue reads it: qget.go).
	leadSeen atomic.Uint64
	fwdTo    uint64 // outside the group: the member to forward to (qforward.go)
}

// qbatch is one proposal of a group: a round's operations, and the
// confirms of its enqueues.
type qbatch struct {
	id       uint64
	data     []byte
	dones    []func(error)
	bytes    int64 // its enqueues' share of qgroup.pending
	deadline time.Time

	// qseq.go: when it was last proposed; a copy was refused (a gap);
	// nacked, it is kept, emptied, to fill its place in the sequence.
	proposedAt       time.Time
	rejected, filler bool
}

// QueueStatus is a node's view of one quorum queue's group.
type QueueStatus struct {
	Group                 uint64
	Leader                string // "": none known
	Members               []string
	Member                bool // this node is one
	Term, Commit, Applied uint64
	SnapshotIndex         uint64
	FirstIndex            uint64
	Messages              int // ready and unacknowledged, as applied here
	// PendingBytes are the messages published here and not committed and
	// applied yet; MaxPendingBytes its high-water mark.
	PendingBytes, MaxPendingBytes int64
	// SnapshotBorrowed is the size of the snapshot buffer the messages
	// decoded from it still borrow (qrehome.go); 0 once none does.
	SnapshotBorrowed int64
}

// QueueGroupID is the Raft group id of quorum queue name in vhost: an
// FNV-1a hash, never 0 or the metadata group's 1.
func QueueGroupID(vhost, name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte("quorum\x00"))
	h.Write([]byte(vhost))
	h.Write([]byte{0})
	h.Write([]byte(name))
	if id := h.Sum64(); id > metaGroup {
		return id
	}
	return metaGroup + 1
}

// memberIDs chooses size members among nodes for group: rendezvous
// hashing (the highest hash(group, node) first), the same on every node,
// and spreading groups, and their first leaders, over the cluster.
func memberIDs(group uint64, nodes []uint64, size int) []uint64 {
	score := func(node uint64) uint64 {
		h := fnv.New64a()
		var b [16]byte
		binary.BigEndian.PutUint64(b[:], group)
		binary.BigEndian.PutUint64(b[8:], node)
		h.Write(b[:])
		return h.Sum64()
	}
	ns := slices.Clone(nodes)
	slices.SortFunc(ns, func(a, b uint64) int { return cmp.Compare(score(b), score(a)) })
	size = max(1, min(size, len(ns)))
	return ns[:size]
}

// groupSize is x-quorum-initial-group-size, default 3 (capped at the
// cluster's size by memberIDs).
func groupSize(args map[string]any) int {
	if v, ok := amqp.IntValue(args["x-quorum-initial-group-size"]); ok && v > 0 {
		return int(v)
	}
	return 3
}

// Attach implements queue.Quorum.
func (g *qgroup) Attach(q *queue.Queue) { g.q.Store(q) }

// Enqueue implements queue.Quorum: the message joins the next round's
// entry of the group.
func (g *qgroup) Enqueue(m *queue.Message, done func(error)) {
	g.mu.Lock()
	before := g.mu.ops.bytes
	g.mu.ops.enqueue(m, done)
	size := g.mu.ops.bytes - before
	g.queueLocked()
	g.mu.Unlock()
	g.n.kickLoop()
	p := g.pending.Add(size)
	for hw := g.maxPending.Load(); p > hw && !g.maxPending.CompareAndSwap(hw, p); hw = g.maxPending.Load() {
	}
	if p > g.n.cfg.QueuePendingBytes && !g.n.applying.Load() {
		g.waitRoom()
	}
}

// waitRoom holds a publisher back (its connection's reader: TCP pushes
// back on the client) while the group has more than QueuePendingBytes
// uncommitted: backpressure rather than an unbounded buffer. The loop
// never waits here (it may publish, dead-lettering, while it applies):
// it sets Node.applying. Publishes failed at their deadline free room.
func (g *qgroup) waitRoom() {
	for g.pending.Load() > g.n.cfg.QueuePendingBytes && !g.gone.Load() {
		g.mu.Lock()
		if g.mu.room == nil {
			g.mu.room = make(chan struct{})
		}
		room := g.mu.room
		g.mu.Unlock()
		if g.pending.Load() <= g.n.cfg.QueuePendingBytes/2 {
			return
		}
		select {
		case <-room:
		case <-g.n.done:
			return
		}
	}
}

// release frees a batch's (or pending operations') bytes and completes
// its publishes: confirmed (nil) or nacked.
func (g *qgroup) release(bytes int64, dones []func(error), err error) {
	if bytes != 0 && g.pending.Add(-bytes) <= g.n.cfg.QueuePendingBytes/2 {
		g.mu.Lock()
		if g.mu.room != nil {
			close(g.mu.room)
			g.mu.room = nil
		}
		g.mu.Unlock()
	}
	for _, d := range dones {
		d(err)
	}
}

func (g *qgroup) seqOp(kind byte, seqs []uint64) { g.seqOpDone(kind, seqs, nil) }

func (g *qgroup) seqOpDone(kind byte, seqs []uint64, done func(error)) {
	if len(seqs) == 0 {
		return
	}
	g.mu.Lock()
	g.mu.ops.seqs(kind, seqs)
	if done != nil {
		g.mu.ops.dones = append(g.mu.ops.dones, done)
	}
	g.queueLocked()
	g.mu.Unlock()
	g.n.kickLoop()
}

// Settle, Return and Discard implement queue.Quorum.
func (g *qgroup) Settle(seqs []uint64)  { g.seqOp(opSettle, seqs) }
func (g *qgroup) Return(seqs []uint64)  { g.seqOp(opReturn, seqs) }
func (g *qgroup) Discard(seqs []uint64) { g.seqOp(opDiscard, seqs) }

// SettleDone implements queue.Quorum: done runs with the batch's fate,
// as a publish's confirm does.
func (g *qgroup) SettleDone(seqs []uint64, done func(error)) { g.seqOpDone(opSettle, seqs, done) }

// Deleted implements queue.Quorum: the loop drops the group and its log.
func (g *qgroup) Deleted() {
	if g.gone.Swap(true) {
		return
	}
	g.n.qmu.Lock()
	g.n.qmu.removed = append(g.n.qmu.removed, g)
	if g.n.qmu.groups[g.id] == g {
		delete(g.n.qmu.groups, g.id)
	}
	g.n.qmu.Unlock()
	g.n.kickLoop()
}

// queueLocked puts g on the node's list of groups with operations to
// propose (g.mu held; Node.qmu is taken after it).
func (g *qgroup) queueLocked() {
	if g.mu.queued {
		return
	}
	g.mu.queued = true
	g.n.qmu.Lock()
	g.n.qmu.dirty = append(g.n.qmu.dirty, g)
	g.n.qmu.Unlock()
}

// takeOps returns the operations proposed since the last call.
func (g *qgroup) takeOps() pendingOps {
	g.mu.Lock()
	defer g.mu.Unlock()
	ops := g.mu.ops
	g.mu.ops = pendingOps{}
	g.mu.queued = false
	return ops
}

// QueueConfig implements broker.QueueReplicator: a quorum queue gets its
// group (this node a member or not), and its log as its store: no
// journal, no memory budget.
func (n *Node) QueueConfig(vhost string, cfg *queue.Config) {
	if cfg.Args["x-queue-type"] != "quorum" || cfg.Exclusive {
		return
	}
	id := QueueGroupID(vhost, cfg.Name)
	nodes := n.placementNodes() // qmove.go
	g := &qgroup{n: n, id: id, vhost: vhost, name: cfg.Name, members: memberIDs(id, nodes, groupSize(cfg.Args))}
	g.member = slices.Contains(g.members, n.id)
	cfg.Quorum, cfg.Journal, cfg.Budget = g, nil, nil
	n.expireOnLeader(vhost, cfg) // qttl.go
	n.qmu.Lock()
	if old := n.qmu.groups[id]; old != nil {
		// The broker replaced the queue (a restored snapshot): this
		// instance takes the old one's group over (qloop.go adopt).
		old.gone.Store(true)
	}
	n.qmu.groups[id] = g
	n.qmu.added = append(n.qmu.added, g)
	n.qmu.Unlock()
	n.kickLoop()
}

// qgroupOf is this node's group of the quorum queue group id (nil: none).
func (n *Node) qgroupOf(id uint64) *qgroup {
	n.qmu.Lock()
	defer n.qmu.Unlock()
	return n.qmu.groups[id]
}

// QueueStatus returns this node's view of quorum queue name's group.
func (n *Node) QueueStatus(vhost, name string) (QueueStatus, bool) {
	g := n.qgroupOf(QueueGroupID(vhost, name))
	if g == nil {
		return QueueStatus{}, false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.mu.status
	s.Members = slices.Clone(s.Members)
	return s, true
}
