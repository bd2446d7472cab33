package exchange

import (
	"fmt"
	"testing"
)

func BenchmarkRoute(b *testing.B) {
	regions := []string{"eu", "us", "apac"}
	topic := func(n int) *Exchange {
		x := &Exchange{Name: "t", Kind: Topic}
		for i := 0; len(x.r.byDest) < n; i++ {
			d := q(fmt.Sprint(i))
			switch i % 4 {
			case 0:
				x.Bind(Binding{Destination: d, Key: "order.*." + regions[i%3]})
			case 1:
				x.Bind(Binding{Destination: d, Key: fmt.Sprintf("order.%d.#", i)})
			case 2:
				x.Bind(Binding{Destination: d, Key: fmt.Sprintf("stock.%d.*", i)})
			case 3:
				x.Bind(Binding{Destination: d, Key: fmt.Sprintf("audit.%d.#", i)})
			}
		}
		return x
	}
	for _, n := range []int{1_000, 10_000, 100_000} {
		x := topic(n)
		b.Run(fmt.Sprintf("topic/bindings=%d", n), func(b *testing.B) {
			out := make([]Destination, 0, 64)
			b.ReportAllocs()
			for b.Loop() {
				out = x.Route("stock.42.nyse", nil, out[:0])
			}
		})
	}
	b.Run("direct/bindings=10000", func(b *testing.B) {
		x := &Exchange{Name: "d", Kind: Direct}
		for i := range 10_000 {
			x.Bind(Binding{Destination: q(fmt.Sprint(i)), Key: fmt.Sprint("k", i)})
		}
		out := make([]Destination, 0, 4)
		b.ReportAllocs()
		for b.Loop() {
			out = x.Route("k777", nil, out[:0])
		}
	})
	b.Run("fanout/bindings=10", func(b *testing.B) {
		x := &Exchange{Name: "f", Kind: Fanout}
		for i := range 10 {
			x.Bind(Binding{Destination: q(fmt.Sprint(i))})
		}
		out := make([]Destination, 0, 16)
		b.ReportAllocs()
		for b.Loop() {
			out = x.Route("", nil, out[:0])
		}
	})
	b.Run("headers/bindings=100", func(b *testing.B) {
		x := &Exchange{Name: "h", Kind: Headers}
		for i := range 100 {
			x.Bind(Binding{Destination: q(fmt.Sprint(i)), Args: map[string]any{
				"x-match": "all", "format": "pdf", "shard": int32(i),
			}})
		}
		headers := map[string]any{"format": "pdf", "shard": int64(42), "lang": "en"}
		out := make([]Destination, 0, 4)
		b.ReportAllocs()
		for b.Loop() {
			out = x.Route("", headers, out[:0])
		}
	})
}
