package cluster

import (
	"encoding/binary"
	"errors"
	"slices"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/storage/raftlog"
)

// A proposal's entry (doc.go: Wire format):
//
//	version u8 (1) | proposer node id u64 BE | proposal id u64 BE | command
const proposalVersion = 1

func encodeProposal(node, id uint64, cmd []byte) []byte {
	b := make([]byte, 0, 17+len(cmd))
	b = append(b, proposalVersion)
	b = binary.BigEndian.AppendUint64(b, node)
	b = binary.BigEndian.AppendUint64(b, id)
	return append(b, cmd...)
}

func decodeProposal(b []byte) (node, id uint64, cmd []byte, err error) {
	if len(b) < 17 || b[0] != proposalVersion {
		return 0, 0, nil, errors.New("cluster: not a proposal of this version")
	}
	return binary.BigEndian.Uint64(b[1:]), binary.BigEndian.Uint64(b[9:]), b[17:], nil
}

// loop is the Raft loop of the metadata group: the one goroutine that
// owns the RawNode. Each round: tick, step received messages, propose;
// then for each Ready: persist (one raftlog Batch, one fsync), send,
// install a snapshot, apply the committed entries through the broker,
// Advance; then snapshot when enough was applied.
type loop struct {
	n  *Node
	rn *raft.RawNode
	b  *broker.Broker

	parked []parkedGet // qget.go: gets waiting for their node's earlier operations

	applied, snapIndex uint64
	savedApplied       uint64        // the applied index on disk
	hard, savedHard    *pb.HardState // the latest; the one on disk
	conf               *pb.ConfState
	confDirty          bool
	dropped            []proposal // dropped for want of a leader: retried at each tick

	// inflight are this node's proposals handed to raft and not applied
	// yet, by id; lead is the leader they went to. Raft loses a proposal
	// forwarded to a leader that then fails, silently: when the leader
	// changes, the loop proposes the inflight ones again (reproposeOnNewLeader).
	inflight map[uint64]proposal
	lead     uint64
	// seen dedupes entries by (proposer, proposal id) at apply, the same on
	// every node since all apply one log in order: a re-proposed command
	// whose first copy was committed after all is applied once. An id is
	// kept for seenWindow applied entries.
	seen seenSet
	// wrote: persistInto added the metadata group's writes to the
	// round's batch.
	wrote bool

	// groups are the quorum queues' groups (qloop.go), by id.
	groups map[uint64]*qgroup

	// Membership (membership.go): the address book, saved with the conf
	// state; removed once this node applied its own removal (the loop
	// stops); the rest is per request and rate limits, by tick.
	book    *book
	removed bool
	snapNow bool // a node was added to a compacted log: snapshot now

	ticks        uint64
	joining      map[uint64]bool
	leaving      map[uint64]bool
	confProposed map[[2]uint64]uint64 // (type, node) -> tick proposed
	noticed      map[uint64]uint64    // removed node -> tick last told

	// storeApplied is the applied index the broker's store had at start
	// (applied.go): commands up to it are in the store already.
	storeApplied uint64
	memberCache  members // status.go

	metaFailover *failover // failover.go: the metadata group's election after its leader's node went down
}

// seenWindow is how many applied entries a proposal id is remembered for:
// a re-proposal lands within seconds, far fewer entries than this.
const seenWindow = 1 << 14

func (l *loop) run() {
	defer close(l.n.done)
	defer l.stopGroups()
	t := time.NewTicker(l.n.cfg.Tick)
	defer t.Stop()
	l.savedApplied = l.applied
	l.adoptGroups()
	for {
		select {
		case <-l.n.stop:
			return
		case <-t.C:
			l.rn.Tick()
			l.ticks++
			l.promoteLearners() // membership.go
			l.retryDropped()
			l.reproposeOnNewLeader()
			l.tickGroups()
			l.tickFailovers() // failover.go
			l.tickMoves()     // qmove.go
			if !l.rn.HasReady() && (l.applied != l.savedApplied || l.confDirty) {
				if !l.persist(nil, true) {
					return
				}
			}
		case m := <-l.n.recvc:
			l.stepAny(m)
		case p := <-l.n.propc:
			l.propose(p)
		case <-l.n.kick:
		case f := <-l.n.ctlc:
			f(l) // membership.go: Join, Leave, notices
		case r := <-l.n.reportc:
			l.reportAny(r)
		}
		// Take what else is waiting before the next Ready, so one fsync
		// covers it all.
	more:
		for range 256 {
			select {
			case m := <-l.n.recvc:
				l.stepAny(m)
			case p := <-l.n.propc:
				l.propose(p)
			default:
				break more
			}
		}
		l.takeLinkFails() // node.go
		l.adoptGroups()
		l.proposeGroups()
		for range 8 {
			if !l.anyReady() {
				break
			}
			if !l.readyRound() {
				return
			}
		}
		l.serveParked()   // qget.go
		l.feedSend()      // qremote.go
		l.afterFailover() // failover.go
		if l.anyReady() {
			// More to do (a restarted node applying its log, 1 MiB of
			// committed entries per Ready): come back at once, after
			// what else waits, not at the next tick or message.
			l.n.kickLoop()
		}
		l.maybeSnapshot()
		l.snapshotGroups()
		l.rehomeGroups() // qrehome.go
		l.updateStatus()
		if l.removed { // membership.go: this node applied its own removal
			l.persist(nil, true)
			return
		}
	}
}

// stepAny steps a received message into its group.
func (l *loop) stepAny(m groupMsg) {
	if m.group == metaGroup {
		l.step(m.msg)
		return
	}
	l.stepGroup(m)
}

// reportAny hands a transport report to raft: an unreachable peer to
// every group, a snapshot's fate to its group.
func (l *loop) reportAny(r report) {
	switch { // failover.go
	case r.lost:
		l.n.tr.probe(r.to)
		return
	case r.down:
		l.peerDown(r.to)
		return
	}
	if r.snapshot {
		st := raft.SnapshotFailure
		if r.ok {
			st = raft.SnapshotFinish
		}
		if r.group == metaGroup {
			l.rn.ReportSnapshot(r.to, st)
		} else if g := l.groups[r.group]; g != nil && g.rn != nil {
			g.rn.ReportSnapshot(r.to, st)
		}
		return
	}
	l.rn.ReportUnreachable(r.to)
	l.feedLinkFailed(r.to) // qremote.go
	for _, g := range l.groups {
		if g.rn != nil {
			g.rn.ReportUnreachable(r.to)
		}
	}
}

func (l *loop) step(m *pb.Message) {
	l.noticeIfRemoved(m) // membership.go
	if err := l.rn.Step(m); err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) && !errors.Is(err, raft.ErrStepLocalMsg) {
		l.n.log.Debug("cluster: step", zap.Error(err))
	}
}

func (l *loop) propose(p proposal) {
	if p.ctx.Err() != nil {
		delete(l.inflight, p.id)
		return
	}
	err := l.rn.Propose(p.data)
	if errors.Is(err, raft.ErrProposalDropped) {
		l.dropped = append(l.dropped, p) // no leader yet
		return
	}
	if err == nil {
		if l.inflight == nil {
			l.inflight = map[uint64]proposal{}
		}
		l.inflight[p.id] = p
	}
}

// reproposeOnNewLeader proposes this node's inflight proposals again when
// the leader has changed since they were made: one forwarded to a leader
// that failed before appending it is lost, and its proposer would wait
// for nothing until its deadline. apply drops the second copy of one that
// was committed after all.
func (l *loop) reproposeOnNewLeader() {
	for id, p := range l.inflight {
		if p.ctx.Err() != nil {
			delete(l.inflight, id) // its proposer gave up
		}
	}
	lead := l.rn.BasicStatus().Lead
	if lead == l.lead {
		return
	}
	l.lead = lead
	if lead == raft.None || len(l.inflight) == 0 {
		return
	}
	ps := make([]proposal, 0, len(l.inflight))
	for _, p := range l.inflight {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b proposal) int { return cmpUint64(a.id, b.id) })
	for _, p := range ps {
		l.propose(p)
	}
}

func cmpUint64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// seenSet remembers the (proposer, id) of the entries a group applied,
// for seenWindow entries, so that a re-proposal's second copy is skipped.
type seenSet map[[2]uint64]uint64

// dup reports whether the entry of (node, id) at index was applied before,
// and remembers it; ids older than seenWindow entries are forgotten.
func (s *seenSet) dup(node, id, index uint64) bool {
	if *s == nil {
		*s = seenSet{}
	}
	k := [2]uint64{node, id}
	if _, ok := (*s)[k]; ok {
		return true
	}
	(*s)[k] = index
	if len(*s) > 2*seenWindow {
		for k, at := range *s {
			if at+seenWindow < index {
				delete(*s, k)
			}
		}
	}
	return false
}

func (l *loop) retryDropped() {
	if len(l.dropped) == 0 {
		return
	}
	if l.rn.BasicStatus().Lead == raft.None {
		// Still none: forget those whose proposers gave up.
		l.dropped = slices.DeleteFunc(l.dropped, func(p proposal) bool { return p.ctx.Err() != nil })
		return
	}
	ps := l.dropped
	l.dropped = nil
	for _, p := range ps {
		l.propose(p)
	}
}

// persist writes rd's log changes (nil: none) with the latest hard state,
// and the applied index and configuration if they changed, in one Batch
// (one fsync). A Ready that only moves the commit index writes nothing
// (raft.MustSync: the commit index can be learnt again from the leader);
// force writes even then (the tick's save of the applied index). The
// hard state always goes with the applied index, so the commit index on
// disk is never behind the applied one (raft refuses to start so).
func (l *loop) persist(rd *raft.Ready, force bool) bool {
	b := l.n.store.NewBatch()
	if !l.persistInto(b, rd, force) {
		return true
	}
	if err := b.Commit(); err != nil {
		// The log cannot be trusted to be on disk: this node must not
		// go on acknowledging entries.
		l.n.log.Error("cluster: the Raft log cannot be written; the node stops replicating", zap.Error(err))
		return false
	}
	l.persisted(rd)
	return true
}

// persistInto adds what persist writes to b, the round's batch shared by
// every group (qloop.go readyRound); false if there is nothing to write.
func (l *loop) persistInto(b *raftlog.Batch, rd *raft.Ready, force bool) bool {
	g := l.n.group
	snap := rd != nil && !raft.IsEmptySnap(rd.Snapshot)
	if rd != nil && rd.HardState != nil && !raft.IsEmptyHardState(rd.HardState) {
		l.hard = rd.HardState
	}
	sync := rd != nil && (len(rd.Entries) > 0 || snap || raft.MustSync(l.hard, l.savedHard, 0))
	if !sync && !force {
		return false
	}
	if snap {
		// Installed (install) before anything else is applied: the
		// applied index never falls behind the log's first index.
		b.ApplySnapshot(g, rd.Snapshot)
		b.SetApplied(g, rd.Snapshot.GetMetadata().GetIndex())
	} else if l.applied != l.savedApplied {
		b.SetApplied(g, l.applied)
	}
	if rd != nil {
		b.Append(g, rd.Entries)
	}
	b.SetHardState(g, l.hard)
	if l.confDirty {
		b.SetConfState(g, l.conf)
		b.SetMeta(g, l.bookBytes()) // membership.go: the address book with it
	}
	l.wrote = true
	return true
}

// persisted records what persistInto wrote, once its batch committed.
func (l *loop) persisted(rd *raft.Ready) {
	if !l.wrote {
		return
	}
	l.wrote = false
	l.savedHard, l.confDirty = l.hard, false
	if rd != nil && !raft.IsEmptySnap(rd.Snapshot) {
		l.savedApplied = rd.Snapshot.GetMetadata().GetIndex()
	} else {
		l.savedApplied = l.applied
	}
}

// ready handles the metadata group's Ready once persisted: send,
// install, apply, Advance.
func (l *loop) ready(rd raft.Ready) {
	l.n.tr.send(metaGroup, rd.Messages)
	if !raft.IsEmptySnap(rd.Snapshot) {
		l.install(rd.Snapshot)
	}
	for _, e := range rd.CommittedEntries {
		l.apply(e)
	}
	l.rn.Advance(rd)
}

// install makes the broker's definitions the snapshot's.
func (l *loop) install(s *pb.Snapshot) {
	md := s.GetMetadata()
	if err := l.b.RestoreDefinitions(l.installBook(s.GetData())); err != nil {
		l.n.log.Error("cluster: installing a snapshot", zap.Uint64("index", md.GetIndex()), zap.Error(err))
	}
	l.markApplied(md.GetIndex()) // applied.go
	l.applied, l.snapIndex = md.GetIndex(), md.GetIndex()
	l.conf, l.confDirty = proto.Clone(md.GetConfState()).(*pb.ConfState), true
	l.n.log.Info("cluster: installed a snapshot", zap.Uint64("index", md.GetIndex()))
}

func (l *loop) apply(e *pb.Entry) {
	if e.GetIndex() <= l.applied {
		return
	}
	l.applied = e.GetIndex()
	switch e.GetType() {
	case pb.EntryNormal:
		if len(e.GetData()) == 0 {
			return // a new leader's empty entry
		}
		node, id, raw, err := decodeProposal(e.GetData())
		if err != nil {
			l.n.log.Error("cluster: an entry that is no proposal", zap.Uint64("index", e.GetIndex()), zap.Error(err))
			return
		}
		if node == l.n.id {
			delete(l.inflight, id)
		}
		if l.seen.dup(node, id, e.GetIndex()) {
			return // a re-proposal's second copy (reproposeOnNewLeader)
		}
		if e.GetIndex() <= l.storeApplied {
			return // applied.go: in the broker's store before a restart
		}
		var r result
		vhost, cmd, err := broker.DecodeCommand(raw)
		if err != nil {
			// A newer node's command: this node cannot apply it.
			l.n.log.Error("cluster: a command this node cannot decode", zap.Uint64("index", e.GetIndex()), zap.Error(err))
			r.err = err
		} else {
			r.res, r.err = l.b.ApplyLocal(vhost, cmd)
			l.markApplied(e.GetIndex()) // applied.go
		}
		if node == l.n.id {
			l.n.finish(id, r)
		}
	case pb.EntryConfChange:
		var cc pb.ConfChange
		if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
			l.n.log.Error("cluster: a bad conf change", zap.Error(err))
			return
		}
		l.applyConfChange(e.GetIndex(), &cc) // membership.go
	case pb.EntryConfChangeV2:
		var cc pb.ConfChangeV2
		if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
			l.n.log.Error("cluster: a bad conf change", zap.Error(err))
			return
		}
		l.conf, l.confDirty = l.rn.ApplyConfChange(&cc), true
	}
}

// maybeSnapshot snapshots the definitions when SnapshotEntries entries
// were applied since the last snapshot, and drops the log behind it but
// CatchUpEntries.
func (l *loop) maybeSnapshot() {
	if l.applied-l.snapIndex < l.n.cfg.SnapshotEntries && !(l.snapNow && l.applied > l.snapIndex) {
		return
	}
	l.snapNow = false
	data, err := broker.MarshalDefinitions(l.b.Export(""))
	if err != nil {
		l.n.log.Error("cluster: exporting definitions for a snapshot", zap.Error(err))
		return
	}
	g := l.n.group
	b := l.n.store.NewBatch()
	b.CreateSnapshot(g, l.applied, l.conf, encodeSnapshotData(l.book, data)) // membership.go: with the address book
	keep := uint64(max(l.n.cfg.CatchUpEntries, 0))
	if first, _ := g.FirstIndex(); l.applied > keep && l.applied-keep >= first {
		b.Compact(g, l.applied-keep)
	}
	b.SetApplied(g, l.applied) // never behind the first index
	b.SetHardState(g, l.hard)  // nor the commit index behind it
	if err := b.Commit(); err != nil {
		l.n.log.Error("cluster: snapshot", zap.Uint64("index", l.applied), zap.Error(err))
		return
	}
	l.snapIndex, l.savedApplied, l.savedHard = l.applied, l.applied, l.hard
	l.n.log.Debug("cluster: snapshot", zap.Uint64("index", l.applied), zap.Int("bytes", len(data)))
}

func (l *loop) updateStatus() {
	st := l.rn.BasicStatus()
	first, _ := l.n.group.FirstIndex()
	s := Status{Name: l.n.cfg.Name, Leader: l.n.names[st.Lead], Term: st.HardState.GetTerm(), Commit: st.HardState.GetCommit(),
		Applied: l.applied, SnapshotIndex: l.snapIndex, FirstIndex: first}
	l.fillMembers(&s, st) // status.go
	l.n.mu.Lock()
	l.n.mu.status = s
	l.n.mu.Unlock()
}
