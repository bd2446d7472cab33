package binding

// setIndexMin is the size above which a set keeps a position index, so that
// Remove stays O(1) for nodes with many destinations while small sets (the
// common case) cost one slice and nothing else.
const setIndexMin = 16

// set is an insertion-ordered set of destinations. Iterating items is what
// the hot path does; add and remove are for the (rarer) binding changes.
type set[D comparable] struct {
	items []D
	index map[D]int // position in items; nil while len(items) <= setIndexMin
}

func (s *set[D]) len() int { return len(s.items) }

func (s *set[D]) pos(d D) int {
	if s.index != nil {
		if i, ok := s.index[d]; ok {
			return i
		}
		return -1
	}
	for i, x := range s.items {
		if x == d {
			return i
		}
	}
	return -1
}

// add inserts d and reports whether it was absent.
func (s *set[D]) add(d D) bool {
	if s.pos(d) >= 0 {
		return false
	}
	s.items = append(s.items, d)
	switch {
	case s.index != nil:
		s.index[d] = len(s.items) - 1
	case len(s.items) > setIndexMin:
		s.index = make(map[D]int, len(s.items))
		for i, x := range s.items {
			s.index[x] = i
		}
	}
	return true
}

// remove deletes d and reports whether it was present. The last item moves
// into the hole, so removal is O(1) once the set is indexed.
func (s *set[D]) remove(d D) bool {
	i := s.pos(d)
	if i < 0 {
		return false
	}
	last := len(s.items) - 1
	if i != last {
		s.items[i] = s.items[last]
		if s.index != nil {
			s.index[s.items[i]] = i
		}
	}
	var zero D
	s.items[last] = zero
	s.items = s.items[:last]
	if s.index != nil {
		delete(s.index, d)
		if len(s.items) <= setIndexMin/2 {
			s.index = nil
		}
	}
	if len(s.items) == 0 {
		s.items = nil
	}
	return true
}
