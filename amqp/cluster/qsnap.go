package cluster

import (
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/warrenmq/warren/storage/raftlog"
	pb "go.etcd.io/raft/v3/raftpb"
)

// A quorum queue's snapshot is encoded and written off the loop. The
// loop freezes the state (qstate.view: a copy of the messages' entries,
// 17 ms for 100,000 against 158 ms to encode them: BenchmarkQStateView,
// BenchmarkEncodeQState) and goes on; a goroutine sorts and encodes the
// view and writes its file (raftlog.Store.WriteSnapshotFile, synced),
// then hands back to the loop, which records it and compacts the log in
// its next round. Before,
// the loop encoded and wrote the whole state itself (a gigabyte for a
// million 1 KiB messages, seconds with its fdatasync, under the store's
// write lock), and every group on the node waited: publishes past the
// propose timeout were refused while a large queue took a snapshot.
//
// One snapshot of a group is written at a time (qgroup.snapping). One
// that comes back older than the group's snapshot by then (the leader's
// was installed meanwhile), for a group gone since, or failed, is
// dropped with its file.

// startSnapshot starts a snapshot of g at its applied index.
func (l *loop) startSnapshot(g *qgroup) {
	n := l.n
	v := g.st.view()
	id, rg, index := g.id, g.g, g.applied
	conf := proto.Clone(g.conf).(*pb.ConfState)
	logBytes := g.logBytes
	g.snapping = true
	n.snaps.Add(1)
	go func() {
		defer n.snaps.Done()
		if h := n.snapHook.Load(); h != nil {
			(*h)(g.name) // tests: hold the write
		}
		data := v.encode()
		size := int64(len(data))
		err := n.store.WriteSnapshotFile(rg, index, data)
		select {
		case n.ctlc <- func(l *loop) { l.snapshotWritten(id, rg, index, conf, size, logBytes, err) }:
		case <-n.done:
			// Stopped: the file, never recorded, goes at the next Open.
		}
	}()
}

// snapshotWritten records, on the loop, a snapshot startSnapshot wrote.
func (l *loop) snapshotWritten(id uint64, rg *raftlog.Group, index uint64, conf *pb.ConfState, size, logBytes int64, err error) {
	g := l.groups[id]
	if g == nil || g.g != rg {
		l.n.store.DropSnapshotFile(rg, index) // the group is gone
		return
	}
	g.snapping = false
	if err == nil && index <= g.snapIndex {
		l.n.store.DropSnapshotFile(rg, index) // the leader's came first
		return
	}
	if err == nil {
		keep := uint64(max(l.n.cfg.CatchUpEntries, 0))
		b := l.n.store.NewBatch()
		b.CreateSnapshotWritten(rg, index, conf)
		if first, _ := rg.FirstIndex(); index > keep && index-keep >= first {
			b.Compact(rg, index-keep)
		}
		b.SetHardState(rg, g.hard) // the commit index never behind the snapshot
		err = b.Commit()
	}
	if err != nil {
		l.n.log.Error("cluster: a quorum queue snapshot", zap.String("queue", g.name), zap.Error(err))
		l.n.store.DropSnapshotFile(rg, index)
		return
	}
	g.snapIndex, g.savedHard = index, g.hard
	g.snapBytes, g.logBytes = size, max(g.logBytes-logBytes, 0)
}
