package raftlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	pb "go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
)

// Options configure a Store.
type Options struct {
	Dir    string      // the log's directory (<data-dir>/raft)
	Logger *zap.Logger // nil: none
	// SegmentBytes is the size past which the next commit starts a new
	// segment (0: 64 MiB).
	SegmentBytes int64
}

// Store holds the Raft logs of all the groups of a node.
type Store struct {
	dir    string
	log    *zap.Logger
	segMax int64
	lock   *os.File

	// wmu serialises commits (the store's one writer, normally the Raft
	// loop) and guards w; it is held across a commit's writes and fsync,
	// which is its purpose: nothing else ever waits on it.
	wmu sync.Mutex
	w   struct {
		f    *os.File // the active segment
		seq  uint64
		size int64
		buf  []byte
	}

	// spare is the next segment, zero-filled in the background
	// (segment.go prepareSpare); a leaf lock.
	spare struct {
		sync.Mutex
		ready        string // its path once filled and synced
		busy, closed bool
		wg           sync.WaitGroup
	}

	mu struct {
		sync.Mutex
		groups map[uint64]*Group
		segs   map[uint64]*os.File // every segment, open for reading
		order  []uint64            // their sequence numbers, oldest first
	}
}

// Open opens (creating if need be) the store in o.Dir and rebuilds every
// group's state from its segments (doc.go: Recovery).
func Open(o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Dir == "" {
		return nil, errors.New("raftlog: no directory")
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 64 << 20
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("raftlog: %w", err)
	}
	if _, err := os.Stat(filepath.Join(o.Dir, "MANIFEST")); err == nil {
		return nil, fmt.Errorf("raftlog: %s holds a Raft log in the Badger format of an earlier Warren, which this version does not read; move it away to start this node's log afresh (it catches up from its peers)", o.Dir)
	}
	s := &Store{dir: o.Dir, log: o.Logger, segMax: o.SegmentBytes}
	s.mu.groups = map[uint64]*Group{}
	s.mu.segs = map[uint64]*os.File{}
	lock, err := os.OpenFile(filepath.Join(o.Dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("raftlog: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("raftlog: %s is in use by another process: %w", o.Dir, err)
	}
	s.lock = lock
	if err := s.recover(); err != nil {
		s.closeFiles()
		return nil, err
	}
	return s, nil
}

// Close closes the store; its Groups must no longer be used.
func (s *Store) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.closeFiles()
}

func (s *Store) closeFiles() error {
	s.spare.Lock()
	s.spare.closed = true
	s.spare.Unlock()
	s.spare.wg.Wait()
	var first error
	s.mu.Lock()
	for seq, f := range s.mu.segs {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
		delete(s.mu.segs, seq)
	}
	s.mu.order = nil
	s.mu.Unlock()
	if s.w.f != nil {
		s.w.f.Close()
		s.w.f = nil
	}
	if s.lock != nil {
		s.lock.Close()
		s.lock = nil
	}
	return first
}

// Group returns the log of group id (an empty one if it has none).
func (s *Store) Group(id uint64) (*Group, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.groupLocked(id), nil
}

func (s *Store) groupLocked(id uint64) *Group {
	g := s.mu.groups[id]
	if g == nil {
		g = &Group{s: s, id: id}
		g.mu.state = newState()
		s.mu.groups[id] = g
	}
	return g
}

// forget drops g from the store's groups (after its deletion is
// committed).
func (s *Store) forget(g *Group) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.groups[g.id] == g {
		delete(s.mu.groups, g.id)
	}
}

// readEntries reads the records at locs, entries lo, lo+1, ... of group.
// Records next to each other in one segment are read with one ReadAt.
func (s *Store) readEntries(group, lo uint64, locs []loc) ([]*pb.Entry, error) {
	out := make([]*pb.Entry, 0, len(locs))
	for i := 0; i < len(locs); {
		j, end := i+1, locs[i].off+int64(locs[i].size)
		for j < len(locs) && locs[j].seg == locs[i].seg && locs[j].off >= end && locs[j].off-end < 4096 && end-locs[i].off < 4<<20 {
			end = locs[j].off + int64(locs[j].size)
			j++
		}
		s.mu.Lock()
		f := s.mu.segs[locs[i].seg]
		s.mu.Unlock()
		if f == nil {
			return nil, fmt.Errorf("raftlog: group %d: entry %d: segment %d is gone", group, lo+uint64(i), locs[i].seg)
		}
		buf := make([]byte, end-locs[i].off)
		if _, err := f.ReadAt(buf, locs[i].off); err != nil {
			return nil, fmt.Errorf("raftlog: group %d: reading entry %d: %w", group, lo+uint64(i), err)
		}
		for k := i; k < j; k++ {
			rel := locs[k].off - locs[i].off
			body, _, ok := nextRecord(buf[rel : rel+int64(locs[k].size)])
			if !ok || body[0] != recEntry {
				return nil, fmt.Errorf("raftlog: group %d: entry %d: a corrupt record in segment %d at %d", group, lo+uint64(k), locs[k].seg, locs[k].off)
			}
			e, err := decodeEntry(body[bodyHeader:])
			if err != nil || e.GetIndex() != lo+uint64(k) {
				return nil, fmt.Errorf("raftlog: group %d: entry %d: a wrong record in segment %d at %d", group, lo+uint64(k), locs[k].seg, locs[k].off)
			}
			out = append(out, e)
		}
		i = j
	}
	return out, nil
}
