package binding

import (
	"slices"
	"strings"
	"sync"
)

// Topic matches AMQP topic routing keys against binding patterns and returns
// the destinations bound with the patterns that match.
//
// A pattern is a list of words separated by '.'. The word "*" matches exactly
// one word, the word "#" matches zero or more words, and any other word
// (including "a*", "#b" and the empty word) matches itself only.
//
// The patterns live in a trie with one edge per word; "*" and "#" edges are
// kept apart from the literal ones so that matching a key is a walk that
// follows, at each node, the edge of the key's word, the "*" edge and the "#"
// edge.
//
// The zero value is an empty Topic ready to use. A Topic must not be copied
// after first use. Add and Remove must not run concurrently with each other
// or with Match; any number of Match calls may run concurrently with each
// other (Match keeps its scratch state on its own stack; the sync.Pool it
// may use for large results is safe for concurrent use).
type Topic[D comparable] struct {
	root node[D]
	n    int
	// seen holds *map[D]struct{} for deduplicating large results, so that a
	// key matching many destinations through several patterns still does
	// not allocate once the pool is warm.
	seen sync.Pool
}

type node[D comparable] struct {
	parent *node[D]
	word   string // label of the edge from parent; "*" or "#" for wildcards
	lit    map[string]*node[D]
	star   *node[D]
	hash   *node[D]
	dests  set[D]
}

func (n *node[D]) empty() bool {
	return n.dests.len() == 0 && len(n.lit) == 0 && n.star == nil && n.hash == nil
}

func (n *node[D]) child(w string) *node[D] {
	switch w {
	case "*":
		return n.star
	case "#":
		return n.hash
	}
	return n.lit[w]
}

func (n *node[D]) ensureChild(w string) *node[D] {
	if c := n.child(w); c != nil {
		return c
	}
	c := &node[D]{parent: n, word: w}
	switch w {
	case "*":
		n.star = c
	case "#":
		n.hash = c
	default:
		if n.lit == nil {
			n.lit = make(map[string]*node[D])
		}
		n.lit[w] = c
	}
	return c
}

func (n *node[D]) dropChild(c *node[D]) {
	switch {
	case c == n.star:
		n.star = nil
	case c == n.hash:
		n.hash = nil
	default:
		delete(n.lit, c.word)
		if len(n.lit) == 0 {
			n.lit = nil
		}
	}
}

// eachWord calls f with each word of a routing key or binding pattern.
//
// rabbitmq: a key is split on every '.', so "a..b" is the three words
// "a", "", "b", ".a" is "", "a" and "a." is "a", "". The empty key "" is
// ZERO words, not one empty word (3.10 rabbit_exchange_type_topic
// split_topic_key(<<>>) -> []): "#" and "" match it, "*" does not. The same
// split applies to binding patterns, so the pattern "" matches only the
// key "".
func eachWord(s string, f func(w string)) {
	if s == "" {
		return
	}
	for {
		i := strings.IndexByte(s, '.')
		if i < 0 {
			f(s)
			return
		}
		f(s[:i])
		s = s[i+1:]
	}
}

// appendWords appends the words of key to dst without allocating beyond
// growing dst.
func appendWords(dst []string, key string) []string {
	if key == "" {
		return dst
	}
	for {
		i := strings.IndexByte(key, '.')
		if i < 0 {
			return append(dst, key)
		}
		dst = append(dst, key[:i])
		key = key[i+1:]
	}
}

// Add binds d with pattern. It reports false if the pair was already there.
func (t *Topic[D]) Add(pattern string, d D) bool {
	n := &t.root
	eachWord(pattern, func(w string) { n = n.ensureChild(w) })
	if !n.dests.add(d) {
		return false
	}
	t.n++
	return true
}

// Remove unbinds d from pattern. It reports false if the pair was not there.
// Nodes left with no destination and no child are pruned.
func (t *Topic[D]) Remove(pattern string, d D) bool {
	n := &t.root
	eachWord(pattern, func(w string) {
		if n != nil {
			n = n.child(w)
		}
	})
	if n == nil || !n.dests.remove(d) {
		return false
	}
	t.n--
	for n.parent != nil && n.empty() {
		n.parent.dropChild(n)
		n = n.parent
	}
	return true
}

// Len returns the number of (pattern, destination) pairs.
func (t *Topic[D]) Len() int { return t.n }

// Match appends to out every destination bound with a pattern that matches
// routingKey, each once however many of its patterns match, and returns the
// extended slice. Only the appended part is deduplicated: destinations
// already in out are not looked at. The order is unspecified.
//
// Match allocates nothing beyond growing out for keys of up to stackWords
// words (longer keys cost one allocation for the word list) and tries where
// a key reaches at most memoInline "#" nodes.
func (t *Topic[D]) Match(routingKey string, out []D) []D {
	if t.n == 0 {
		return out
	}
	var buf [stackWords]string
	words := appendWords(buf[:0], routingKey)
	s := scan[D]{out: out, start: len(out), pool: &t.seen}
	s.walk(&t.root, 0, words)
	if s.seen != nil && len(*s.seen) <= maxPooledSeen {
		// clear costs as much as the map's capacity: do not keep the map
		// of a rare huge fan-out for every later call to pay for.
		clear(*s.seen)
		t.seen.Put(s.seen)
	}
	return s.out
}

const (
	// stackWords is how many words of a routing key Match splits without
	// allocating. Routing keys are short strings (at most 255 bytes).
	stackWords = 32
	// memoInline is how many "#" nodes a Match call remembers without
	// allocating.
	memoInline = 8
	// linearDedupMax is how many results Match deduplicates by scanning
	// before it switches to a pooled map.
	linearDedupMax = 16
	// maxPooledSeen caps the size of the dedup maps kept for reuse.
	maxPooledSeen = 4096
)

// scan is the per-call state of Match. It lives on Match's stack, so
// concurrent calls share nothing. It must not point into that stack (the
// word list is a separate argument): escape analysis does not tell fields
// apart, so a pointer to the stack stored here would move the stack buffer
// to the heap.
type scan[D comparable] struct {
	out   []D
	start int // len(out) when Match was called
	// nodes counts the nodes that emitted destinations; the first one can
	// append without looking for duplicates, as a node's set has none.
	nodes int
	pool  *sync.Pool
	seen  *map[D]struct{} // nil until the result outgrows linearDedupMax
	// memo records, for each "#" node entered, the lowest word position it
	// was entered at: entering it again at or after that position can only
	// find what was already found. This bounds the walk by
	// O(nodes x words) where naive backtracking over patterns with several
	// "#" is exponential.
	nmemo int
	memo  [memoInline]hashVisit[D]
	more  []hashVisit[D] // beyond memoInline
}

type hashVisit[D comparable] struct {
	n    *node[D]
	from int
}

// walk matches words[i:] against the subtrie at n.
// rabbitmq: at each node follow the edge of the word itself, then "*"
// (one word), then "#" (zero or more words); when the words run out the
// node's own bindings match, and so do those reached through "#" edges.
func (s *scan[D]) walk(n *node[D], i int, words []string) {
	if i == len(words) {
		if n.dests.len() > 0 {
			s.emit(n.dests.items)
		}
		if n.hash != nil {
			s.skip(n.hash, i, words)
		}
		return
	}
	if n.lit != nil {
		if c := n.lit[words[i]]; c != nil {
			s.walk(c, i+1, words)
		}
	}
	if n.star != nil {
		s.walk(n.star, i+1, words)
	}
	if n.hash != nil {
		s.skip(n.hash, i, words)
	}
}

// skip lets the "#" node h absorb zero or more words starting at i.
func (s *scan[D]) skip(h *node[D], i int, words []string) {
	v := s.visit(h)
	end := len(words) // last position to try, inclusive
	if v.n == h {
		if i >= v.from {
			return
		}
		end = v.from - 1
	}
	// Write the entry before the loop: v may point into s.more, which the
	// walk below can grow. A trie is a tree, so nothing below h leads back
	// to h and reads the entry early.
	v.n, v.from = h, i
	for j := i; j <= end; j++ {
		s.walk(h, j, words)
	}
}

// visit returns the memo entry of h, or a free one.
func (s *scan[D]) visit(h *node[D]) *hashVisit[D] {
	for k := range s.nmemo {
		if s.memo[k].n == h {
			return &s.memo[k]
		}
	}
	for k := range s.more {
		if s.more[k].n == h {
			return &s.more[k]
		}
	}
	if s.nmemo < memoInline {
		s.nmemo++
		return &s.memo[s.nmemo-1]
	}
	s.more = append(s.more, hashVisit[D]{})
	return &s.more[len(s.more)-1]
}

func (s *scan[D]) emit(ds []D) {
	s.nodes++
	if s.nodes == 1 {
		s.out = append(s.out, ds...)
		return
	}
	for _, d := range ds {
		if s.seen == nil && len(s.out)-s.start > linearDedupMax {
			s.spill()
		}
		if s.seen != nil {
			if _, dup := (*s.seen)[d]; dup {
				continue
			}
			(*s.seen)[d] = struct{}{}
		} else if slices.Contains(s.out[s.start:], d) {
			continue
		}
		s.out = append(s.out, d)
	}
}

// spill moves deduplication from scanning out to a pooled map.
func (s *scan[D]) spill() {
	seen, ok := s.pool.Get().(*map[D]struct{})
	if !ok {
		m := make(map[D]struct{}, 2*linearDedupMax)
		seen = &m
	}
	for _, d := range s.out[s.start:] {
		(*seen)[d] = struct{}{}
	}
	s.seen = seen
}
