package stream

// Single active consumer per tag (with offset tracking): of the consumers
// sharing a tag, one reads; the others wait in order, and when the active
// one leaves, the next starts, from the tag's tracked offset: exactly
// where the acks of the one before stopped.

type standby struct {
	id    uint64
	start func()
}

type activeSet struct {
	active  uint64 // 0: none
	waiting []standby
}

// Claim makes the caller tag's active reader, running start at once, or,
// if another is active, a standby whose start runs when its turn comes
// (on the goroutine of the Unclaim that hands over). It returns the
// claim's id for Unclaim.
func (s *Stream) Claim(tag string, start func()) (id uint64) {
	s.mu.Lock()
	s.mu.claims++
	id = s.mu.claims
	if s.mu.active == nil {
		s.mu.active = map[string]*activeSet{}
	}
	set := s.mu.active[tag]
	if set == nil {
		set = &activeSet{}
		s.mu.active[tag] = set
	}
	if set.active != 0 {
		set.waiting = append(set.waiting, standby{id: id, start: start})
		s.mu.Unlock()
		return id
	}
	set.active = id
	s.mu.Unlock()
	start()
	return id
}

// Unclaim ends claim id: a standby leaves the line; the active one hands
// over to the first standby.
func (s *Stream) Unclaim(tag string, id uint64) {
	s.mu.Lock()
	set := s.mu.active[tag]
	if set == nil {
		s.mu.Unlock()
		return
	}
	if set.active != id {
		for i, w := range set.waiting {
			if w.id == id {
				set.waiting = append(set.waiting[:i], set.waiting[i+1:]...)
				break
			}
		}
		s.mu.Unlock()
		return
	}
	if len(set.waiting) == 0 {
		delete(s.mu.active, tag)
		s.mu.Unlock()
		return
	}
	next := set.waiting[0]
	set.waiting = set.waiting[1:]
	set.active = next.id
	s.mu.Unlock()
	next.start()
}
