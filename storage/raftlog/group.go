package raftlog

import (
	"encoding/binary"
	"sync"

	"github.com/dgraph-io/badger/v4"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Group is one Raft group's log: a raft.Storage. Changes go through a
// Batch (or the Group's own shorthands, one Batch each).
type Group struct {
	s  *Store
	id uint64
	mu struct {
		sync.Mutex
		state
	}
}

// state is what a Group keeps in memory of its log.
type state struct {
	truncIndex, truncTerm uint64 // the entry before the first kept
	last, lastTerm        uint64 // the last entry; the truncated one when none is kept
	hard                  *pb.HardState
	conf                  *pb.ConfState
	snap                  *pb.Snapshot // nil: none
	applied               uint64
	meta                  []byte // the caller's record (Batch.SetMeta); nil: none
}

var _ raft.Storage = (*Group)(nil)

// ID is the group's id.
func (g *Group) ID() uint64 { return g.id }

func (g *Group) load(txn *badger.Txn) error {
	st := state{hard: &pb.HardState{}, conf: &pb.ConfState{}}
	if _, err := getProto(txn, groupKey(g.id, kindHard), st.hard); err != nil {
		return err
	}
	if _, err := getProto(txn, groupKey(g.id, kindConf), st.conf); err != nil {
		return err
	}
	snap := &pb.Snapshot{}
	if ok, err := getProto(txn, groupKey(g.id, kindSnapshot), snap); err != nil {
		return err
	} else if ok {
		st.snap = snap
	}
	if b, err := getBytes(txn, groupKey(g.id, kindTrunc)); err != nil {
		return err
	} else if len(b) == 16 {
		st.truncIndex, st.truncTerm = binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])
	}
	if b, err := getBytes(txn, groupKey(g.id, kindApplied)); err != nil {
		return err
	} else if len(b) == 8 {
		st.applied = binary.BigEndian.Uint64(b)
	}
	if b, err := getBytes(txn, groupKey(g.id, kindMeta)); err != nil {
		return err
	} else if b != nil {
		st.meta = b
	}
	st.last, st.lastTerm = st.truncIndex, st.truncTerm
	it := txn.NewIterator(badger.IteratorOptions{Reverse: true, Prefix: groupKey(g.id, kindEntry)})
	defer it.Close()
	if it.Seek(entryKey(g.id, ^uint64(0))); it.Valid() {
		if i := entryIndex(it.Item().Key()); i > st.last {
			e := &pb.Entry{}
			if err := it.Item().Value(func(v []byte) error { return proto.Unmarshal(v, e) }); err != nil {
				return err
			}
			st.last, st.lastTerm = i, e.GetTerm()
		}
	}
	g.mu.state = st
	return nil
}

func (g *Group) snapshotState() state {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mu.state
}

// InitialState returns the saved hard state and conf state.
func (g *Group) InitialState() (*pb.HardState, *pb.ConfState, error) {
	st := g.snapshotState()
	return proto.Clone(st.hard).(*pb.HardState), proto.Clone(st.conf).(*pb.ConfState), nil
}

// Applied is the applied index last saved (Batch.SetApplied).
func (g *Group) Applied() uint64 { return g.snapshotState().applied }

// Meta is the caller's record last saved with Batch.SetMeta (nil: none).
func (g *Group) Meta() []byte { return append([]byte(nil), g.snapshotState().meta...) }

// Entries returns the entries [lo, hi), at most maxSize bytes of them but
// at least one.
func (g *Group) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	st := g.snapshotState()
	if lo <= st.truncIndex {
		return nil, raft.ErrCompacted
	}
	if hi > st.last+1 || lo >= hi {
		return nil, raft.ErrUnavailable
	}
	var out []*pb.Entry
	var size uint64
	err := g.s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 16, Prefix: groupKey(g.id, kindEntry)})
		defer it.Close()
		next := lo
		for it.Seek(entryKey(g.id, lo)); it.Valid() && next < hi; it.Next() {
			if entryIndex(it.Item().Key()) != next {
				return raft.ErrUnavailable
			}
			e := &pb.Entry{}
			if err := it.Item().Value(func(v []byte) error { return proto.Unmarshal(v, e) }); err != nil {
				return err
			}
			size += uint64(proto.Size(e))
			if len(out) > 0 && size > maxSize {
				return nil // enough: at least one entry, at most maxSize bytes
			}
			out = append(out, e)
			next++
		}
		if next < hi {
			return raft.ErrUnavailable
		}
		return nil
	})
	if err != nil {
		// A concurrent compaction may have taken lo away.
		if g.snapshotState().truncIndex >= lo {
			return nil, raft.ErrCompacted
		}
		return nil, err
	}
	return out, nil
}

// Term returns the term of entry i, in [FirstIndex()-1, LastIndex()].
func (g *Group) Term(i uint64) (uint64, error) {
	st := g.snapshotState()
	switch {
	case i < st.truncIndex:
		return 0, raft.ErrCompacted
	case i == st.truncIndex:
		return st.truncTerm, nil
	case i > st.last:
		return 0, raft.ErrUnavailable
	case i == st.last:
		return st.lastTerm, nil
	}
	var e *pb.Entry
	err := g.s.db.View(func(txn *badger.Txn) (err error) {
		e, err = readEntry(txn, g.id, i)
		return err
	})
	if err != nil {
		return 0, err
	}
	if e == nil {
		if g.snapshotState().truncIndex >= i {
			return 0, raft.ErrCompacted
		}
		return 0, raft.ErrUnavailable
	}
	return e.GetTerm(), nil
}

// LastIndex is the index of the last entry.
func (g *Group) LastIndex() (uint64, error) { return g.snapshotState().last, nil }

// FirstIndex is the index of the first entry kept.
func (g *Group) FirstIndex() (uint64, error) { return g.snapshotState().truncIndex + 1, nil }

// Snapshot returns the latest snapshot (an empty one if there is none).
func (g *Group) Snapshot() (*pb.Snapshot, error) {
	st := g.snapshotState()
	if st.snap == nil {
		return &pb.Snapshot{}, nil
	}
	return proto.Clone(st.snap).(*pb.Snapshot), nil
}

// CreateSnapshot records a snapshot of the applied state at index i (at
// most LastIndex) with cs and data, and drops the entries up to
// i-keep (keep entries stay for slow followers).
func (g *Group) CreateSnapshot(i uint64, cs *pb.ConfState, data []byte, keep uint64) error {
	b := g.s.NewBatch()
	b.CreateSnapshot(g, i, cs, data)
	if first, _ := g.FirstIndex(); i > keep && i-keep >= first {
		b.Compact(g, i-keep)
	}
	return b.Commit()
}
