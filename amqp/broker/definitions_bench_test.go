package broker

import (
	"fmt"
	"testing"

	"github.com/warrenmq/warren/exchange"
)

// definitions10k is a broker with 10,000 durable queues, each bound to one
// of 100 topic exchanges, on a store.
func definitions10k(b *testing.B) *Broker {
	b.Helper()
	br := New(Config{Store: openStore(b, b.TempDir())})
	if _, err := br.Recover(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { br.Stop(); br.Store().Close() })
	v := br.Vhost("/")
	for i := range 100 {
		if _, err := v.Apply(DeclareExchange{Name: fmt.Sprintf("x%d", i), Kind: exchange.Topic, Durable: true}); err != nil {
			b.Fatal(err)
		}
	}
	steps := make([]step, 0, 20000)
	for i := range 10000 {
		steps = append(steps, step{"/", DeclareQueue{Name: fmt.Sprintf("q%05d", i), Durable: true, Args: map[string]any{"x-max-length": int64(1000)}}, "q"})
	}
	if err := br.applyPhase(steps); err != nil {
		b.Fatal(err)
	}
	steps = steps[:0]
	for i := range 10000 {
		steps = append(steps, step{"/", Bind{Source: fmt.Sprintf("x%d", i%100), Destination: exchange.Destination{Name: fmt.Sprintf("q%05d", i)}, Key: fmt.Sprintf("orders.%d.#", i)}, "b"})
	}
	if err := br.applyPhase(steps); err != nil {
		b.Fatal(err)
	}
	return br
}

// BenchmarkExport10k: the export of 10,000 queues and their bindings, to
// JSON (goal: <= 1 s).
func BenchmarkExport10k(b *testing.B) {
	br := definitions10k(b)
	b.ReportAllocs()
	var size int
	for b.Loop() {
		raw, err := MarshalDefinitions(br.Export("bench"))
		if err != nil {
			b.Fatal(err)
		}
		size = len(raw)
	}
	b.ReportMetric(float64(size), "bytes/export")
}

// BenchmarkImport10k: that export imported into a fresh broker on a fresh
// store, every definition stored (goal: <= 5 s).
func BenchmarkImport10k(b *testing.B) {
	raw, err := MarshalDefinitions(definitions10k(b).Export("bench"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		st := openStore(b, b.TempDir())
		br := New(Config{Store: st})
		if _, err := br.Recover(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := br.Import(raw, ""); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if n := len(br.Vhost("/").Queues()); n != 10000 {
			b.Fatalf("%d queues imported", n)
		}
		br.Stop()
		st.Close()
		b.StartTimer()
	}
}
