package binding

import (
	"fmt"
	"strings"
	"testing"
)

// checkTopic builds a Topic from patterns (pattern i bound to destination
// i%3, so destinations have several patterns), matches each key and
// compares with refMatch. It then removes every other pattern and checks
// again, so pruning is covered too.
func checkTopic(t *testing.T, patterns, keys []string) {
	t.Helper()
	var tp Topic[int]
	type pair struct {
		pattern string
		d       int
	}
	live := map[pair]bool{}
	for i, p := range patterns {
		pr := pair{p, i % 3}
		if got := tp.Add(p, pr.d); got == live[pr] {
			t.Fatalf("Add(%q, %d) = %v with the pair present=%v", p, pr.d, got, live[pr])
		}
		live[pr] = true
	}
	check := func(stage string) {
		t.Helper()
		if tp.Len() != len(live) {
			t.Fatalf("%s: Len = %d, want %d", stage, tp.Len(), len(live))
		}
		for _, k := range keys {
			want := map[int]bool{}
			for pr := range live {
				if refMatch(refWords(pr.pattern), refWords(k)) {
					want[pr.d] = true
				}
			}
			got := tp.Match(k, []int{-1})
			if got[0] != -1 {
				t.Fatalf("%s: Match(%q) overwrote out", stage, k)
			}
			seen := map[int]bool{}
			for _, d := range got[1:] {
				if seen[d] {
					t.Fatalf("%s: Match(%q) = %v has %d twice", stage, k, got[1:], d)
				}
				seen[d] = true
				if !want[d] {
					t.Fatalf("%s: Match(%q) = %v has %d, reference does not (bindings %v)", stage, k, got[1:], d, live)
				}
			}
			if len(seen) != len(want) {
				t.Fatalf("%s: Match(%q) = %v, reference wants %v (bindings %v)", stage, k, got[1:], want, live)
			}
		}
	}
	check("after add")
	for i, p := range patterns {
		if i%2 == 1 {
			continue
		}
		pr := pair{p, i % 3}
		if got := tp.Remove(p, pr.d); got != live[pr] {
			t.Fatalf("Remove(%q, %d) = %v with the pair present=%v", p, pr.d, got, live[pr])
		}
		delete(live, pr)
	}
	check("after remove")
	for pr := range live {
		tp.Remove(pr.pattern, pr.d)
	}
	if tp.Len() != 0 || !tp.root.empty() {
		t.Fatalf("not empty after removing everything: Len=%d", tp.Len())
	}
}

// limitWords keeps at most n words of s, so the exponential reference stays
// fast.
func limitWords(s string, n int) string {
	w := strings.SplitN(s, ".", n+1)
	if len(w) > n {
		w = w[:n]
	}
	return strings.Join(w, ".")
}

func splitLines(s string, maxLines, maxWords int) []string {
	lines := strings.Split(s, "\n")
	if len(lines) > maxLines {
		lines = lines[:maxLines]
	}
	for i := range lines {
		lines[i] = limitWords(lines[i], maxWords)
	}
	return lines
}

// FuzzTopic checks the trie against refMatch. The first argument holds
// patterns and the second routing keys, one a line.
func FuzzTopic(f *testing.F) {
	f.Add("a.#\n#\n*.b\na.*.c", "a\na.b\na.b.c\n\n.")
	f.Add("#.#\n#.*\n*.#\n", "\nx\nx.y")
	f.Add("a..b\n.a\na.\n*.*\n", "a..b\n.a\na.\n.\n..")
	f.Add("#.a.#.b\na.#.#.b\n#.b.#", "a.b\nb\nx.a.y.b\na.a.b.b")
	f.Add("*\n\n#", "\n*\n#")
	f.Fuzz(func(t *testing.T, patterns, keys string) {
		checkTopic(t, splitLines(patterns, 12, 10), splitLines(keys, 8, 14))
	})
}

func TestTopicAgainstReference(t *testing.T) {
	words := []string{"a", "b", "", "*", "#"}
	// every pattern of up to three words over a small alphabet
	var patterns []string
	var gen func(prefix []string, n int)
	gen = func(prefix []string, n int) {
		patterns = append(patterns, strings.Join(prefix, "."))
		if n == 0 {
			return
		}
		for _, w := range words {
			gen(append(prefix, w), n-1)
		}
	}
	gen(nil, 3)
	keys := []string{"", ".", "a", "b", "a.b", "b.a", "a.a.a", "a..b", "a.b.a.b", "*", "#.a"}
	for i := 0; i < len(patterns); i += 12 {
		checkTopic(t, patterns[i:min(i+12, len(patterns))], keys)
	}
}

// More "#" nodes than memoInline on one walk, so the memo spills.
func TestTopicManyHashNodes(t *testing.T) {
	var patterns, keys []string
	for i := range 20 {
		patterns = append(patterns, fmt.Sprintf("#.k%d.#.x", i), fmt.Sprintf("#.k%d.#", i))
	}
	var key []string
	for i := range 20 {
		key = append(key, fmt.Sprintf("k%d", i))
	}
	keys = append(keys, strings.Join(key, "."), strings.Join(key, ".")+".x", "x", "k3.k3.x")
	checkTopic(t, patterns, keys)
}
