package raftlog

import (
	"fmt"
	"os"

	"go.uber.org/zap"
)

// Commit writes the batch: snapshot files first (each synced, then the
// directory), then the records with one write and one fdatasync of the
// active segment (after a new segment's checkpoint when the active one is
// full, and after copies of small groups' entries that keep the oldest
// segment alive), then updates the groups' state, removes replaced
// snapshot files and deletes the segments nothing needs any more.
func (b *Batch) Commit() error {
	if b.err != nil {
		return b.err
	}
	if b.n == 0 && len(b.snaps) == 0 {
		return nil
	}
	s := b.s
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.w.f == nil {
		return errClosed
	}
	wrote := false
	for _, sw := range b.snaps {
		if sw.written {
			continue // by WriteSnapshotFile, synced with its directory
		}
		if err := writeFileSynced(s.snapPath(sw.g.id, sw.index), ".tmp", sw.data); err != nil {
			return fmt.Errorf("raftlog: group %d: writing a snapshot: %w", sw.g.id, err)
		}
		wrote = true
	}
	if wrote {
		if err := syncDir(s.dir); err != nil {
			return fmt.Errorf("raftlog: %w", err)
		}
	}
	head := s.w.buf[:0]
	if s.w.size >= s.segMax {
		if err := s.newSegment(s.w.seq + 1); err != nil {
			return err
		}
		head = s.checkpoint(head)
	}
	replayFrom := len(head)
	head, err := s.copyForward(head)
	if err != nil {
		return err
	}
	off := s.w.size
	if len(head) > 0 {
		if _, err := s.w.f.WriteAt(head, off); err != nil {
			return fmt.Errorf("raftlog: %w", err)
		}
	}
	if _, err := s.w.f.WriteAt(b.buf, off+int64(len(head))); err != nil {
		return fmt.Errorf("raftlog: %w", err)
	}
	if err := fdatasync(s.w.f); err != nil {
		return fmt.Errorf("raftlog: %w", err)
	}
	s.w.size = off + int64(len(head)) + int64(len(b.buf))
	if s.w.size > s.segMax/2 {
		s.prepareSpare()
	}
	var stale []string
	if err := s.applyWritten(head[replayFrom:], off+int64(replayFrom), &stale); err != nil {
		return err
	}
	if err := s.applyWritten(b.buf, off+int64(len(head)), &stale); err != nil {
		return err
	}
	s.w.buf = head[:0]
	for _, p := range stale {
		os.Remove(p)
	}
	for _, g := range b.deleted {
		s.forget(g)
	}
	s.reclaim()
	return nil
}

// applyWritten replays the records of buf, written at off of the active
// segment, onto their groups; the snapshot files they replace are added
// to stale.
func (s *Store) applyWritten(buf []byte, off int64, stale *[]string) error {
	var g *Group
	for pos := 0; pos < len(buf); {
		body, size, ok := nextRecord(buf[pos:])
		if !ok {
			return fmt.Errorf("raftlog: a record this store wrote does not read back at %d", pos)
		}
		id := be64(body[1:9])
		if g == nil || g.id != id {
			s.mu.Lock()
			g = s.groupLocked(id)
			s.mu.Unlock()
		}
		g.mu.Lock()
		old := g.mu.snap
		err := g.mu.apply(body[0], body[bodyHeader:], loc{seg: s.w.seq, off: off + int64(pos), size: uint32(size)})
		if old != nil && (g.mu.snap == nil || g.mu.snap.GetIndex() != old.GetIndex()) {
			*stale = append(*stale, s.snapPath(id, old.GetIndex()))
		}
		g.mu.Unlock()
		if err != nil {
			return err
		}
		pos += size
	}
	return nil
}

// copyForward appends to head, when the oldest segment is kept only by
// groups with few bytes of entries in it (an idle queue's log, the
// metadata group's), those groups' entries: copied to the active
// segment, they no longer keep the oldest one, and deleting it gives its
// space back. A group with many bytes will soon snapshot and compact.
func (s *Store) copyForward(head []byte) ([]byte, error) {
	s.mu.Lock()
	if len(s.mu.order) < 3 {
		s.mu.Unlock()
		return head, nil
	}
	oldest := s.mu.order[0]
	var pins []*Group
	small := true
	for _, g := range s.mu.groups {
		g.mu.Lock()
		if len(g.mu.locs) > 0 && g.mu.locs[0].seg == oldest {
			pins = append(pins, g)
			var n int64
			for _, l := range g.mu.locs {
				n += int64(l.size)
			}
			small = small && n <= s.segMax/4
		}
		g.mu.Unlock()
	}
	s.mu.Unlock()
	if !small || len(pins) == 0 {
		return head, nil
	}
	for _, g := range pins {
		g.mu.Lock()
		locs := append([]loc(nil), g.mu.locs...)
		g.mu.Unlock()
		for _, l := range locs {
			s.mu.Lock()
			f := s.mu.segs[l.seg]
			s.mu.Unlock()
			n := len(head)
			head = append(head, make([]byte, l.size)...)
			if f == nil {
				return head[:n], fmt.Errorf("raftlog: group %d: segment %d is gone", g.id, l.seg)
			}
			if _, err := f.ReadAt(head[n:], l.off); err != nil {
				return head[:n], fmt.Errorf("raftlog: group %d: copying an entry forward: %w", g.id, err)
			}
			if _, _, ok := nextRecord(head[n:]); !ok {
				return head[:n], fmt.Errorf("raftlog: group %d: a corrupt record in segment %d at %d", g.id, l.seg, l.off)
			}
		}
		s.log.Debug("raftlog: copied a group's entries forward", zap.Uint64("group", g.id), zap.Int("entries", len(locs)))
	}
	return head, nil
}

// reclaim deletes the segments before the oldest one that holds an entry
// some group still keeps (never the active one): their other records are
// all in the checkpoints of later segments.
func (s *Store) reclaim() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.mu.order) < 2 {
		return
	}
	keep := s.w.seq
	for _, g := range s.mu.groups {
		g.mu.Lock()
		if len(g.mu.locs) > 0 {
			keep = min(keep, g.mu.locs[0].seg)
		}
		g.mu.Unlock()
	}
	for len(s.mu.order) > 1 && s.mu.order[0] < keep {
		seq := s.mu.order[0]
		s.mu.order = s.mu.order[1:]
		if f := s.mu.segs[seq]; f != nil {
			f.Close()
		}
		delete(s.mu.segs, seq)
		if err := os.Remove(s.segPath(seq)); err != nil {
			s.log.Warn("raftlog: removing a segment", zap.Error(err))
		}
	}
}

// writeFileSynced writes data to path through a temporary file (path
// and suffix, which ends in .tmp), synced before the rename.
func writeFileSynced(path, suffix string, data []byte) error {
	tmp := path + suffix
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := fdatasync(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
