package broker

import (
	"testing"

	"github.com/warrenmq/warren/exchange"
)

func TestRestoreDefinitions(t *testing.T) {
	src, dst := New(Config{}), New(Config{})
	for _, b := range []*Broker{src, dst} {
		v := b.Vhost("/")
		apply(t, v, DeclareQueue{Name: "same", Durable: true})
		apply(t, v, DeclareExchange{Name: "x", Kind: exchange.Topic, Durable: true})
	}
	vs := src.Vhost("/")
	apply(t, vs, DeclareQueue{Name: "new", Durable: true, Args: map[string]any{"x-max-length": int32(3)}})
	apply(t, vs, Bind{Source: "x", Destination: exchange.Destination{Name: "new"}, Key: "a.#"})
	apply(t, vs, SetPolicy{Policy: Policy{Name: "p", Pattern: "^n", ApplyTo: "queues", Definition: map[string]any{"max-length": float64(9)}}})
	if _, err := src.Apply("", AddVhost{Name: "other"}); err != nil {
		t.Fatal(err)
	}

	vd := dst.Vhost("/")
	apply(t, vd, DeclareQueue{Name: "new", Durable: false})                          // differs: replaced
	apply(t, vd, DeclareQueue{Name: "stale", Durable: true})                         // not in the source: deleted
	apply(t, vd, Bind{Source: "x", Destination: exchange.Destination{Name: "same"}}) // deleted
	if _, err := dst.Apply("", AddVhost{Name: "gone"}); err != nil {
		t.Fatal(err)
	}
	keep := vd.Queue("same")

	raw, err := MarshalDefinitions(src.Export(""))
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.RestoreDefinitions(raw); err != nil {
		t.Fatal(err)
	}
	got, _ := MarshalDefinitions(dst.Export(""))
	if string(got) != string(raw) {
		t.Fatalf("after restore:\n%s\nwant\n%s", got, raw)
	}
	if vd.Queue("same") != keep {
		t.Fatal("a queue the snapshot holds as it is was replaced (its messages would be lost)")
	}
	if routeNames(vd, "x", "a.b") == nil || routeNames(vd, "x", "a.b")[0] != "new" {
		t.Fatalf("x routes a.b to %v, want [new]", routeNames(vd, "x", "a.b"))
	}
}
