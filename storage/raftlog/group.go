package raftlog

import (
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"os"
	"sync"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Group is one Raft group's log: a raft.Storage served from the
// in-memory index of its entries (state.locs) and the segment files.
// Changes go through a Batch (or the Group's own shorthands, one Batch
// each).
type Group struct {
	s  *Store
	id uint64
	mu struct {
		sync.Mutex
		state
	}
}

// state is what a Group keeps in memory of its log: everything but the
// entries' data and the snapshot's.
type state struct {
	truncIndex, truncTerm uint64 // the entry before the first kept
	last, lastTerm        uint64 // the last entry; the truncated one when none is kept
	hard                  *pb.HardState
	conf                  *pb.ConfState
	snap                  *pb.SnapshotMetadata // nil: none; the data is in its file
	applied               uint64
	meta                  []byte // the caller's record (Batch.SetMeta); nil: none
	locs                  []loc  // entries truncIndex+1 ... last
}

// loc is where an entry's record is: segment, offset, size; and its term.
type loc struct {
	seg  uint64
	off  int64
	size uint32
	term uint64
}

// entrySize is the size raft counts for entry i (its protobuf's) from
// the size of its record.
func (l loc) entrySize(i uint64) uint64 {
	uvlen := func(v uint64) uint64 { return uint64(bits.Len64(v|1)+6) / 7 }
	n := 1 + uvlen(l.term) + 1 + uvlen(i) + 2 // tag and value each; the type's fits a byte
	data := uint64(l.size) - recHeader - bodyHeader - uvlen(i) - uvlen(l.term) - 1
	if data > 0 {
		n += 1 + uvlen(data) + data
	}
	return n
}

func newState() state { return state{hard: &pb.HardState{}, conf: &pb.ConfState{}} }

// apply replays one record of the group onto st: the one function both
// recovery and Commit use, so what a restart rebuilds is what the
// running store had. at is where the record is (for entries).
func (st *state) apply(kind byte, p []byte, at loc) error {
	switch kind {
	case recEntry:
		v, _, err := uvarints(p, 2)
		if err != nil {
			return err
		}
		i, term := v[0], v[1]
		switch {
		case i <= st.truncIndex:
			return nil // compacted since (a copy forward of an older one)
		case i > st.last+1:
			// The entries before it were in segments deleted once they
			// were all compacted: a later truncation record (or the next
			// segment's checkpoint) says so. Start the index here.
			st.locs = st.locs[:0]
			st.truncIndex, st.truncTerm = i-1, 0
		default:
			st.locs = st.locs[:i-st.truncIndex-1] // raft overwrites a conflicting tail
		}
		at.term = term
		st.locs = append(st.locs, at)
		st.last, st.lastTerm = i, term
	case recHard:
		v, _, err := uvarints(p, 3)
		if err != nil {
			return err
		}
		st.hard = &pb.HardState{Term: new(v[0]), Vote: new(v[1]), Commit: new(v[2])}
	case recConf:
		cs := &pb.ConfState{}
		if err := proto.Unmarshal(p, cs); err != nil {
			return err
		}
		st.conf = cs
	case recTrunc, recReset:
		v, _, err := uvarints(p, 2)
		if err != nil {
			return err
		}
		st.truncate(v[0], v[1], kind == recReset)
	case recSnap:
		v, rest, err := uvarints(p, 2)
		if err != nil {
			return err
		}
		cs := &pb.ConfState{}
		if err := proto.Unmarshal(rest, cs); err != nil {
			return err
		}
		st.snap = &pb.SnapshotMetadata{Index: new(v[0]), Term: new(v[1]), ConfState: cs}
	case recApplied:
		v, _, err := uvarints(p, 1)
		if err != nil {
			return err
		}
		st.applied = v[0]
	case recMeta:
		st.meta = append([]byte{}, p...)
	case recDelete:
		*st = newState()
	default:
		return fmt.Errorf("raftlog: a record of unknown kind %d", kind)
	}
	return nil
}

// truncate drops the entries up to i (term t); reset drops them all.
func (st *state) truncate(i, t uint64, reset bool) {
	switch {
	case reset || i >= st.last:
		st.locs = nil
		st.last, st.lastTerm = i, t
	case i <= st.truncIndex:
		return
	default:
		drop := i - st.truncIndex
		if rest := len(st.locs) - int(drop); rest < cap(st.locs)/4 {
			st.locs = append([]loc(nil), st.locs[drop:]...) // let the old array go
		} else {
			st.locs = st.locs[drop:]
		}
	}
	st.truncIndex, st.truncTerm = i, t
}

var _ raft.Storage = (*Group)(nil)

// ID is the group's id.
func (g *Group) ID() uint64 { return g.id }

// scalars is the group's state without the index (which the caller must
// not keep).
func (g *Group) scalars() state {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.mu.state
	st.locs = nil
	return st
}

// InitialState returns the saved hard state and conf state.
func (g *Group) InitialState() (*pb.HardState, *pb.ConfState, error) {
	st := g.scalars()
	return proto.Clone(st.hard).(*pb.HardState), proto.Clone(st.conf).(*pb.ConfState), nil
}

// Applied is the applied index last saved (Batch.SetApplied).
func (g *Group) Applied() uint64 { return g.scalars().applied }

// Meta is the caller's record last saved with Batch.SetMeta (nil: none).
func (g *Group) Meta() []byte { return append([]byte(nil), g.scalars().meta...) }

// LogBytes is the size on disk of the entries kept (their records).
func (g *Group) LogBytes() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	var n int64
	for _, l := range g.mu.locs {
		n += int64(l.size)
	}
	return n
}

// Entries returns the entries [lo, hi), at most maxSize bytes of them but
// at least one, read from the segments with no lock held.
func (g *Group) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	g.mu.Lock()
	st := &g.mu.state
	if lo <= st.truncIndex {
		g.mu.Unlock()
		return nil, raft.ErrCompacted
	}
	if hi > st.last+1 || lo >= hi {
		g.mu.Unlock()
		return nil, raft.ErrUnavailable
	}
	var locs []loc
	var size uint64
	for i := lo; i < hi; i++ {
		l := st.locs[i-st.truncIndex-1]
		size += l.entrySize(i)
		if len(locs) > 0 && size > maxSize {
			break // enough: at least one entry, at most maxSize bytes
		}
		locs = append(locs, l)
	}
	g.mu.Unlock()
	out, err := g.s.readEntries(g.id, lo, locs)
	if err != nil {
		// A concurrent compaction may have taken lo away.
		if g.scalars().truncIndex >= lo {
			return nil, raft.ErrCompacted
		}
		return nil, err
	}
	return out, nil
}

// Term returns the term of entry i, in [FirstIndex()-1, LastIndex()],
// from the index.
func (g *Group) Term(i uint64) (uint64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := &g.mu.state
	switch {
	case i < st.truncIndex:
		return 0, raft.ErrCompacted
	case i == st.truncIndex:
		return st.truncTerm, nil
	case i > st.last:
		return 0, raft.ErrUnavailable
	}
	return st.locs[i-st.truncIndex-1].term, nil
}

// LastIndex is the index of the last entry.
func (g *Group) LastIndex() (uint64, error) { return g.scalars().last, nil }

// FirstIndex is the index of the first entry kept.
func (g *Group) FirstIndex() (uint64, error) { return g.scalars().truncIndex + 1, nil }

// Snapshot returns the latest snapshot (an empty one if there is none),
// its data read from its file.
func (g *Group) Snapshot() (*pb.Snapshot, error) {
	for range 2 {
		md := g.scalars().snap
		if md == nil {
			return &pb.Snapshot{}, nil
		}
		data, err := os.ReadFile(g.s.snapPath(g.id, md.GetIndex()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // replaced by a newer one meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("raftlog: group %d: %w", g.id, err)
		}
		return &pb.Snapshot{Data: data, Metadata: proto.Clone(md).(*pb.SnapshotMetadata)}, nil
	}
	return nil, fmt.Errorf("raftlog: group %d: its snapshot file is missing", g.id)
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
