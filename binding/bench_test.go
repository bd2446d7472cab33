package binding

import (
	"fmt"
	"testing"
)

// topicBindings builds a topic trie of n bindings with realistic patterns:
// per-region order queues, catch-alls and one queue per stock symbol.
func topicBindings(n int) *Topic[int] {
	var tp Topic[int]
	regions := []string{"eu", "us", "apac"}
	for i := 0; tp.Len() < n; i++ {
		switch i % 4 {
		case 0:
			tp.Add(fmt.Sprintf("order.*.%s", regions[i%3]), i)
		case 1:
			tp.Add("order.#", i)
		case 2:
			tp.Add(fmt.Sprintf("stock.%d.*", i), i)
		case 3:
			tp.Add(fmt.Sprintf("audit.%d.#", i), i)
		}
	}
	return &tp
}

func BenchmarkTopicMatch(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		tp := topicBindings(n)
		for _, key := range []string{"stock.42.nyse", "audit.7.user.login", "nothing.here"} {
			b.Run(fmt.Sprintf("bindings=%d/key=%s", n, key), func(b *testing.B) {
				out := make([]int, 0, 64)
				b.ReportAllocs()
				for b.Loop() {
					out = tp.Match(key, out[:0])
				}
			})
		}
	}
}

// Keys matched by every "order.#" binding: n/4 destinations per call, and
// n/4 more patterns of the same destinations' kind overlapping.
func BenchmarkTopicMatchFanout(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		tp := topicBindings(n)
		b.Run(fmt.Sprintf("bindings=%d", n), func(b *testing.B) {
			out := make([]int, 0, n)
			b.ReportAllocs()
			for b.Loop() {
				out = tp.Match("order.created.eu", out[:0])
			}
			b.ReportMetric(float64(len(out)), "dests")
		})
	}
}

func BenchmarkDirectMatch(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		var x Direct[int]
		for i := range n {
			x.Add(fmt.Sprintf("queue-%d", i), i)
		}
		b.Run(fmt.Sprintf("bindings=%d", n), func(b *testing.B) {
			out := make([]int, 0, 4)
			b.ReportAllocs()
			for b.Loop() {
				out = x.Match("queue-777", out[:0])
			}
		})
	}
}

func BenchmarkMatchHeaders(b *testing.B) {
	headers := map[string]any{
		"format": "pdf", "type": "report", "pages": int32(12),
		"lang": "en", "x-trace": "abc", "size": int64(100000),
	}
	cases := []struct {
		name string
		args map[string]any
	}{
		{"all", map[string]any{"x-match": "all", "format": "pdf", "type": "report", "pages": int64(12)}},
		{"any", map[string]any{"x-match": "any", "format": "zip", "lang": "en"}},
		{"all-with-x", map[string]any{"x-match": "all-with-x", "format": "pdf", "x-trace": "abc"}},
		{"miss", map[string]any{"format": "pdf", "type": "invoice"}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				MatchHeaders(c.args, headers)
			}
		})
		b.Run(c.name+"/compiled", func(b *testing.B) {
			h := CompileHeaders(c.args)
			b.ReportAllocs()
			for b.Loop() {
				h.Match(headers)
			}
		})
	}
}
