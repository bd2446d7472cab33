package cluster

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"

	pb "go.etcd.io/raft/v3/raftpb"
)

// The members' own figures (memory, uptime, file descriptors: what
// /api/nodes shows of each node) travel on the peer link's control group
// (doc.go: Wire format), asked for when someone asks:
//
//	ask     control message, Index = request id, Context "figures?"
//	answer  control message, Index = request id, Context "figures=" | JSON
//
// A node answers with what ServeFigures gave it (the management API's
// figures of this node), read on the inbound link's reader goroutine;
// the asker waits for the answers until its context ends: a member that
// does not answer in time is shown as not running, as RabbitMQ does.

var (
	figuresAsk    = []byte("figures?")
	figuresAnswer = []byte("figures=")
)

// figures is a Node's side of it.
type figures struct {
	local atomic.Pointer[func() []byte]
	mu    struct {
		sync.Mutex
		next    uint64
		waiting map[uint64]chan peerFigures
	}
}

type peerFigures struct {
	from uint64
	data []byte
}

// ServeFigures sets what this node answers its peers' requests for its
// figures with (JSON); without it, it does not answer.
func (n *Node) ServeFigures(local func() []byte) { n.figs.local.Store(&local) }

// PeerFigures asks every running member but this node for its figures
// and returns those that answered before ctx ended, by name.
func (n *Node) PeerFigures(ctx context.Context) map[string][]byte {
	out := map[string][]byte{}
	st := n.Status()
	var targets []uint64
	for _, m := range st.Nodes {
		if m.Name != n.cfg.Name && m.Running {
			targets = append(targets, NodeID(m.Name))
		}
	}
	if len(targets) == 0 {
		return out
	}
	f := &n.figs
	ch := make(chan peerFigures, len(targets))
	f.mu.Lock()
	f.mu.next++
	id := f.mu.next
	if f.mu.waiting == nil {
		f.mu.waiting = map[uint64]chan peerFigures{}
	}
	f.mu.waiting[id] = ch
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.mu.waiting, id)
		f.mu.Unlock()
	}()
	err := n.inLoop(ctx, func(l *loop) { // the loop owns the transport's peers
		msgs := make([]*pb.Message, 0, len(targets))
		for _, to := range targets {
			msgs = append(msgs, &pb.Message{Type: pb.MessageType_MsgHeartbeat.Enum(), To: new(to), From: new(n.id), Index: new(id), Context: figuresAsk})
		}
		l.n.tr.send(controlGroup, msgs)
	})
	if err != nil {
		return out
	}
	for len(out) < len(targets) {
		select {
		case a := <-ch:
			if name, ok := n.nameOf(a.from); ok {
				out[name] = a.data
			}
		case <-ctx.Done():
			return out
		}
	}
	return out
}

// nameOf names a member from outside the loop (its status).
func (n *Node) nameOf(id uint64) (string, bool) {
	for _, m := range n.Status().Nodes {
		if NodeID(m.Name) == id {
			return m.Name, true
		}
	}
	return "", false
}

// figuresControl handles a control message about figures (on an inbound
// link's reader goroutine); false if it is about something else.
func (n *Node) figuresControl(m *pb.Message) bool {
	ctx := m.GetContext()
	switch {
	case bytes.Equal(ctx, figuresAsk):
		local := n.figs.local.Load()
		if local == nil || m.GetTo() != n.id {
			return true
		}
		data := append(bytes.Clone(figuresAnswer), (*local)()...)
		answer := &pb.Message{Type: pb.MessageType_MsgHeartbeat.Enum(), To: new(m.GetFrom()), From: new(n.id), Index: new(m.GetIndex()), Context: data}
		select {
		case n.ctlc <- func(l *loop) { l.n.tr.send(controlGroup, []*pb.Message{answer}) }:
		case <-n.stop:
		case <-n.done:
		}
		return true
	case bytes.HasPrefix(ctx, figuresAnswer):
		f := &n.figs
		f.mu.Lock()
		ch := f.mu.waiting[m.GetIndex()]
		f.mu.Unlock()
		if ch != nil {
			select {
			case ch <- peerFigures{from: m.GetFrom(), data: ctx[len(figuresAnswer):]}:
			default:
			}
		}
		return true
	}
	return false
}
