package cluster

import (
	"encoding/binary"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/storage"
)

// The applied index in the broker's store (doc.go: Durability). The Raft
// log's applied index is saved with a later Ready; a crash in between
// would make raft hand the node again commands whose effects are already
// in the broker's store, and a sequence of them (delete a queue, declare
// it again) is not idempotent. So after each command the loop submits a
// marker, (appliedKind, appliedKey) -> index, to the broker's store,
// behind the command's own writes (which Broker.ApplyLocal waited for)
// and ahead of the next command's (the store writes in submission
// order). After a crash, if the marker says M, every command up to M is
// in the store, and no command after M+1 has left anything there: the
// loop skips the broker's apply up to M, and at most one command, M+1,
// meets its own effects again, which every single command takes as a
// no-op (declares are equivalent, deletes find nothing).

const (
	appliedKind = "cluster"
	appliedKey  = "applied"
)

// storeApplied reads the marker (0: none, or no store).
func storeApplied(b *broker.Broker, log *zap.Logger) uint64 {
	st := b.Store()
	if st == nil {
		return 0
	}
	var i uint64
	err := st.Definitions(appliedKind, func(key string, v []byte) error {
		if key == appliedKey && len(v) == 8 {
			i = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	if err != nil {
		log.Warn("cluster: reading the applied index in the broker's store", zap.Error(err))
	}
	return i
}

// markApplied submits the marker for index i, not waited for.
func (l *loop) markApplied(i uint64) {
	st := l.b.Store()
	if st == nil {
		return
	}
	var b storage.Batch
	b.PutDefinition(appliedKind, appliedKey, binary.BigEndian.AppendUint64(nil, i))
	if err := st.Submit(&b, nil); err != nil {
		l.n.log.Warn("cluster: saving the applied index in the broker's store", zap.Uint64("index", i), zap.Error(err))
	}
}

// reinstallIfBehind installs the saved snapshot's definitions again when
// the Raft log says it was installed and is all that was applied since,
// but the broker's store is behind it: a crash in the middle of an
// install (the log records the snapshot before the definitions are
// restored). Runs at Start, before the loop.
func (l *loop) reinstallIfBehind() {
	if l.b.Store() == nil || l.snapIndex == 0 || l.applied != l.snapIndex || l.storeApplied >= l.snapIndex {
		return
	}
	snap, err := l.n.group.Snapshot()
	if err != nil {
		return
	}
	l.n.log.Info("cluster: the broker's store is behind the last snapshot applied: restoring its definitions again",
		zap.Uint64("snapshot", l.snapIndex), zap.Uint64("store", l.storeApplied))
	if err := l.b.RestoreDefinitions(l.installBook(snap.GetData())); err != nil {
		l.n.log.Error("cluster: restoring a snapshot's definitions", zap.Error(err))
		return
	}
	l.markApplied(l.snapIndex)
	l.storeApplied = l.snapIndex
}
