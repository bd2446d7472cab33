package stream

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
)

// Server-side offset tracking (LavinMQ's x-stream-automatic-offset-tracking):
// for each consumer tag, the offset to resume from, i.e. one past the
// highest offset below which every delivery was acknowledged; beside them
// (protocol.go) the stream protocol's stored offsets and publisher
// sequences. Kept in the OffsetStore (the broker's Badger store, one
// record per stream) or, without one, in Dir/offsets as JSON {"tag": next,
// ...}, rewritten whole (write to offsets.tmp, fsync, rename, fsync the
// directory) by the tracker goroutine, which coalesces updates: Track
// returns at once, and a crash loses at most the updates of the last
// moments (the consumer then reads a few acknowledged messages again:
// at-least-once).
const offsetsFile = "offsets"

// OffsetStore keeps a stream's tracked offsets durably: Save replaces the
// whole set and returns once it is on disk.
type OffsetStore interface {
	Load() (map[string]uint64, error)
	Save(map[string]uint64) error
	Drop() error
}

// loadOffsets reads the tracked offsets from the OffsetStore, taking in
// those of a file left by an older Warren; none if unreadable (tracking
// starts again, never refusing to start).
func (s *Stream) loadOffsets() map[string]uint64 {
	file := loadOffsetsFile(s.dir)
	if s.offsets == nil {
		return file
	}
	m, err := s.offsets.Load()
	if err != nil || m == nil {
		m = map[string]uint64{}
	}
	if len(file) > 0 {
		for k, v := range file {
			if _, ok := m[k]; !ok {
				m[k] = v
			}
		}
		if s.offsets.Save(m) == nil {
			os.Remove(filepath.Join(s.dir, offsetsFile))
		}
	}
	return m
}

// loadOffsetsFile reads Dir/offsets (none if missing or unreadable).
func loadOffsetsFile(dir string) map[string]uint64 {
	m := map[string]uint64{}
	b, err := os.ReadFile(filepath.Join(dir, offsetsFile))
	if err != nil {
		return m
	}
	if json.Unmarshal(b, &m) != nil {
		return map[string]uint64{}
	}
	return m
}

// Tracked returns the offset to resume tag from, if one was tracked.
func (s *Stream) Tracked(tag string) (next uint64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next, ok = s.mu.offsets[tag]
	return next, ok
}

// Track records that tag resumes at next, durably but not at once.
func (s *Stream) Track(tag string, next uint64) {
	s.mu.Lock()
	if cur, ok := s.mu.offsets[tag]; ok && cur >= next {
		s.mu.Unlock()
		return
	}
	s.mu.offsets[tag] = next
	s.mu.offsetsDirty = true
	s.mu.Unlock()
	select {
	case s.trackKick <- struct{}{}:
	default:
	}
}

// tracker writes the tracked offsets while they change, until stop.
func (s *Stream) tracker() {
	defer close(s.trackDone)
	for {
		select {
		case <-s.trackKick:
			s.saveOffsets()
		case <-s.stop:
			s.saveOffsets()
			return
		}
	}
}

func (s *Stream) saveOffsets() {
	s.mu.Lock()
	if !s.mu.offsetsDirty {
		s.mu.Unlock()
		return
	}
	if s.offsets != nil {
		m := maps.Clone(s.mu.offsets)
		s.mu.offsetsDirty = false
		s.mu.Unlock()
		if err := s.offsets.Save(m); err != nil {
			s.mu.Lock()
			s.mu.offsetsDirty = true // try again at the next update
			s.mu.Unlock()
		}
		return
	}
	b, err := json.Marshal(s.mu.offsets)
	s.mu.offsetsDirty = false
	s.mu.Unlock()
	if err != nil {
		return
	}
	tmp := filepath.Join(s.dir, offsetsFile+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return // the directory is gone (deleted): nothing to keep
	}
	_, werr := f.Write(b)
	serr := f.Sync()
	f.Close()
	if werr != nil || serr != nil || os.Rename(tmp, filepath.Join(s.dir, offsetsFile)) != nil {
		s.mu.Lock()
		s.mu.offsetsDirty = true // try again at the next update
		s.mu.Unlock()
		return
	}
	if d, err := os.Open(s.dir); err == nil {
		d.Sync()
		d.Close()
	}
}
