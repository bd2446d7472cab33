package cluster

import (
	"errors"
	"slices"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/storage/raftlog"
)

// The loop's side of the quorum queues' groups: every group is driven by
// the one loop goroutine (loop.run), and a round's Readies of all groups,
// the metadata group's included, are persisted with ONE raftlog Batch
// (one fsync) before any of their messages is sent (multi-Raft, as
// CockroachDB batches its ranges).

// groupReady is a group's Ready taken in a round.
type groupReady struct {
	g       *qgroup
	rd      raft.Ready
	sent    bool // its messages went before the batch was written
	applied bool // its committed entries were applied before
}

// anyReady reports whether some group has a Ready.
func (l *loop) anyReady() bool {
	if l.rn.HasReady() {
		return true
	}
	for _, g := range l.groups {
		if g.rn != nil && g.rn.HasReady() {
			return true
		}
	}
	return false
}

// readyRound takes the Ready of every group that has one, persists them
// all in one batch, sends their messages, applies their committed
// entries and advances them; false if the node must stop.
func (l *loop) readyRound() bool {
	l.n.applying.Store(true) // dead-lettering into a quorum queue must not wait
	defer l.n.applying.Store(false)
	b := l.n.store.NewBatch()
	var meta *raft.Ready
	if l.rn.HasReady() {
		rd := l.rn.Ready()
		meta = &rd
		l.persistInto(b, meta, false)
	}
	var grs []groupReady
	for _, g := range l.groups {
		if g.rn == nil || !g.rn.HasReady() {
			continue
		}
		gr := groupReady{g: g, rd: g.rn.Ready()}
		g.persistInto(b, &gr.rd)
		if ss := gr.rd.SoftState; ss != nil && ss.RaftState == raft.StateLeader || ss == nil && g.leading {
			// A leader sends its appends while it writes them itself
			// (Raft thesis 10.2.1, as etcd does): raft counts its own
			// copy only after the write (the self-ack comes with
			// Advance), so an entry still commits only once a majority
			// has it on disk.
			l.n.tr.send(g.id, gr.rd.Messages)
			gr.sent = true
		}
		grs = append(grs, gr)
	}
	// Committed entries are on a majority's disks already (raft's leader
	// counts itself only once its own write is done): they apply, and
	// their publishes are confirmed, before this round's write, not one
	// fsync later. A snapshot received must be installed first: that
	// group applies after the write.
	for i := range grs {
		if gr := &grs[i]; raft.IsEmptySnap(gr.rd.Snapshot) {
			for _, e := range gr.rd.CommittedEntries {
				l.applyGroup(gr.g, e)
			}
			gr.applied = true
		}
	}
	if b.Len() > 0 {
		if err := b.Commit(); err != nil {
			l.n.log.Error("cluster: the Raft log cannot be written; the node stops replicating", zap.Error(err))
			return false
		}
	}
	if meta != nil {
		l.persisted(meta)
	}
	for i := range grs {
		grs[i].g.persisted()
	}
	if meta != nil {
		l.ready(*meta)
	}
	for i := range grs {
		if !grs[i].sent {
			l.n.tr.send(grs[i].g.id, grs[i].rd.Messages)
		}
		l.readyGroup(grs[i].g, grs[i].rd, grs[i].applied)
	}
	return l.saveConfs(grs)
}

// persistInto adds g's Ready to the round's batch: entries, a snapshot
// received, the hard state when raft.MustSync (the commit index alone
// can be learnt again), the configuration when a conf change was
// applied. No applied index: a restarted node applies again from its
// snapshot (startGroup), since qstate lives in memory.
func (g *qgroup) persistInto(b *raftlog.Batch, rd *raft.Ready) {
	if rd.HardState != nil && !raft.IsEmptyHardState(rd.HardState) {
		g.hard = rd.HardState
	}
	snap := !raft.IsEmptySnap(rd.Snapshot)
	if !(len(rd.Entries) > 0 || snap || raft.MustSync(g.hard, g.savedHard, 0) || g.confDirty) {
		return
	}
	if snap {
		b.ApplySnapshot(g.g, rd.Snapshot)
	}
	b.Append(g.g, rd.Entries)
	b.SetHardState(g.g, g.hard)
	if g.confDirty {
		b.SetConfState(g.g, g.conf)
		g.confDirty = false // a batch that fails stops the loop
	}
}

// persisted records that the round's batch wrote g's hard state. Not
// the configuration: a conf change applied in the round after
// persistInto (the round applies before it writes) is still to be
// saved, by saveConfs.
func (g *qgroup) persisted() { g.savedHard = g.hard }

// saveConfs writes the configuration of every group whose conf changes
// were applied in this round after its Ready was added to the round's
// batch. Without it a group's voters were never on disk (the round's
// persisted cleared the flag): a member restarted once the bootstrap's
// entries were compacted away came back with no voters, could never
// stand, and two such members (with longer logs than the third) stalled
// the group for good (issue 20). Conf changes are rare: one more batch.
func (l *loop) saveConfs(grs []groupReady) bool {
	b := l.n.store.NewBatch()
	for i := range grs {
		if g := grs[i].g; g.confDirty && g.g != nil {
			b.SetConfState(g.g, g.conf)
			g.confDirty = false
		}
	}
	if b.Len() == 0 {
		return true
	}
	if err := b.Commit(); err != nil {
		l.n.log.Error("cluster: the Raft log cannot be written; the node stops replicating", zap.Error(err))
		return false
	}
	return true
}

// readyGroup handles g's persisted and sent Ready: install a snapshot,
// apply (unless applied already), Advance, then follow a change of leader.
func (l *loop) readyGroup(g *qgroup, rd raft.Ready, applied bool) {
	if !raft.IsEmptySnap(rd.Snapshot) {
		l.installGroup(g, rd.Snapshot)
	}
	if !applied {
		for _, e := range rd.CommittedEntries {
			l.applyGroup(g, e)
		}
	}
	g.rn.Advance(rd)
	if g.campaign && g.applied >= uint64(len(g.members)) {
		g.campaign = false
		if g.lead == raft.None {
			g.rn.Campaign()
		}
	}
	if ss := rd.SoftState; ss != nil {
		g.lead = ss.Lead
		g.leadSeen.Store(ss.Lead)
		if leading := ss.RaftState == raft.StateLeader; leading != g.leading {
			g.leading = leading
			if q := g.q.Load(); q != nil {
				// A new leader delivers every message of the group,
				// marked redelivered; a former one stops delivering.
				q.QuorumLead(leading, g.st.entries())
			}
			l.feedLead(g, leading) // qremote.go
			l.n.log.Debug("cluster: quorum queue leader", zap.String("queue", g.name), zap.Bool("here", leading))
		}
	}
}

// installGroup makes a received snapshot g's state.
func (l *loop) installGroup(g *qgroup, s *pb.Snapshot) {
	st, ready, err := decodeQState(s.GetData()) // the messages borrow s's data: nothing writes to it
	if err != nil {
		l.n.log.Error("cluster: a quorum queue snapshot", zap.String("queue", g.name), zap.Error(err))
		ready = st.entries()
	}
	md := s.GetMetadata()
	g.st, g.applied, g.snapIndex = st, md.GetIndex(), md.GetIndex()
	g.snapBytes, g.logBytes = int64(len(s.GetData())), 0
	g.conf = proto.Clone(md.GetConfState()).(*pb.ConfState)
	if q := g.q.Load(); q != nil {
		q.QuorumLead(g.leading, ready)
	}
}

// applyGroup applies one committed entry of g to its state and to the
// local queue, then confirms this node's proposal in it.
func (l *loop) applyGroup(g *qgroup, e *pb.Entry) {
	if e.GetIndex() <= g.applied {
		return
	}
	g.applied = e.GetIndex()
	g.logBytes += int64(len(e.GetData()))
	switch e.GetType() {
	case pb.EntryNormal:
		if len(e.GetData()) == 0 {
			return // a new leader's empty entry
		}
		h, ops, err := decodeQEntryHdr(e.GetData())
		if err != nil {
			l.n.log.Error("cluster: a quorum queue entry this node cannot decode", zap.String("queue", g.name), zap.Uint64("index", e.GetIndex()), zap.Error(err))
			return
		}
		var mine *qbatch
		if h.node == l.n.id && h.seq == 0 {
			mine = g.inflight[h.id]
			delete(g.inflight, h.id)
		}
		v := g.st.admit(h)      // qseq.go
		l.tellProposer(g, h, v) // qforward.go: a proposer outside the group
		if h.seq > 0 && h.node == l.n.id && h.inc == l.n.inc {
			defer l.mineApplied(g, h.seq, v)
		}
		if v == vApply && (h.seq > 0 || !g.seen.dup(h.node, h.id, e.GetIndex())) {
			q := g.q.Load()
			limit := int64(-1)
			if q != nil {
				limit = q.Limits().DeliveryLimit
			}
			fx := g.effects[:0]
			for _, op := range ops {
				fx = g.st.apply(op, limit, fx)
			}
			if q != nil {
				applyEffects(g, q, fx)
				if g.feedSettled(fx) { // qremote.go: a remote consumer's credit
					defer q.Dispatch()
				}
			}
			clear(fx)
			g.effects = fx[:0]
		}
		if mine != nil {
			g.release(mine.bytes, mine.dones, nil) // committed and applied here: confirm
		}
	case pb.EntryConfChange:
		var cc pb.ConfChange
		if err := proto.Unmarshal(e.GetData(), &cc); err == nil {
			g.conf, g.confDirty = g.rn.ApplyConfChange(&cc), true
			l.groupConfChanged(g, &cc) // qmove.go
		}
	case pb.EntryConfChangeV2:
		var cc pb.ConfChangeV2
		if err := proto.Unmarshal(e.GetData(), &cc); err == nil {
			g.conf, g.confDirty = g.rn.ApplyConfChange(&cc), true
		}
	}
}

// applyEffects applies what the state machine did to this node's queue
// instance (queue/quorum.go).
func applyEffects(g *qgroup, q *queue.Queue, fx []effect) {
	for _, f := range fx {
		switch f.kind {
		case opEnqueue:
			if exp := q.QuorumEnqueue(f.seq, f.msg); exp != 0 {
				g.st.setExpires(f.seq, exp) // qttl.go
			}
		case opPurge:
			g.applyPurge(q, f) // qpurge.go
		case opSettle:
			q.QuorumSettle(f.seq, f.msg.Priority)
		case opReturn:
			q.QuorumReturn(f.seq, f.msg, f.deliveries, f.expires)
		case opDiscard:
			q.QuorumDiscard(f.seq, f.msg, f.deliveries, f.reason)
		}
	}
}

// adoptGroups starts the groups of queues made since the last round and
// drops those of queues deleted.
func (l *loop) adoptGroups() {
	n := l.n
	n.qmu.Lock()
	added, removed := n.qmu.added, n.qmu.removed
	n.qmu.added, n.qmu.removed = nil, nil
	current := make(map[uint64]*qgroup, len(added))
	for _, g := range added {
		current[g.id] = n.qmu.groups[g.id]
	}
	n.qmu.Unlock()
	if l.groups == nil {
		l.groups = map[uint64]*qgroup{}
	}
	for _, g := range removed {
		if l.groups[g.id] == g {
			delete(l.groups, g.id)
			l.dropGroup(g)
		}
	}
	for _, g := range added {
		cur := current[g.id]
		switch {
		case cur != g && cur != nil:
			continue // replaced before it started: the newer one is in added
		case cur == nil:
			// Deleted before it started: its log (a restarted node's) goes.
			if _, running := l.groups[g.id]; !running && g.member {
				if rg, err := n.store.Group(g.id); err == nil {
					g.g = rg
					l.dropGroup(g)
				}
			}
			continue
		}
		if old := l.groups[g.id]; old != nil {
			// The broker replaced the queue: g takes the group over.
			g.rn, g.g, g.st, g.applied, g.snapIndex = old.rn, old.g, old.st, old.applied, old.snapIndex
			g.hard, g.savedHard, g.conf, g.lead, g.leading = old.hard, old.savedHard, old.conf, old.lead, old.leading
			g.inflight, g.dropped, g.seen = old.inflight, old.dropped, old.seen
			g.seq, g.progressAt, g.resent = old.seq, old.progressAt, old.resent
			g.snapping, g.logBytes, g.snapBytes = old.snapping, old.logBytes, old.snapBytes
			l.groups[g.id] = g
			if q := g.q.Load(); q != nil && g.rn != nil {
				q.QuorumLead(g.leading, g.st.entries())
			}
			continue
		}
		l.startGroup(g)
	}
}

// startGroup opens g's log and makes its RawNode: from its snapshot and
// log when it has one (a restart), else bootstrapped with its members.
func (l *loop) startGroup(g *qgroup) {
	n := l.n
	l.groups[g.id] = g
	if !g.member && !g.joined.Load() && !l.movedHere(g) { // qmove.go
		g.setStatus(QueueStatus{Group: g.id, Members: n.nameList(g.members)})
		return
	}
	rg, err := n.store.Group(g.id)
	if err != nil {
		n.log.Error("cluster: opening a quorum queue's log", zap.String("queue", g.name), zap.Error(err))
		delete(l.groups, g.id)
		return
	}
	g.g = rg
	snap, err := rg.Snapshot()
	if err != nil {
		n.log.Error("cluster: reading a quorum queue's snapshot; this node stays out of its group", zap.String("queue", g.name), zap.Error(err))
		delete(l.groups, g.id)
		return
	}
	var ready []queue.Entry
	if !raft.IsEmptySnap(snap) {
		// The messages borrow the snapshot's data (decodeQState), a
		// buffer of its own read from its file.
		if g.st, ready, err = decodeQState(snap.GetData()); err != nil {
			// Started on a state it cannot read, this member would
			// serve the queue without the snapshot's messages: it stays
			// out, and the group goes on with the others.
			n.log.Error("cluster: a quorum queue snapshot this node cannot decode; this node stays out of its group", zap.String("queue", g.name), zap.Error(err))
			delete(l.groups, g.id)
			return
		}
		g.applied, g.snapIndex = snap.GetMetadata().GetIndex(), snap.GetMetadata().GetIndex()
		g.snapBytes = int64(len(snap.GetData()))
		l.repairConf(g, snap)
	}
	rc := &raft.Config{
		ID: n.id, ElectionTick: n.cfg.ElectionTicks, HeartbeatTick: n.cfg.HeartbeatTicks,
		Storage: rg, Applied: g.applied,
		MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256, MaxUncommittedEntriesSize: 256 << 20,
		CheckQuorum: true, PreVote: true, Logger: raftLogger{n.log.Sugar()},
	}
	rn, err := raft.NewRawNode(rc)
	if err != nil {
		n.log.Error("cluster: a quorum queue's group", zap.String("queue", g.name), zap.Error(err))
		delete(l.groups, g.id)
		return
	}
	last, _ := rg.LastIndex()
	if last == 0 && !g.joined.Load() { // qmove.go: a member added later waits for the leader
		peers := make([]raft.Peer, 0, len(g.members))
		for _, id := range slices.Sorted(slices.Values(g.members)) {
			peers = append(peers, raft.Peer{ID: id})
		}
		if err := rn.Bootstrap(peers); err != nil {
			n.log.Error("cluster: bootstrapping a quorum queue's group", zap.String("queue", g.name), zap.Error(err))
			delete(l.groups, g.id)
			return
		}
	}
	g.hard, g.conf, _ = rg.InitialState()
	g.savedHard = g.hard
	g.rn = rn
	// The first member in rendezvous order stands first, once the
	// bootstrap's configuration is applied (raft refuses before):
	// leaders spread over the nodes, and the group leads without waiting
	// an election timeout.
	g.campaign = last == 0 && g.members[0] == n.id && !g.joined.Load()
	if q := g.q.Load(); q != nil {
		q.QuorumLead(false, ready)
	}
}

// repairConf gives a log written before saveConfs (its configuration
// never saved, its conf entries compacted away) the configuration of its
// snapshot, before raft reads it: else this member has no voters and
// never stands.
func (l *loop) repairConf(g *qgroup, snap *pb.Snapshot) {
	_, cs, _ := g.g.InitialState()
	want := snap.GetMetadata().GetConfState()
	if len(cs.GetVoters()) > 0 || len(want.GetVoters()) == 0 {
		return
	}
	b := l.n.store.NewBatch()
	b.SetConfState(g.g, want)
	if err := b.Commit(); err != nil {
		l.n.log.Error("cluster: restoring a quorum queue's configuration", zap.String("queue", g.name), zap.Error(err))
		return
	}
	l.n.log.Info("cluster: a quorum queue's configuration restored from its snapshot", zap.String("queue", g.name), zap.Int("voters", len(want.GetVoters())))
}

// dropGroup fails what g has pending and deletes its log.
func (l *loop) dropGroup(g *qgroup) {
	l.failGroup(g, amqp.Errorf(amqp.NotFound, "no queue '%s' in vhost '%s'", g.name, g.vhost))
	if g.g == nil {
		return
	}
	b := l.n.store.NewBatch()
	b.DeleteGroup(g.g)
	if err := b.Commit(); err != nil {
		l.n.log.Error("cluster: deleting a quorum queue's log", zap.String("queue", g.name), zap.Error(err))
	}
	g.rn, g.g = nil, nil
}

// failGroup fails every publish g has not confirmed.
func (l *loop) failGroup(g *qgroup, err error) {
	for _, b := range g.inflight {
		g.release(b.bytes, b.dones, err)
	}
	for _, b := range g.dropped {
		g.release(b.bytes, b.dones, err)
	}
	g.inflight, g.dropped = nil, nil
	ops := g.takeOps()
	g.release(ops.bytes, ops.dones, err)
}

// stopGroups fails the publishes waiting when the loop ends.
func (l *loop) stopGroups() {
	l.n.qmu.Lock()
	dirty := l.n.qmu.dirty
	l.n.qmu.dirty = nil
	l.n.qmu.Unlock()
	for _, g := range dirty {
		ops := g.takeOps()
		g.release(ops.bytes, ops.dones, ErrStopped)
	}
	for _, g := range l.groups {
		l.failGroup(g, ErrStopped)
	}
}

// proposeGroups proposes, for each group with operations waiting, one
// entry holding them all.
func (l *loop) proposeGroups() {
	n := l.n
	n.qmu.Lock()
	dirty := n.qmu.dirty
	n.qmu.dirty = nil
	n.qmu.Unlock()
	now := time.Now()
	for _, g := range dirty {
		ops := g.takeOps()
		if ops.count == 0 {
			continue
		}
		if l.groups[g.id] != g || g.rn == nil && g.isMember() {
			g.release(ops.bytes, ops.dones, amqp.Errorf(amqp.NotFound, "no queue '%s' in vhost '%s'", g.name, g.vhost))
			continue
		}
		b := l.newBatch(g, ops, now) // qseq.go
		if !g.isMember() {
			l.forwardBatch(g, b) // qforward.go
			continue
		}
		st := g.rn.BasicStatus()
		l.catchUp(g, st.Lead, st.HardState.GetTerm())
		if len(g.dropped) > 0 {
			g.dropped = append(g.dropped, b) // behind the older ones: order
			continue
		}
		l.proposeGroup(g, b)
	}
}

// catchUp proposes again, oldest first, what this node proposed to a
// leader that has changed since, or that was elected again in a newer
// term (raft loses a proposal forwarded to a leader that fails or steps
// down; a node restarted, or re-elected, between two ticks is the same
// leader in another term), and what was dropped for want of a leader,
// before anything newer: a publisher's messages keep their order through
// a leader change. Once one is dropped again, the rest wait behind it.
func (l *loop) catchUp(g *qgroup, lead, term uint64) {
	changed := lead != g.proposedLead || term != g.proposedTerm
	if lead == raft.None || !changed && len(g.dropped) == 0 {
		return
	}
	var bs []*qbatch
	if changed {
		for _, b := range g.inflight {
			bs = append(bs, b)
		}
	}
	g.proposedLead, g.proposedTerm = lead, term
	bs = append(bs, g.dropped...)
	g.dropped = nil
	slices.SortFunc(bs, func(a, b *qbatch) int { return cmpUint64(a.id, b.id) })
	for i, b := range bs {
		l.proposeGroup(g, b)
		if len(g.dropped) > 0 {
			g.dropped = append(g.dropped, bs[i+1:]...)
			return
		}
	}
}

func (l *loop) proposeGroup(g *qgroup, b *qbatch) {
	if !g.isMember() {
		l.forwardBatch(g, b) // qforward.go
		return
	}
	b.proposedAt = time.Now()
	err := g.rn.Propose(b.data)
	switch {
	case err == nil:
		if g.inflight == nil {
			g.inflight = map[uint64]*qbatch{}
		}
		g.inflight[b.id] = b
	case errors.Is(err, raft.ErrProposalDropped):
		delete(g.inflight, b.id)
		g.dropped = append(g.dropped, b) // no leader yet, or too much uncommitted
	default:
		g.release(b.bytes, b.dones, err)
	}
}

// tickGroups ticks every group; retries what was dropped for want of a
// leader; proposes again what went to a leader that changed (raft loses
// a proposal forwarded to a leader that fails; apply drops a second
// copy); and nacks what was not committed in time.
func (l *loop) tickGroups() {
	now := time.Now()
	for _, g := range l.groups {
		if g.rn == nil {
			if !g.isMember() { // qremote.go, qforward.go
				l.feedTick(g)
				l.forwardTick(g, now)
			}
			continue
		}
		g.rn.Tick()
		st := g.rn.BasicStatus()
		lead := st.Lead
		for id, b := range g.inflight {
			if now.After(b.deadline) && !g.expire(b, l.n.queueTimeout(g)) {
				delete(g.inflight, id)
			}
		}
		g.dropped = slices.DeleteFunc(g.dropped, func(b *qbatch) bool {
			return now.After(b.deadline) && !g.expire(b, l.n.queueTimeout(g))
		})
		l.feedTick(g) // qremote.go: consumers here fed by the leader
		l.catchUp(g, lead, st.HardState.GetTerm())
		l.resendStalled(g, now) // qseq.go
	}
}

// queueTimeout nacks a publish not committed in time: no quorum of the
// queue's members, most likely.
func (n *Node) queueTimeout(g *qgroup) error {
	return amqp.Errorf(amqp.InternalError, "cluster: a publish to quorum queue '%s' in vhost '%s' was not committed in time (no quorum of its %d members reachable from node '%s'?)", g.name, g.vhost, len(g.members), n.cfg.Name)
}

// stepGroup steps a received message into its group; one for a group
// this node does not run (not created here yet, or deleted) is dropped:
// raft sends again.
func (l *loop) stepGroup(m groupMsg) {
	g := l.groups[m.group]
	if g == nil || g.rn == nil && !l.adoptMoved(g, m.msg) { // qmove.go
		return
	}
	if m.msg.GetType() == pb.MessageType_MsgTransferLeader && g.leading {
		if q := g.q.Load(); q != nil {
			if _, consumers := q.Counts(); consumers > 0 {
				return // this leader's consumers keep it
			}
		}
	}
	if err := g.rn.Step(m.msg); err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) && !errors.Is(err, raft.ErrStepLocalMsg) {
		l.n.log.Debug("cluster: step", zap.Uint64("group", m.group), zap.Error(err))
	}
}

// snapshotGroups starts a snapshot of each group's state once
// QueueSnapshotEntries entries were applied since its last snapshot
// (qsnap.go), which drops its log up to CatchUpEntries behind: the
// snapshot holds every message not settled, so a message left
// unacknowledged does not keep the log from being compacted. Then it
// publishes each group's status.
//
// A snapshot is the whole state (1 GB for a million 1 KiB messages): it
// waits also until the entries applied since the last one hold half its
// bytes, so snapshots cost at most twice what the log takes in, and the
// log at most half the state besides.
func (l *loop) snapshotGroups() {
	for _, g := range l.groups {
		if g.rn == nil {
			continue
		}
		if !g.snapping && (g.applied-g.snapIndex >= l.n.cfg.QueueSnapshotEntries && g.logBytes >= g.snapBytes/2 || g.snapNow && g.applied > g.snapIndex) { // qmove.go: snapNow
			g.snapNow = false
			l.startSnapshot(g) // qsnap.go
		}
		st := g.rn.BasicStatus()
		l.logStuck(g, st)
		first, _ := g.g.FirstIndex()
		g.setStatus(QueueStatus{Group: g.id, Leader: l.n.names[st.Lead], Members: l.n.nameList(g.conf.GetVoters()), Member: true,
			Term: st.HardState.GetTerm(), Commit: st.HardState.GetCommit(), Applied: g.applied,
			SnapshotIndex: g.snapIndex, FirstIndex: first, Messages: len(g.st.msgs),
			PendingBytes: g.pending.Load(), MaxPendingBytes: g.maxPending.Load(), SnapshotBorrowed: g.st.borrowed()})
	}
}

func (g *qgroup) setStatus(s QueueStatus) {
	g.mu.Lock()
	g.mu.status = s
	g.mu.Unlock()
}

// nameList names node ids, sorted.
func (n *Node) nameList(ids []uint64) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, n.names[id])
	}
	slices.Sort(out)
	return out
}

// logStuck logs, once per stuckLogTicks ticks, a group whose publishes
// here have waited that long: its leader, term, commit and applied
// indexes, what waits, and (on the leader) every follower's progress,
// so that a stall under faults can be read from the nodes' logs.
func (l *loop) logStuck(g *qgroup, st raft.BasicStatus) {
	if l.ticks%stuckLogTicks != 0 || l.ticks == g.stuckLogged || len(g.inflight)+len(g.dropped) == 0 {
		return
	}
	g.stuckLogged = l.ticks
	oldest := time.Time{}
	for _, b := range g.inflight {
		if oldest.IsZero() || b.deadline.Before(oldest) {
			oldest = b.deadline
		}
	}
	for _, b := range g.dropped {
		if oldest.IsZero() || b.deadline.Before(oldest) {
			oldest = b.deadline
		}
	}
	waited := time.Since(oldest.Add(-l.n.cfg.ProposeTimeout))
	if waited < time.Duration(stuckLogTicks)*l.n.cfg.Tick {
		return
	}
	fields := []zap.Field{zap.String("queue", g.name), zap.String("leader", l.n.names[st.Lead]), zap.Uint64("proposed_to", g.proposedLead),
		zap.String("state", st.RaftState.String()), zap.Uint64("term", st.HardState.GetTerm()), zap.Uint64("commit", st.HardState.GetCommit()), zap.Uint64("applied", g.applied),
		zap.Int("inflight", len(g.inflight)), zap.Int("dropped", len(g.dropped)), zap.Duration("oldest_waited", waited),
		zap.Int64("pending_bytes", g.pending.Load())}
	if st.RaftState == raft.StateLeader {
		for id, pr := range g.rn.Status().Progress {
			fields = append(fields, zap.String("progress_"+l.n.names[id], pr.String()))
		}
	}
	l.n.log.Info("cluster: quorum queue publishes waiting", fields...)
}

// stuckLogTicks: how long publishes wait before logStuck tells (and how
// often it tells again).
const stuckLogTicks = 30
