package stream

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// Server-side offset tracking (LavinMQ's x-stream-automatic-offset-tracking):
// for each consumer tag, the offset to resume from, i.e. one past the
// highest offset below which every delivery was acknowledged. Kept in
// Dir/offsets as JSON {"tag": next, ...}, rewritten whole (write to
// offsets.tmp, fsync, rename, fsync the directory) by the tracker
// goroutine, which coalesces updates: Track returns at once, and a crash
// loses at most the updates of the last moments (the consumer then reads
// a few acknowledged messages again: at-least-once).

const offsetsFile = "offsets"

// loadOffsets reads the tracked offsets (none if the file is missing or
// unreadable: tracking starts again, never refusing to start).
func loadOffsets(dir string) map[string]uint64 {
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
