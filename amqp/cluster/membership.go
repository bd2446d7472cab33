package cluster

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
)

// Membership changes (doc.go: Membership): a node is added as a learner,
// promoted to voter by the leader once it has caught up, and removed;
// one Raft configuration change at a time. Every change carries the
// node's name and peer address in its context (memberInfo), so that every
// node learns the address book from the log; the book is saved with the
// conf state (raftlog's meta record) and carried in snapshots.

// Errors of Join and Leave; the management API maps them to HTTP codes.
var (
	ErrMemberExists = errors.New("already a member")
	ErrNotMember    = errors.New("not a member")
	ErrLastVoter    = errors.New("the last voter")
	ErrInvalid      = errors.New("invalid member")
	// ErrRemoved: this node was removed from the cluster; its Raft stopped.
	ErrRemoved = errors.New("this node was removed from the cluster")
)

// controlGroup is the peer link's own group: its messages are for the
// link, not for a Raft group. A message whose Context is noticeRemoved
// tells its receiver that the cluster removed it (at Index).
const controlGroup = 0

var noticeRemoved = []byte("removed")

// promoteLag: a learner whose log matches the leader's to within this
// many entries of the commit index is promoted to voter.
const promoteLag = 8

// memberInfo is a conf change's context: the node it is about.
type memberInfo struct {
	Name string `json:"name"`
	Addr string `json:"addr,omitempty"`
}

// book is the address book: every node the group has named, with its
// peer address, and those removed. JSON in raftlog's meta record and in
// snapshots.
type book struct {
	Addrs   map[string]string `json:"addrs"`
	Removed []string          `json:"removed,omitempty"`
}

// A snapshot's data (doc.go: Snapshots): magic, the book's length, the
// book, the definitions. Data without the magic is definitions alone.
const snapMagic = "WRNS\x01"

func encodeSnapshotData(bk *book, defs []byte) []byte {
	raw, _ := json.Marshal(bk)
	b := append([]byte(snapMagic), binary.AppendUvarint(nil, uint64(len(raw)))...)
	b = append(b, raw...)
	return append(b, defs...)
}

func decodeSnapshotData(data []byte) (*book, []byte, error) {
	if !bytes.HasPrefix(data, []byte(snapMagic)) {
		return nil, data, nil
	}
	rest := data[len(snapMagic):]
	n, k := binary.Uvarint(rest)
	if k <= 0 || n > uint64(len(rest)-k) {
		return nil, nil, errors.New("cluster: a snapshot with a truncated address book")
	}
	bk := &book{}
	if err := json.Unmarshal(rest[k:k+int(n)], bk); err != nil {
		return nil, nil, fmt.Errorf("cluster: a snapshot's address book: %w", err)
	}
	return bk, rest[k+int(n):], nil
}

// validMember checks a name and address given to Join.
func validMember(name, addr string) error {
	if name == "" {
		return fmt.Errorf("%w: a node needs a name", ErrInvalid)
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return fmt.Errorf("%w: node '%s': peer address %q is not HOST:PORT", ErrInvalid, name, addr)
	}
	return nil
}

func isVoter(cs *pb.ConfState, id uint64) bool   { return slices.Contains(cs.GetVoters(), id) }
func isLearner(cs *pb.ConfState, id uint64) bool { return slices.Contains(cs.GetLearners(), id) }

// inLoop runs f on the Raft loop's goroutine and waits for it.
func (n *Node) inLoop(ctx context.Context, f func(*loop)) error {
	if !n.started.Load() {
		return ErrStopped
	}
	done := make(chan struct{})
	select {
	case n.ctlc <- func(l *loop) { f(l); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-n.done:
		return n.stoppedErr()
	}
	select {
	case <-done:
		return nil
	case <-n.done:
		return n.stoppedErr()
	}
}

// stoppedErr is why the loop is not running.
func (n *Node) stoppedErr() error {
	if n.Status().Removed {
		return ErrRemoved
	}
	return ErrStopped
}

// Join adds the node name, listening for the peer link on addr, to the
// cluster: as a learner first, then (the leader decides) a voter once its
// log has caught up. It returns once name is a voter, or with ctx's
// error (it stays a learner, and is promoted when it catches up). A name
// already a voter is ErrMemberExists; a learner is waited for.
func (n *Node) Join(ctx context.Context, name, addr string) error {
	if err := validMember(name, addr); err != nil {
		return err
	}
	id := NodeID(name)
	for {
		var done bool
		var err error
		if lerr := n.inLoop(ctx, func(l *loop) { done, err = l.joinStep(id, name, addr) }); lerr != nil {
			return lerr
		}
		if err != nil || done {
			return err
		}
		select {
		case <-time.After(n.cfg.Tick): // poll: the change commits, the learner catches up
		case <-ctx.Done():
			return fmt.Errorf("node '%s' was added as a learner but is not a voter yet (is it running, started with --cluster-join? it is promoted once it has caught up): %w", name, ctx.Err())
		}
	}
}

// joinStep is one round of Join on the loop: done once id is a voter.
// The first call (and one per election timeout while the change has not
// committed) proposes adding id as a learner.
func (l *loop) joinStep(id uint64, name, addr string) (bool, error) {
	if other, ok := l.n.names[id]; ok && other != name {
		return false, fmt.Errorf("%w: node names '%s' and '%s' have the same id; choose another name", ErrInvalid, name, other)
	}
	switch {
	case isVoter(l.conf, id):
		if !l.joining[id] {
			return false, fmt.Errorf("%w: node '%s' is already a member of the cluster", ErrMemberExists, name)
		}
		delete(l.joining, id)
		return true, nil
	case isLearner(l.conf, id):
		if l.n.names[id] == name && l.book.Addrs[name] != addr {
			return false, fmt.Errorf("%w: node '%s' is joining with peer address %s, not %s", ErrMemberExists, name, l.book.Addrs[name], addr)
		}
		l.joining[id] = true
		return false, nil // the leader promotes it (promoteLearners)
	}
	l.joining[id] = true
	l.proposeConf(pb.ConfChangeType_ConfChangeAddLearnerNode, id, memberInfo{Name: name, Addr: addr})
	return false, nil
}

// Leave removes the node name from the cluster and returns once the
// change is applied here. A leader is asked to hand its leadership to
// another voter first. Refused: a name that is no member
// (ErrNotMember), the last voter (ErrLastVoter).
func (n *Node) Leave(ctx context.Context, name string) error {
	id := NodeID(name)
	for {
		var done bool
		var err error
		if lerr := n.inLoop(ctx, func(l *loop) { done, err = l.leaveStep(id, name) }); lerr != nil {
			if errors.Is(lerr, ErrRemoved) && name == n.cfg.Name {
				return nil // this node left: its loop stopped on applying it
			}
			return lerr
		}
		if err != nil || done {
			return err
		}
		select {
		case <-time.After(n.cfg.Tick):
		case <-ctx.Done():
			return fmt.Errorf("node '%s' was not removed in time (no quorum?): %w", name, ctx.Err())
		}
	}
}

func (l *loop) leaveStep(id uint64, name string) (bool, error) {
	member := isVoter(l.conf, id) || isLearner(l.conf, id)
	if !member || l.n.names[id] != name {
		if l.leaving[id] {
			delete(l.leaving, id)
			return true, nil
		}
		return false, fmt.Errorf("%w: node '%s' is not a member of the cluster (members: %v)", ErrNotMember, name, l.memberNames())
	}
	if isVoter(l.conf, id) && len(l.conf.GetVoters()) == 1 {
		return false, fmt.Errorf("%w: node '%s' is the cluster's last voter; it cannot leave", ErrLastVoter, name)
	}
	l.leaving[id] = true
	if st := l.rn.BasicStatus(); st.Lead == id {
		// A leader removing itself would leave its followers to learn
		// of the commit from an election: hand leadership over first.
		k := [2]uint64{transferKey, id}
		if at, ok := l.confProposed[k]; ok && l.ticks < at+uint64(l.n.cfg.ElectionTicks) {
			return false, nil
		}
		l.confProposed[k] = l.ticks
		for _, v := range l.conf.GetVoters() {
			if v != id {
				l.n.log.Info("cluster: the leader leaves: handing leadership over first", zap.String("node", name), zap.String("to", l.n.names[v]))
				l.rn.TransferLeader(v)
				break
			}
		}
		return false, nil
	}
	l.proposeConf(pb.ConfChangeType_ConfChangeRemoveNode, id, memberInfo{Name: name})
	return false, nil
}

// transferKey marks a leadership transfer in loop.confProposed.
const transferKey = 1 << 32

// proposeConf proposes a conf change, at most once per election timeout
// for one node: raft drops one made while another is pending (or with
// no leader), and the caller's next round proposes it again.
func (l *loop) proposeConf(t pb.ConfChangeType, id uint64, m memberInfo) {
	k := [2]uint64{uint64(t), id}
	if at, ok := l.confProposed[k]; ok && l.ticks < at+uint64(l.n.cfg.ElectionTicks) {
		return
	}
	l.confProposed[k] = l.ticks
	ctx, _ := json.Marshal(m)
	cc := &pb.ConfChange{Type: t.Enum(), NodeId: new(id), Context: ctx}
	if err := l.rn.ProposeConfChange(cc); err != nil {
		l.n.log.Debug("cluster: conf change not proposed", zap.Stringer("type", t), zap.String("node", m.Name), zap.Error(err))
	}
}

// promoteLearners runs at each tick: the leader proposes to promote one
// learner whose log has caught up to within promoteLag of the commit
// index.
func (l *loop) promoteLearners() {
	if len(l.conf.GetLearners()) == 0 {
		return
	}
	st := l.rn.Status()
	if st.RaftState != raft.StateLeader {
		return
	}
	for _, id := range l.conf.GetLearners() {
		pr, ok := st.Progress[id]
		if !ok || pr.Match+promoteLag < st.HardState.GetCommit() {
			continue
		}
		name := l.n.names[id]
		l.proposeConf(pb.ConfChangeType_ConfChangeAddNode, id, memberInfo{Name: name, Addr: l.book.Addrs[name]})
		return // one at a time
	}
}

// applyConfChange applies a committed conf change: the address book
// first (so that raft's messages to a new node have somewhere to go),
// then raft's configuration. An AddLearner naming a voter is skipped (a
// late copy of a join must not demote it), as is a removal of a node
// that is no member; every node skips the same ones, as all apply the
// same log.
func (l *loop) applyConfChange(index uint64, cc *pb.ConfChange) {
	id := cc.GetNodeId()
	var m memberInfo
	if len(cc.GetContext()) > 0 {
		if err := json.Unmarshal(cc.GetContext(), &m); err != nil {
			l.n.log.Warn("cluster: a conf change with a bad context", zap.Uint64("index", index), zap.Error(err))
		}
	}
	switch cc.GetType() {
	case pb.ConfChangeType_ConfChangeAddLearnerNode:
		if isVoter(l.conf, id) {
			return
		}
	case pb.ConfChangeType_ConfChangeRemoveNode:
		if !isVoter(l.conf, id) && !isLearner(l.conf, id) {
			return
		}
	}
	if m.Name != "" && NodeID(m.Name) == id && m.Addr != "" {
		l.n.names[id] = m.Name
		l.book.Addrs[m.Name] = m.Addr
		l.book.Removed = slices.DeleteFunc(l.book.Removed, func(s string) bool { return s == m.Name })
		l.n.tr.addPeer(id, m.Addr)
	}
	l.conf, l.confDirty = l.rn.ApplyConfChange(cc), true
	l.memberCache.stale = true
	name := l.n.names[id]
	switch cc.GetType() {
	case pb.ConfChangeType_ConfChangeAddLearnerNode:
		// raft refuses a snapshot whose configuration lacks the node it
		// is sent to: one taken before this change cannot bring the new
		// node up, so a compacted log gets a new one.
		l.snapNow = l.snapIndex > 0
		l.n.log.Info("cluster: node added as a learner", zap.String("node", name), zap.String("addr", l.book.Addrs[name]), zap.Uint64("index", index))
	case pb.ConfChangeType_ConfChangeAddNode:
		l.n.log.Info("cluster: node is a voter", zap.String("node", name), zap.Uint64("index", index))
	case pb.ConfChangeType_ConfChangeRemoveNode:
		if !slices.Contains(l.book.Removed, name) {
			l.book.Removed = append(l.book.Removed, name)
		}
		l.n.log.Info("cluster: node removed", zap.String("node", name), zap.Uint64("index", index))
		if id == l.n.id {
			l.removedSelf(index)
		} else {
			l.sendRemovedNotice(id, index)
		}
	}
}

// removedSelf: this node applied its own removal. The loop stops after
// this Ready (run checks l.removed) with the book saved, marked.
func (l *loop) removedSelf(index uint64) {
	if l.removed {
		return
	}
	l.removed, l.confDirty, l.memberCache.stale = true, true, true
	l.n.log.Warn("cluster: this node was removed from the cluster; its Raft stops (its definitions stay, no longer replicated; start it with an empty data directory to join again)",
		zap.String("node", l.n.cfg.Name), zap.Uint64("index", index))
}

// sendRemovedNotice tells a removed node so: it may not learn that its
// removal committed, as the leader stops replicating to it.
func (l *loop) sendRemovedNotice(id, index uint64) {
	l.n.tr.send(controlGroup, []*pb.Message{{Type: pb.MessageType_MsgHeartbeat.Enum(), To: new(id), From: new(l.n.id),
		Index: new(index), Context: noticeRemoved}})
}

// noticeIfRemoved answers a raft message from a removed node with the
// notice (at most once a tick per node).
func (l *loop) noticeIfRemoved(m *pb.Message) {
	from := m.GetFrom()
	name, ok := l.n.names[from]
	if !ok || !slices.Contains(l.book.Removed, name) || isVoter(l.conf, from) || isLearner(l.conf, from) {
		return
	}
	if l.noticed[from] == l.ticks {
		return
	}
	l.noticed[from] = l.ticks
	l.sendRemovedNotice(from, 0)
}

// control handles a control-group message: a removal notice for this
// node stops its Raft.
func (n *Node) control(m *pb.Message) {
	if n.figuresControl(m) { // nodes_status.go
		return
	}
	if m.GetTo() != n.id || !bytes.Equal(m.GetContext(), noticeRemoved) {
		return
	}
	select {
	case n.ctlc <- func(l *loop) {
		if !isVoter(l.conf, n.id) && !isLearner(l.conf, n.id) && l.applied == 0 {
			return // a joining node not added yet: a stale notice
		}
		l.n.log.Warn("cluster: a peer says this node was removed from the cluster", zap.String("from", l.n.names[m.GetFrom()]))
		if !slices.Contains(l.book.Removed, n.cfg.Name) {
			l.book.Removed = append(l.book.Removed, n.cfg.Name)
		}
		l.removedSelf(m.GetIndex())
	}:
	case <-n.stop:
	case <-n.done:
	}
}

// memberNames lists the members, voters and learners, sorted.
func (l *loop) memberNames() []string {
	var out []string
	for _, id := range append(slices.Clone(l.conf.GetVoters()), l.conf.GetLearners()...) {
		out = append(out, l.n.names[id])
	}
	sort.Strings(out)
	return out
}

// bookBytes is the book as saved in raftlog's meta record.
func (l *loop) bookBytes() []byte {
	raw, _ := json.Marshal(l.book)
	return raw
}

// installBook takes a snapshot's book (if it has one) and returns the
// snapshot's definitions.
func (l *loop) installBook(data []byte) []byte {
	l.memberCache.stale = true // the snapshot's configuration
	bk, defs, err := decodeSnapshotData(data)
	if err != nil {
		l.n.log.Error("cluster: installing a snapshot's address book", zap.Error(err))
		return nil
	}
	if bk != nil {
		for name, addr := range bk.Addrs {
			if name == l.n.cfg.Name {
				continue
			}
			id := NodeID(name)
			l.n.names[id], l.book.Addrs[name] = name, addr
			l.n.tr.addPeer(id, addr)
		}
		for _, name := range bk.Removed {
			if name != l.n.cfg.Name && !slices.Contains(l.book.Removed, name) {
				l.book.Removed = append(l.book.Removed, name)
			}
		}
	}
	return defs
}

// loadBook is the book a node starts with: the one saved (its members'
// addresses win), completed with Config.Peers and this node.
func loadBook(saved []byte, cfg Config) (*book, error) {
	bk := &book{Addrs: map[string]string{}}
	for name, addr := range cfg.Peers {
		bk.Addrs[name] = addr
	}
	if len(saved) > 0 {
		var s book
		if err := json.Unmarshal(saved, &s); err != nil {
			return nil, fmt.Errorf("cluster: the saved address book: %w", err)
		}
		for name, addr := range s.Addrs {
			bk.Addrs[name] = addr
		}
		bk.Removed = s.Removed
	}
	bk.Addrs[cfg.Name] = cfg.Listener.Addr().String()
	return bk, nil
}
