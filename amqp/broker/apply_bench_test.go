package broker

import (
	"strconv"
	"testing"
)

// BenchmarkApplyDeclare is Apply's cost without a store: a new queue each
// time, and the redeclare of one that exists (the equivalence check) —
// the path a Replicator must leave as it was when none is set.
func BenchmarkApplyDeclare(b *testing.B) {
	b.Run("new", func(b *testing.B) {
		v := New(Config{}).Vhost("/")
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			i++
			if _, err := v.Apply(DeclareQueue{Name: "q" + strconv.Itoa(i)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("redeclare", func(b *testing.B) {
		v := New(Config{}).Vhost("/")
		args := map[string]any{"x-max-length": int32(10)}
		if _, err := v.Apply(DeclareQueue{Name: "q", Args: args}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Apply(DeclareQueue{Name: "q", Args: args}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
