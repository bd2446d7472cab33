package cluster

import (
	"slices"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
)

// Moving quorum queue members (doc.go: Quorum queues: members move). A
// group's members are chosen at declaration among the cluster's nodes
// (memberIDs); afterwards the group's own configuration, in its log, is
// the truth. When a node leaves the cluster (its removal applied to the
// metadata group), each group it was a member of gets a replacement,
// driven by the group's leader, one Raft conf change at a time:
//
//	1. add a node of the cluster outside the group as a learner (the
//	   first by the group's rendezvous order among those running);
//	2. promote it to voter once its log is within promoteLag of the
//	   commit index;
//	3. remove the departed node.
//
// With no node to take its place the departed node is removed alone and
// the group shrinks. A node that is added learns it from the leader's
// first message for the group (an append, a heartbeat or a snapshot): it
// starts the group then, without bootstrapping (adoptMoved), and keeps
// it at its next start (its log says so: startGroup). New queues are
// placed among the cluster's current nodes (placementNodes): a node that
// joined takes its share, one that left takes none.

// moveEveryTicks is how often a leader looks at its group's members.
const moveEveryTicks = 5

// placementNodes are the nodes a new quorum queue's members are chosen
// among: every node named, less those removed from the cluster. Read
// when a declare is applied (on the loop) or at start: the same on every
// node at the same log index.
func (n *Node) placementNodes() []uint64 {
	nodes := make([]uint64, 0, len(n.names))
	for id, name := range n.names {
		if n.book != nil && slices.Contains(n.book.Removed, name) {
			continue
		}
		nodes = append(nodes, id)
	}
	return nodes
}

// isMember reports whether this node is a member of g's group: chosen at
// declaration, or added since (a move).
func (g *qgroup) isMember() bool { return g.member || g.joined.Load() }

// inCluster reports whether id is a member (voter or learner) of the
// metadata group.
func (l *loop) inCluster(id uint64) bool { return isVoter(l.conf, id) || isLearner(l.conf, id) }

// tickMoves runs a step of the moves of every group this node leads.
func (l *loop) tickMoves() {
	if l.ticks%moveEveryTicks != 0 {
		return
	}
	for _, g := range l.groups {
		if g.rn != nil && g.leading {
			l.moveStep(g)
		}
	}
}

// moveStep proposes g's next conf change, if it needs one: a departed
// learner is dropped; a learner that has caught up is promoted; while
// one catches up nothing else happens; a departed voter is replaced
// (while the live voters are fewer than the group's size) and then
// removed.
func (l *loop) moveStep(g *qgroup) {
	st := g.rn.Status()
	if st.RaftState != raft.StateLeader {
		return
	}
	voters, learners := g.conf.GetVoters(), g.conf.GetLearners()
	for _, id := range learners {
		if !l.inCluster(id) {
			l.proposeGroupConf(g, pb.ConfChangeType_ConfChangeRemoveNode, id)
			return
		}
	}
	for _, id := range learners {
		if pr, ok := st.Progress[id]; ok && pr.Match+promoteLag >= st.HardState.GetCommit() {
			l.proposeGroupConf(g, pb.ConfChangeType_ConfChangeAddNode, id)
			return
		}
	}
	if len(learners) > 0 {
		return // a replacement is catching up
	}
	var gone []uint64
	for _, id := range voters {
		if id != l.n.id && !l.inCluster(id) {
			gone = append(gone, id)
		}
	}
	if len(gone) == 0 {
		return
	}
	if len(voters)-len(gone) < len(g.members) {
		if r, ok := l.replacement(g); ok {
			l.n.log.Info("cluster: a quorum queue member left the cluster: adding a replacement", zap.String("queue", g.name),
				zap.String("left", l.n.names[gone[0]]), zap.String("replacement", l.n.names[r]))
			l.proposeGroupConf(g, pb.ConfChangeType_ConfChangeAddLearnerNode, r)
			return
		}
	}
	l.n.log.Info("cluster: removing a member that left the cluster from a quorum queue", zap.String("queue", g.name), zap.String("node", l.n.names[gone[0]]))
	l.proposeGroupConf(g, pb.ConfChangeType_ConfChangeRemoveNode, gone[0])
}

// replacement is the node to add in the place of a departed member: the
// first, in the group's rendezvous order, of the cluster's voters that
// are running and not in the group.
func (l *loop) replacement(g *qgroup) (uint64, bool) {
	var cands []uint64
	for _, id := range l.conf.GetVoters() {
		if id == l.n.id || isVoter(g.conf, id) || isLearner(g.conf, id) {
			continue
		}
		if !l.n.tr.heardWithin(id, aliveWithin) {
			continue
		}
		cands = append(cands, id)
	}
	if len(cands) == 0 {
		return 0, false
	}
	return memberIDs(g.id, cands, 1)[0], true
}

// proposeGroupConf proposes one conf change to g, at most once per
// election timeout for the same change (raft takes one at a time and
// drops a second one while the first is pending).
func (l *loop) proposeGroupConf(g *qgroup, t pb.ConfChangeType, id uint64) {
	key := [2]uint64{uint64(t), id}
	if at, ok := g.confProposed[key]; ok && l.ticks < at+uint64(l.n.cfg.ElectionTicks) {
		return
	}
	if g.confProposed == nil {
		g.confProposed = map[[2]uint64]uint64{}
	}
	g.confProposed[key] = l.ticks
	cc := &pb.ConfChange{Type: t.Enum(), NodeId: new(id)}
	if err := g.rn.ProposeConfChange(cc); err != nil {
		l.n.log.Debug("cluster: a quorum queue conf change", zap.String("queue", g.name), zap.Error(err))
	}
}

// groupConfChanged follows a conf change applied to g: a node added to a
// group whose log was compacted needs a snapshot that names it (raft
// refuses one that does not), so g snapshots at once.
func (l *loop) groupConfChanged(g *qgroup, cc *pb.ConfChange) {
	if cc.GetType() == pb.ConfChangeType_ConfChangeAddLearnerNode && g.snapIndex > 0 {
		g.snapNow = true
	}
	if g.applied <= uint64(len(g.members)) {
		return // the bootstrap's
	}
	l.n.log.Info("cluster: quorum queue members changed", zap.String("queue", g.name), zap.String("change", cc.GetType().String()),
		zap.String("node", l.n.names[cc.GetNodeId()]), zap.Strings("voters", l.n.nameList(g.conf.GetVoters())))
}

// adoptMoved starts g here when its leader has added this node to it
// (its first message for the group arrives while this node has no
// RawNode for it): no bootstrap, the leader sends the log or a snapshot.
// It reports whether g runs now.
func (l *loop) adoptMoved(g *qgroup, m *pb.Message) bool {
	switch m.GetType() {
	case pb.MessageType_MsgApp, pb.MessageType_MsgHeartbeat, pb.MessageType_MsgSnap:
	default:
		return false
	}
	if g.gone.Load() || l.groups[g.id] != g {
		return false
	}
	g.joined.Store(true)
	l.startGroup(g)
	if g.rn == nil {
		return false
	}
	l.n.log.Info("cluster: this node was added to a quorum queue's group", zap.String("queue", g.name), zap.String("leader", l.n.names[m.GetFrom()]))
	return true
}

// movedHere reports whether this node, not chosen at g's declaration,
// holds a log for g (a move added it before a restart).
func (l *loop) movedHere(g *qgroup) bool {
	rg, err := l.n.store.Group(g.id)
	if err != nil {
		return false
	}
	last, _ := rg.LastIndex()
	snap, _ := rg.Snapshot()
	if last == 0 && raft.IsEmptySnap(snap) {
		return false
	}
	g.joined.Store(true)
	return true
}
