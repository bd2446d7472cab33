package raftlog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// segMagic starts every segment file (doc.go: Files).
var segMagic = []byte{'W', 'R', 'Q', 'L', 1, 0, 0, 0}

func (s *Store) segPath(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%016x.seg", seq))
}

func (s *Store) snapPath(group, index uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%016x-%016x.snap", group, index))
}

// recover replays every segment, oldest first, into the groups' states;
// a torn or corrupt tail of the last segment is cut off (doc.go:
// Recovery). Snapshot files no group refers to are removed.
func (s *Store) recover() error {
	names, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("raftlog: %w", err)
	}
	var seqs []uint64
	var snaps []string
	for _, d := range names {
		name := d.Name()
		switch {
		case strings.HasSuffix(name, ".seg"):
			seq, err := strconv.ParseUint(strings.TrimSuffix(name, ".seg"), 16, 64)
			if err != nil {
				return fmt.Errorf("raftlog: a segment with a bad name: %s", name)
			}
			seqs = append(seqs, seq)
		case strings.HasSuffix(name, ".snap"):
			snaps = append(snaps, name)
		case strings.HasSuffix(name, ".tmp"):
			os.Remove(filepath.Join(s.dir, name)) // a snapshot file never finished
		}
	}
	slices.Sort(seqs)
	for i, seq := range seqs {
		var err error
		if i == len(seqs)-1 {
			err = s.replay(seq, true)
		} else {
			err = s.scanSealed(seq)
		}
		if err != nil {
			return err
		}
	}
	if len(seqs) == 0 {
		if err := s.newSegment(1); err != nil {
			return err
		}
	}
	s.mu.Lock()
	keep := map[string]bool{}
	for id, g := range s.mu.groups {
		st := &g.mu.state
		if st.snap != nil {
			keep[filepath.Base(s.snapPath(id, st.snap.GetIndex()))] = true
		}
		if st.empty() {
			delete(s.mu.groups, id) // deleted: nothing left of it
		}
	}
	s.mu.Unlock()
	for _, name := range snaps {
		if !keep[name] {
			os.Remove(filepath.Join(s.dir, name))
		}
	}
	return nil
}

// empty reports whether st holds nothing at all (a deleted group).
func (st *state) empty() bool {
	return st.last == 0 && st.truncIndex == 0 && st.snap == nil && st.applied == 0 && st.meta == nil &&
		st.hard.GetTerm() == 0 && st.hard.GetVote() == 0 && st.hard.GetCommit() == 0 &&
		len(st.conf.GetVoters())+len(st.conf.GetLearners()) == 0
}

// replay applies the records of segment seq; last: the active segment,
// whose torn tail is cut off.
func (s *Store) replay(seq uint64, last bool) error {
	path := s.segPath(seq)
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("raftlog: %w", err)
	}
	good := int64(0)
	if len(data) >= len(segMagic) && bytes.Equal(data[:len(segMagic)], segMagic) {
		good = int64(len(segMagic))
		for good < int64(len(data)) {
			body, size, ok := nextRecord(data[good:])
			if !ok {
				break
			}
			g := s.groupLocked(be64(body[1:9]))
			if err := g.mu.apply(body[0], body[bodyHeader:], loc{seg: seq, off: good, size: uint32(size)}); err != nil {
				return fmt.Errorf("raftlog: segment %s at %d: %w", path, good, err)
			}
			good += int64(size)
		}
	}
	zeros := allZero(data[good:])
	if good < int64(len(data)) && !zeros {
		if !last {
			return fmt.Errorf("raftlog: segment %s is corrupt at %d (of %d bytes), and it is not the last", path, good, len(data))
		}
		// A commit torn by a crash: it was never synced, so nobody was
		// told it was written. Cut it off.
		s.log.Warn("raftlog: cutting a torn tail off the last segment", zap.String("segment", path),
			zap.Int64("at", good), zap.Int("bytes", len(data)-int(good)))
	}
	flag := os.O_RDONLY
	if last {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return fmt.Errorf("raftlog: %w", err)
	}
	if last {
		if good < int64(len(segMagic)) {
			good = 0
		}
		if good < int64(len(data)) && !zeros {
			if err := f.Truncate(good); err != nil {
				f.Close()
				return fmt.Errorf("raftlog: cutting the torn tail of %s: %w", path, err)
			}
		}
		if good == 0 {
			if _, err := f.WriteAt(segMagic, 0); err != nil {
				f.Close()
				return fmt.Errorf("raftlog: %w", err)
			}
			good = int64(len(segMagic))
		}
		if err := fdatasync(f); err != nil {
			f.Close()
			return fmt.Errorf("raftlog: %w", err)
		}
		s.w.f, s.w.seq, s.w.size = f, seq, good
	}
	s.mu.segs[seq] = f
	s.mu.order = append(s.mu.order, seq)
	return nil
}

// scanSealed replays a sealed segment (one before the last, synced
// before the next was started) reading only the records' heads for
// entries: their index and term are all the index needs, and Entries
// checks each record's CRC when it reads it. Other records are read and
// checked whole. A restart with a GB of log reads a few MB.
func (s *Store) scanSealed(seq uint64) error {
	path := s.segPath(seq)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("raftlog: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("raftlog: %w", err)
	}
	size := fi.Size()
	var head [64]byte
	if n, _ := f.ReadAt(head[:len(segMagic)], 0); n != len(segMagic) || !bytes.Equal(head[:len(segMagic)], segMagic) {
		f.Close()
		return fmt.Errorf("raftlog: segment %s has no magic, and it is not the last", path)
	}
	bad := func(off int64, why string) error {
		f.Close()
		return fmt.Errorf("raftlog: segment %s is corrupt at %d (%s), and it is not the last", path, off, why)
	}
	for off := int64(len(segMagic)); off < size; {
		n, _ := f.ReadAt(head[:], off)
		if n < recHeader {
			return bad(off, "a short record head")
		}
		length := int64(binary.BigEndian.Uint32(head[:]))
		if length == 0 && allZero(head[:n]) {
			break // preallocated space, never written
		}
		if length < bodyHeader || length > maxRecord || off+recHeader+length > size || n < recHeader+bodyHeader {
			return bad(off, "a record length out of bounds")
		}
		kind, group := head[recHeader], be64(head[recHeader+1:])
		at := loc{seg: seq, off: off, size: uint32(recHeader + length)}
		var payload []byte
		if kind == recEntry {
			payload = head[recHeader+bodyHeader : n]
		} else {
			rec := make([]byte, recHeader+length)
			if _, err := f.ReadAt(rec, off); err != nil {
				return bad(off, err.Error())
			}
			body, _, ok := nextRecord(rec)
			if !ok {
				return bad(off, "a bad CRC")
			}
			payload = body[bodyHeader:]
		}
		g := s.groupLocked(group)
		if err := g.mu.apply(kind, payload, at); err != nil {
			f.Close()
			return fmt.Errorf("raftlog: segment %s at %d: %w", path, off, err)
		}
		off += recHeader + length
	}
	s.mu.segs[seq] = f
	s.mu.order = append(s.mu.order, seq)
	return nil
}

// newSegment makes segment seq the active one, empty but for its magic:
// the spare file, zero-filled to SegmentBytes, renamed, when it is ready
// (an overwrite needs no size change, so each commit's fdatasync is one
// flush instead of a journal commit besides), else a new empty file. It
// syncs the directory. The spare is prepared once the active segment is
// half full (Commit).
func (s *Store) newSegment(seq uint64) error {
	path := s.segPath(seq)
	var f *os.File
	if spare := s.takeSpare(); spare != "" {
		if err := os.Rename(spare, path); err == nil {
			f, _ = os.OpenFile(path, os.O_RDWR, 0o644)
		}
	}
	if f == nil {
		var err error
		if f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644); err != nil {
			return fmt.Errorf("raftlog: %w", err)
		}
	}
	if _, err := f.WriteAt(segMagic, 0); err != nil {
		f.Close()
		return fmt.Errorf("raftlog: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		f.Close()
		return fmt.Errorf("raftlog: %w", err)
	}
	s.w.f, s.w.seq, s.w.size = f, seq, int64(len(segMagic))
	s.mu.Lock()
	s.mu.segs[seq] = f
	s.mu.order = append(s.mu.order, seq)
	s.mu.Unlock()
	return nil
}

// takeSpare returns the spare segment's path if it is ready ("" if not).
func (s *Store) takeSpare() string {
	s.spare.Lock()
	defer s.spare.Unlock()
	p := s.spare.ready
	s.spare.ready = ""
	return p
}

// prepareSpare zero-fills the next segment in the background, unless it
// is ready or being filled (Close waits for it).
func (s *Store) prepareSpare() {
	s.spare.Lock()
	defer s.spare.Unlock()
	if s.spare.busy || s.spare.ready != "" || s.spare.closed {
		return
	}
	s.spare.busy = true
	s.spare.wg.Add(1)
	go func() {
		defer s.spare.wg.Done()
		path := filepath.Join(s.dir, "spare.seg.tmp")
		err := s.zeroFill(path)
		s.spare.Lock()
		defer s.spare.Unlock()
		s.spare.busy = false
		if err != nil {
			os.Remove(path)
			if !s.spare.closed {
				s.log.Warn("raftlog: preparing the next segment", zap.Error(err))
			}
			return
		}
		s.spare.ready = path
	}()
}

func (s *Store) zeroFill(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	zero := make([]byte, 1<<20)
	for n := int64(0); n < s.segMax; n += int64(len(zero)) {
		s.spare.Lock()
		closed := s.spare.closed
		s.spare.Unlock()
		if closed {
			return errClosed
		}
		if _, err := f.Write(zero[:min(int64(len(zero)), s.segMax-n)]); err != nil {
			return err
		}
		// Flushed a few MiB at a time: one flush of the whole 64 MiB
		// at the end filled the disk's queue, and every group's commit
		// (its fdatasync) waited behind it, 120-170 ms every few
		// seconds on a busy node.
		if (n+int64(len(zero)))%spareFlushBytes == 0 {
			if err := fdatasync(f); err != nil {
				return err
			}
		}
	}
	return fdatasync(f)
}

// spareFlushBytes is how much of the spare segment's zeros are written
// between two flushes.
const spareFlushBytes = 4 << 20

// checkpoint appends every group's state but its entries (hard state,
// configuration, truncation, snapshot, applied index, meta) to b: the
// head of a new segment, so that the segments before it are needed only
// for the entries they hold (doc.go: Reclaiming space).
func (s *Store) checkpoint(b []byte) []byte {
	s.mu.Lock()
	gs := make([]*Group, 0, len(s.mu.groups))
	for _, g := range s.mu.groups {
		gs = append(gs, g)
	}
	s.mu.Unlock()
	for _, g := range gs {
		st := g.scalars()
		if st.truncIndex > 0 {
			b = appendPairRecord(b, recTrunc, g.id, st.truncIndex, st.truncTerm)
		}
		b = appendHardRecord(b, g.id, st.hard)
		if c, err := appendProtoRecord(b, recConf, g.id, nil, st.conf); err == nil {
			b = c
		}
		if st.snap != nil {
			if c, err := appendProtoRecord(b, recSnap, g.id, []uint64{st.snap.GetIndex(), st.snap.GetTerm()}, st.snap.GetConfState()); err == nil {
				b = c
			}
		}
		if st.applied > 0 {
			b = appendUintRecord(b, recApplied, g.id, st.applied)
		}
		if st.meta != nil {
			b = appendBytesRecord(b, recMeta, g.id, st.meta)
		}
	}
	return b
}

// allZero reports whether b is all zeros: a segment's preallocated
// space, never written.
func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func be64(b []byte) uint64 {
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
