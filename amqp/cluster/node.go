package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"net"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/storage/raftlog"
)

// metaGroup is the id of the metadata Raft group (the definitions). The
// quorum queues' groups will take other ids.
const metaGroup = 1

// Config configures a Node.
type Config struct {
	Name string // this node's name (--node-name), unique in the cluster
	// Listener takes the peer link's connections (--cluster-listen); the
	// node closes it at Stop.
	Listener net.Listener
	// Peers are the initial members, name -> peer address, this node
	// included or not (it is added with Listener's address).
	Peers map[string]string
	// Join: a node whose log is empty waits to be added to a running
	// cluster (Node.Join on a member, `warren ctl cluster join`) and
	// catches up from its leader, instead of bootstrapping with Peers
	// (which then need only name members it can reach).
	Join bool
	// Dir holds the Raft log (<data-dir>/raft).
	Dir    string
	Logger *zap.Logger // nil: none

	Tick           time.Duration // 0: 100 ms
	ElectionTicks  int           // 0: 10
	HeartbeatTicks int           // 0: 1
	// SnapshotEntries is how many applied entries trigger a snapshot of
	// the definitions (0: 4096); CatchUpEntries how many entries are kept
	// behind a snapshot for followers a little behind (0: 512; <0: none).
	SnapshotEntries uint64
	CatchUpEntries  int64
	// ProposeTimeout bounds a proposal that has no deadline (0: 10 s),
	// and a quorum queue's publish: not committed by then, it is nacked.
	ProposeTimeout time.Duration
	// QueueSnapshotEntries is how many applied entries of a quorum
	// queue's group trigger a snapshot of its state (0: 4096).
	QueueSnapshotEntries uint64
	// QueuePendingBytes is how much of its publishes a quorum queue's
	// group may hold uncommitted before publishers wait (0: 64 MiB).
	QueuePendingBytes int64
}

// Node is one member of the metadata Raft group: a broker.Replicator.
// New opens its log; Start, given the broker, starts the Raft loop and
// the peer link.
type Node struct {
	cfg   Config
	id    uint64
	log   *zap.Logger
	names map[uint64]string // id -> name of every node in book; the loop's once started
	book  *book             // the address book; the loop's once started
	store *raftlog.Store
	group *raftlog.Group
	tr    *transport

	propc   chan proposal
	recvc   chan groupMsg
	reportc chan report
	// linkFails are the peers whose link failed while reportc was full:
	// the loop takes them at its next round (takeLinkFails), for a
	// remote consumer's deliveries that failure may have lost are owed
	// whatever raft does.
	linkFails struct {
		sync.Mutex
		peers map[uint64]bool
		any   atomic.Bool
	}
	ctlc chan func(*loop) // run on the loop (inLoop)
	// snaps counts the quorum queue snapshots being written off the loop
	// (qsnap.go): Stop waits for them before it closes the store.
	snaps sync.WaitGroup
	// snapHook, if set (tests), runs before such a snapshot is written,
	// with the queue's name.
	snapHook atomic.Pointer[func(queue string)]
	stop     chan struct{}
	done     chan struct{}
	started  atomic.Bool

	// kick wakes the loop for the quorum queues' proposals (qgroup.go).
	kick chan struct{}
	// applying is set while the loop handles Readies: a quorum queue's
	// Enqueue made then (dead-lettering) never waits for room.
	applying atomic.Bool
	// qmu guards the quorum queues' groups as the broker makes and
	// deletes them, for the loop to adopt and drop, and those with
	// operations to propose (a leaf, taken after a qgroup's mu).
	qmu struct {
		sync.Mutex
		groups         map[uint64]*qgroup // by group id: the queues alive
		added, removed []*qgroup
		dirty          []*qgroup
	}

	nextID atomic.Uint64 // proposal ids, seeded from the clock at New
	figs   figures       // nodes_status.go: the members' figures over the peer link
	inc    uint64        // this incarnation: the start time (qseq.go)
	mu     struct {
		sync.Mutex
		pending map[uint64]chan result
		status  Status
	}
}

type proposal struct {
	ctx  context.Context
	id   uint64 // this node's proposal id (also inside data)
	data []byte
}

type result struct {
	res broker.Result
	err error
}

// Status is a node's view of the metadata group.
type Status struct {
	Name, Leader          string // Leader "": none known
	Term, Commit, Applied uint64
	SnapshotIndex         uint64   // the latest snapshot's index
	FirstIndex            uint64   // the first entry kept in the log
	Members               []string // the voters, sorted
	Learners              []string // sorted
	Nodes                 []Member // voters and learners, by name (status.go)
	// Removed: this node was removed from the cluster; its Raft stopped.
	Removed bool
}

// ErrStopped is returned by Propose once the node is stopped.
var ErrStopped = errors.New("cluster: node stopped")

// NodeID is the Raft id of the node called name: its FNV-1a hash (never
// 0, which raft reserves).
func NodeID(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	if id := h.Sum64(); id != 0 {
		return id
	}
	return 1
}

// New opens the node's Raft log; it sends and receives nothing until
// Start.
func New(cfg Config) (*Node, error) {
	if cfg.Name == "" || cfg.Listener == nil || cfg.Dir == "" {
		return nil, errors.New("cluster: a node needs a name, a listener and a directory")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Tick == 0 {
		cfg.Tick = 100 * time.Millisecond
	}
	if cfg.ElectionTicks == 0 {
		cfg.ElectionTicks = 10
	}
	if cfg.HeartbeatTicks == 0 {
		cfg.HeartbeatTicks = 1
	}
	if cfg.SnapshotEntries == 0 {
		cfg.SnapshotEntries = 4096
	}
	if cfg.CatchUpEntries == 0 {
		cfg.CatchUpEntries = 512
	}
	if cfg.ProposeTimeout == 0 {
		cfg.ProposeTimeout = 10 * time.Second
	}
	if cfg.QueueSnapshotEntries == 0 {
		cfg.QueueSnapshotEntries = 4096
	}
	if cfg.QueuePendingBytes == 0 {
		cfg.QueuePendingBytes = 64 << 20
	}
	n := &Node{cfg: cfg, id: NodeID(cfg.Name), log: cfg.Logger.Named("cluster"), names: map[uint64]string{},
		propc: make(chan proposal, 256), recvc: make(chan groupMsg, 4096), reportc: make(chan report, 1024),
		ctlc: make(chan func(*loop)), stop: make(chan struct{}), done: make(chan struct{}), kick: make(chan struct{}, 1)}
	n.qmu.groups = map[uint64]*qgroup{}
	n.inc = uint64(time.Now().UnixNano())
	n.nextID.Store(n.inc)
	n.mu.pending = map[uint64]chan result{}
	var err error
	if n.store, err = raftlog.Open(raftlog.Options{Dir: cfg.Dir, Logger: n.log}); err != nil {
		return nil, err
	}
	if n.group, err = n.store.Group(metaGroup); err != nil {
		n.store.Close()
		return nil, err
	}
	// The address book: the saved one (membership.go), then the flags'.
	if n.book, err = loadBook(n.group.Meta(), cfg); err != nil {
		n.store.Close()
		return nil, err
	}
	addrs := map[uint64]string{}
	for name, addr := range n.book.Addrs {
		id := NodeID(name)
		if other, ok := n.names[id]; ok {
			n.store.Close()
			return nil, fmt.Errorf("cluster: node names %q and %q have the same id", name, other)
		}
		n.names[id], addrs[id] = name, addr
	}
	n.tr = newTransport(n.id, addrs, n.log, n.deliver, n.report)
	_, cs, _ := n.group.InitialState()
	n.mu.status = Status{Name: cfg.Name, Members: n.voterNames(cs.GetVoters()), Removed: slices.Contains(n.book.Removed, cfg.Name)}
	return n, nil
}

// Start runs the node for b: the Raft loop applies every committed
// command with b.ApplyLocal. A node whose log is empty bootstraps the
// initial members from Config.Peers (every node of a new cluster must be
// given the same peers), unless Config.Join. A node removed from the
// cluster does not start its Raft (Status.Removed; proposals fail with
// ErrRemoved).
func (n *Node) Start(b *broker.Broker) error {
	if n.Status().Removed {
		n.log.Warn("cluster: this node was removed from the cluster; its Raft stays stopped (start it with an empty data directory to join again)", zap.String("node", n.cfg.Name))
		n.started.Store(true)
		close(n.done)
		n.tr.start(n.cfg.Listener)
		return nil
	}
	rc := &raft.Config{
		ID: n.id, ElectionTick: n.cfg.ElectionTicks, HeartbeatTick: n.cfg.HeartbeatTicks,
		Storage: n.group, Applied: n.group.Applied(),
		MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256, MaxUncommittedEntriesSize: 64 << 20,
		CheckQuorum: true, PreVote: true, StepDownOnRemoval: true, Logger: raftLogger{n.log.Sugar()},
	}
	rn, err := raft.NewRawNode(rc)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if last, _ := n.group.LastIndex(); last == 0 && !n.cfg.Join {
		var peers []raft.Peer
		for id, name := range n.names {
			ctx, _ := json.Marshal(memberInfo{Name: name, Addr: n.book.Addrs[name]})
			peers = append(peers, raft.Peer{ID: id, Context: ctx})
		}
		sort.Slice(peers, func(i, j int) bool { return peers[i].ID < peers[j].ID })
		if err := rn.Bootstrap(peers); err != nil {
			return fmt.Errorf("cluster: bootstrap: %w", err)
		}
	}
	l := &loop{n: n, rn: rn, b: b, applied: n.group.Applied(), book: n.book,
		joining: map[uint64]bool{}, leaving: map[uint64]bool{}, confProposed: map[[2]uint64]uint64{}, noticed: map[uint64]uint64{}}
	if snap, _ := n.group.Snapshot(); !raft.IsEmptySnap(snap) {
		l.snapIndex = snap.GetMetadata().GetIndex()
	}
	l.storeApplied = storeApplied(b, n.log) // applied.go
	l.hard, l.conf, _ = n.group.InitialState()
	l.savedHard = l.hard
	l.reinstallIfBehind() // applied.go
	n.started.Store(true)
	n.tr.start(n.cfg.Listener)
	n.log.Info("cluster node started", zap.String("node", n.cfg.Name), zap.Int("members", len(l.conf.GetVoters())+len(l.conf.GetLearners())),
		zap.Bool("join", n.cfg.Join && len(l.conf.GetVoters()) == 0), zap.Uint64("applied", l.applied))
	go l.run()
	return nil
}

// Stop stops the Raft loop and the peer link and closes the log.
// Proposals waiting fail with ErrStopped.
func (n *Node) Stop() error {
	if n.started.Load() {
		close(n.stop)
		<-n.done
		n.snaps.Wait()
		n.tr.close(n.cfg.Listener)
	} else {
		n.cfg.Listener.Close()
	}
	return n.store.Close()
}

// Propose implements broker.Replicator: it proposes cmd to the metadata
// group and waits until this node has applied it.
func (n *Node) Propose(ctx context.Context, cmd []byte) (broker.Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.ProposeTimeout)
		defer cancel()
	}
	id := n.nextID.Add(1)
	ch := make(chan result, 1)
	n.mu.Lock()
	n.mu.pending[id] = ch
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.mu.pending, id)
		n.mu.Unlock()
	}()
	select {
	case n.propc <- proposal{ctx: ctx, id: id, data: encodeProposal(n.id, id, cmd)}:
	case <-ctx.Done():
		return broker.Result{}, n.timeout()
	case <-n.done:
		return broker.Result{}, n.stoppedErr()
	}
	select {
	case r := <-ch:
		return r.res, r.err
	case <-ctx.Done():
		return broker.Result{}, n.timeout()
	case <-n.done:
		return broker.Result{}, n.stoppedErr()
	}
}

// timeout is the error of a proposal not committed in time: no quorum,
// most likely (a 541, as the change may or may not happen later).
func (n *Node) timeout() error {
	return amqp.Errorf(amqp.InternalError, "cluster: the change was not committed in time (no quorum of %d nodes reachable from node '%s'?)", len(n.Status().Members), n.cfg.Name)
}

// finish hands a proposal's result to its proposer, if it still waits.
func (n *Node) finish(id uint64, r result) {
	n.mu.Lock()
	ch := n.mu.pending[id]
	n.mu.Unlock()
	if ch != nil {
		select {
		case ch <- r: // buffered: the first result for an id
		default:
		}
	}
}

// Status returns the node's view of the metadata group.
func (n *Node) Status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.status.clone()
}

// voterNames names ids (before the loop runs, or on it).
func (n *Node) voterNames(ids []uint64) []string {
	var out []string
	for _, id := range ids {
		out = append(out, n.names[id])
	}
	sort.Strings(out)
	return out
}

// deliver hands a received message to the Raft loop; false once stopped.
func (n *Node) deliver(m groupMsg) bool {
	if m.group == controlGroup {
		if !n.feedReceive(m.msg) { // qremote.go
			n.control(m.msg) // membership.go
		}
		return true
	}
	select {
	case n.recvc <- m:
		return true
	case <-n.stop:
		return false
	case <-n.done: // the loop failed
		return false
	}
}

// kickLoop wakes the loop to propose the quorum queues' operations.
func (n *Node) kickLoop() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

func (n *Node) report(r report) {
	select {
	case n.reportc <- r:
	default: // the loop is behind; raft finds out on its own
		if r.snapshot || r.lost || r.down {
			return
		}
		// but a link failure's lost deliveries are not raft's.
		n.linkFails.Lock()
		if n.linkFails.peers == nil {
			n.linkFails.peers = map[uint64]bool{}
		}
		n.linkFails.peers[r.to] = true
		n.linkFails.any.Store(true)
		n.linkFails.Unlock()
		n.kickLoop()
	}
}

// takeLinkFails reports to the loop the link failures report could not
// hand it.
func (l *loop) takeLinkFails() {
	n := l.n
	if !n.linkFails.any.Load() {
		return
	}
	n.linkFails.Lock()
	peers := n.linkFails.peers
	n.linkFails.peers = nil
	n.linkFails.any.Store(false)
	n.linkFails.Unlock()
	for _, id := range slices.Sorted(maps.Keys(peers)) {
		l.reportAny(report{to: id})
	}
}
