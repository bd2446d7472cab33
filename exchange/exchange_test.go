package exchange

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/warrenmq/warren/binding"
)

func q(name string) Destination  { return Destination{Name: name} }
func ex(name string) Destination { return Destination{Exchange: true, Name: name} }

type table = map[string]any

func bind(t *testing.T, x *Exchange, d Destination, key string, args table) {
	t.Helper()
	if !x.Bind(Binding{Destination: d, Key: key, Args: args}) {
		t.Fatalf("Bind(%v, %q, %v) = false", d, key, args)
	}
}

func sameDests(got, want []Destination) bool {
	if len(got) != len(want) {
		return false
	}
	a, b := slices.Clone(got), slices.Clone(want)
	slices.SortFunc(a, compareDestinations)
	slices.SortFunc(b, compareDestinations)
	return slices.Equal(a, b)
}

type routeCase struct {
	key     string
	headers table
	want    []Destination
}

func checkRoutes(t *testing.T, x *Exchange, cases []routeCase) {
	t.Helper()
	for _, c := range cases {
		got := x.Route(c.key, c.headers, nil)
		if !sameDests(got, c.want) {
			t.Errorf("%s Route(%q, %v) = %v, want %v", x.Kind, c.key, c.headers, got, c.want)
		}
	}
}

func TestParseKind(t *testing.T) {
	for _, k := range []Kind{Direct, Fanout, Topic, Headers, Delayed} {
		got, err := ParseKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	for _, name := range []string{"foo", "", "Direct", "x-consistent-hash"} {
		k, err := ParseKind(name)
		if k != 0 || !errors.Is(err, ErrUnknownKind) {
			t.Errorf("ParseKind(%q) = %v, %v; want 0 and ErrUnknownKind", name, k, err)
		}
		if want := "invalid exchange type '" + name + "'"; err.Error() != want {
			t.Errorf("ParseKind(%q) error %q, want %q", name, err, want)
		}
	}
	if s := Kind(0).String(); s != "Kind(0)" {
		t.Errorf("Kind(0).String() = %q", s)
	}
}

func TestFanout(t *testing.T) {
	x := &Exchange{Name: "fan", Kind: Fanout}
	checkRoutes(t, x, []routeCase{{key: "any", want: nil}})
	bind(t, x, q("a"), "", nil)
	bind(t, x, q("b"), "ignored", nil)
	bind(t, x, q("b"), "other", nil) // a second binding to b: still routed once
	bind(t, x, ex("x2"), "", nil)
	checkRoutes(t, x, []routeCase{
		{key: "", want: []Destination{q("a"), q("b"), ex("x2")}},
		{key: "whatever.key", headers: table{"h": 1}, want: []Destination{q("a"), q("b"), ex("x2")}},
	})
	if !x.Unbind(Binding{Destination: q("b"), Key: "ignored"}) {
		t.Fatal("Unbind = false")
	}
	checkRoutes(t, x, []routeCase{{key: "k", want: []Destination{q("a"), q("b"), ex("x2")}}})
	if !x.Unbind(Binding{Destination: q("b"), Key: "other"}) {
		t.Fatal("Unbind = false")
	}
	checkRoutes(t, x, []routeCase{{key: "k", want: []Destination{q("a"), ex("x2")}}})
}

func TestDirect(t *testing.T) {
	x := &Exchange{Name: "amq.direct", Kind: Direct}
	bind(t, x, q("a"), "k1", nil)
	bind(t, x, q("b"), "k1", nil)
	bind(t, x, q("b"), "k2", nil)
	bind(t, x, q("empty"), "", nil)
	bind(t, x, ex("x2"), "k2", nil)
	checkRoutes(t, x, []routeCase{
		{key: "k1", want: []Destination{q("a"), q("b")}},
		{key: "k2", want: []Destination{q("b"), ex("x2")}},
		// the empty key is an ordinary key
		{key: "", want: []Destination{q("empty")}},
		{key: "K1", want: nil},
		{key: "k1.x", want: nil},
		{key: "#", want: nil},
	})
}

func TestTopic(t *testing.T) {
	x := &Exchange{Name: "amq.topic", Kind: Topic}
	bind(t, x, q("eu"), "order.*.eu", nil)
	bind(t, x, q("eu"), "#.eu", nil) // overlapping patterns: routed once
	bind(t, x, q("orders"), "order.#", nil)
	bind(t, x, q("all"), "#", nil)
	bind(t, x, q("empty"), "", nil)
	bind(t, x, q("one"), "*", nil)
	checkRoutes(t, x, []routeCase{
		{key: "order.created.eu", want: []Destination{q("eu"), q("orders"), q("all")}},
		{key: "order", want: []Destination{q("orders"), q("all"), q("one")}}, // # matches zero words
		{key: "", want: []Destination{q("all"), q("empty")}},                 // "" is zero words: not "*"
		{key: "eu", want: []Destination{q("eu"), q("all"), q("one")}},
		{key: "x.y", want: []Destination{q("all")}},
	})
}

func TestHeaders(t *testing.T) {
	x := &Exchange{Name: "amq.headers", Kind: Headers}
	bind(t, x, q("all"), "", table{"x-match": "all", "format": "pdf", "type": "report"})
	bind(t, x, q("any"), "", table{"x-match": "any", "format": "pdf", "type": "report"})
	bind(t, x, q("allx"), "", table{"x-match": "all-with-x", "format": "pdf", "x-tenant": "t1"})
	bind(t, x, q("anyx"), "", table{"x-match": "any-with-x", "x-tenant": "t1", "x-other": "o"})
	bind(t, x, q("default"), "", table{"format": "pdf", "x-ignored": "zzz"})
	bind(t, x, q("present"), "", table{"urgent": nil})
	bind(t, x, q("nums"), "", table{"n": int32(1)})
	// two bindings to one queue, both matching: routed once
	bind(t, x, q("twice"), "", table{"format": "pdf"})
	bind(t, x, q("twice"), "", table{"x-match": "any", "type": "report"})
	checkRoutes(t, x, []routeCase{
		{headers: table{"format": "pdf", "type": "report"},
			want: []Destination{q("all"), q("any"), q("default"), q("twice")}},
		{key: "keys are ignored", headers: table{"format": "pdf"},
			want: []Destination{q("any"), q("default"), q("twice")}},
		{headers: table{"format": "pdf", "x-tenant": "t1"},
			want: []Destination{q("any"), q("allx"), q("anyx"), q("default"), q("twice")}},
		{headers: table{"x-tenant": "t2", "x-other": "o"}, want: []Destination{q("anyx")}},
		{headers: table{"urgent": false}, want: []Destination{q("present")}},
		{headers: table{"n": int64(1)}, want: []Destination{q("nums")}},
		{headers: table{"n": 1.0}, want: []Destination{q("nums")}},
		{headers: nil, want: nil},
	})
	if !x.Unbind(Binding{Destination: q("twice"), Args: table{"format": "pdf"}}) {
		t.Fatal("Unbind = false")
	}
	checkRoutes(t, x, []routeCase{
		{headers: table{"format": "pdf"}, want: []Destination{q("any"), q("default")}},
		{headers: table{"type": "report"}, want: []Destination{q("any"), q("twice")}},
	})
	if n := x.RemoveDestination(q("twice")); n != 1 {
		t.Fatalf("RemoveDestination = %d, want 1", n)
	}
	if n := x.RemoveDestination(q("all")); n != 1 {
		t.Fatalf("RemoveDestination = %d, want 1", n)
	}
	checkRoutes(t, x, []routeCase{
		{headers: table{"format": "pdf", "type": "report"}, want: []Destination{q("any"), q("default")}},
	})
}

func TestValidateBinding(t *testing.T) {
	h := &Exchange{Kind: Headers}
	if err := h.ValidateBinding(Binding{Args: table{"x-match": "any"}}); err != nil {
		t.Fatalf("valid x-match: %v", err)
	}
	err := h.ValidateBinding(Binding{Args: table{"x-match": "most"}})
	if !errors.Is(err, binding.ErrInvalidXMatch) {
		t.Fatalf("invalid x-match: %v", err)
	}
	d := &Exchange{Kind: Direct}
	if err := d.ValidateBinding(Binding{Args: table{"x-match": "most"}}); err != nil {
		t.Fatalf("direct exchanges do not check x-match: %v", err)
	}
}

func TestDuplicateBinds(t *testing.T) {
	for _, kind := range []Kind{Direct, Fanout, Topic, Headers} {
		t.Run(kind.String(), func(t *testing.T) {
			x := &Exchange{Name: "x", Kind: kind}
			b := Binding{Destination: q("a"), Key: "k", Args: table{"a": int32(1), "t": table{"n": "v"}}}
			if !x.Bind(b) {
				t.Fatal("first Bind = false")
			}
			// the same binding: same args in a new map, and a different Source
			// (the exchange's own name is used)
			same := Binding{Source: "other", Destination: q("a"), Key: "k", Args: table{"t": table{"n": "v"}, "a": int32(1)}}
			if x.Bind(same) {
				t.Fatal("Bind of an identical binding = true")
			}
			// different arguments, key or destination: new bindings
			for _, nb := range []Binding{
				{Destination: q("a"), Key: "k", Args: table{"a": int64(1), "t": table{"n": "v"}}}, // type differs
				{Destination: q("a"), Key: "k", Args: table{"a": int32(2), "t": table{"n": "v"}}},
				{Destination: q("a"), Key: "k", Args: table{"a": int32(1)}},
				{Destination: q("a"), Key: "k"},
				{Destination: q("a"), Key: "k2", Args: b.Args},
				{Destination: ex("a"), Key: "k", Args: b.Args},
			} {
				if !x.Bind(nb) {
					t.Fatalf("Bind(%+v) = false", nb)
				}
			}
			if n := len(x.Bindings()); n != 7 {
				t.Fatalf("%d bindings, want 7", n)
			}
			for _, bb := range x.Bindings() {
				if bb.Source != "x" {
					t.Fatalf("binding source %q, want x", bb.Source)
				}
			}
			// nil and empty arguments are the same binding
			if x.Bind(Binding{Destination: q("a"), Key: "k", Args: table{}}) {
				t.Fatal("empty Args differs from nil Args")
			}
			// a message matching "k" (and the headers of b) goes to a once
			got := x.Route("k", table{"a": int32(1), "t": table{"n": "v"}}, nil)
			if n := count(got, q("a")); n != 1 {
				t.Fatalf("Route = %v: q(a) %d times, want once", got, n)
			}
		})
	}
}

func count(ds []Destination, d Destination) int {
	n := 0
	for _, x := range ds {
		if x == d {
			n++
		}
	}
	return n
}

func TestUnbind(t *testing.T) {
	for _, kind := range []Kind{Direct, Fanout, Topic} {
		t.Run(kind.String(), func(t *testing.T) {
			x := &Exchange{Name: "x", Kind: kind}
			args := table{"x-a": "1"}
			bind(t, x, q("a"), "k", nil)
			bind(t, x, q("a"), "k", args)
			if x.Unbind(Binding{Destination: q("a"), Key: "k", Args: table{"x-a": "2"}}) {
				t.Fatal("Unbind with other args = true")
			}
			if x.Unbind(Binding{Destination: q("b"), Key: "k"}) {
				t.Fatal("Unbind of another destination = true")
			}
			if !x.Unbind(Binding{Destination: q("a"), Key: "k"}) {
				t.Fatal("Unbind = false")
			}
			if x.Unbind(Binding{Destination: q("a"), Key: "k"}) {
				t.Fatal("second Unbind = true")
			}
			// the binding with args still routes
			if got := x.Route("k", nil, nil); !sameDests(got, []Destination{q("a")}) {
				t.Fatalf("Route = %v, want [a]", got)
			}
			if !x.Unbind(Binding{Destination: q("a"), Key: "k", Args: table{"x-a": "1"}}) {
				t.Fatal("Unbind with equal args in a new map = false")
			}
			if got := x.Route("k", nil, nil); len(got) != 0 {
				t.Fatalf("Route after unbinding all = %v", got)
			}
			if x.HasBindings() || len(x.Bindings()) != 0 {
				t.Fatal("bindings left")
			}
		})
	}
}

func TestRemoveDestination(t *testing.T) {
	for _, kind := range []Kind{Direct, Fanout, Topic, Headers} {
		t.Run(kind.String(), func(t *testing.T) {
			x := &Exchange{Name: "x", Kind: kind}
			bind(t, x, q("a"), "k", nil)
			bind(t, x, q("a"), "k", table{"v": "2"})
			bind(t, x, q("a"), "other", nil)
			bind(t, x, q("b"), "k", nil)
			bind(t, x, ex("a"), "k", nil) // an exchange named like the queue
			if n := x.RemoveDestination(q("missing")); n != 0 {
				t.Fatalf("RemoveDestination(missing) = %d", n)
			}
			if n := x.RemoveDestination(q("a")); n != 3 {
				t.Fatalf("RemoveDestination(a) = %d, want 3", n)
			}
			if n := x.RemoveDestination(q("a")); n != 0 {
				t.Fatalf("second RemoveDestination(a) = %d, want 0", n)
			}
			want := []Destination{q("b"), ex("a")}
			if got := x.Route("k", nil, nil); !sameDests(got, want) {
				t.Fatalf("Route = %v, want %v", got, want)
			}
			bs := x.Bindings()
			if len(bs) != 2 || bs[0].Destination != q("b") || bs[1].Destination != ex("a") {
				t.Fatalf("Bindings = %+v", bs)
			}
			if !x.HasBindings() {
				t.Fatal("HasBindings = false")
			}
			x.RemoveDestination(q("b"))
			x.RemoveDestination(ex("a"))
			if x.HasBindings() {
				t.Fatal("HasBindings = true with none left")
			}
			if got := x.Route("k", nil, nil); len(got) != 0 {
				t.Fatalf("Route = %v with no bindings", got)
			}
		})
	}
}

func TestBindingsOrder(t *testing.T) {
	x := &Exchange{Name: "x", Kind: Topic}
	bind(t, x, ex("e"), "a", nil)
	bind(t, x, q("b"), "z", nil)
	bind(t, x, q("b"), "a", table{"k": "2"})
	bind(t, x, q("b"), "a", table{"k": "1"})
	bind(t, x, q("a"), "m", nil)
	var got []string
	for _, b := range x.Bindings() {
		got = append(got, fmt.Sprintf("%v/%s/%v", b.Destination, b.Key, b.Args["k"]))
	}
	want := []string{
		"queue 'a'/m/<nil>", "queue 'b'/a/1", "queue 'b'/a/2", "queue 'b'/z/<nil>", "exchange 'e'/a/<nil>",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Bindings order\n got %q\nwant %q", got, want)
	}
}

func TestZeroExchangeRoutesNothing(t *testing.T) {
	for _, kind := range []Kind{0, Direct, Fanout, Topic, Headers} {
		x := &Exchange{Kind: kind}
		if got := x.Route("", nil, nil); len(got) != 0 {
			t.Fatalf("%v: Route = %v", kind, got)
		}
		if x.HasBindings() || x.Unbind(Binding{}) || x.RemoveDestination(q("a")) != 0 {
			t.Fatalf("%v: empty exchange has bindings", kind)
		}
	}
}

func TestArgsKey(t *testing.T) {
	ts := time.Unix(1700000000, 0)
	same := [][2]table{
		{nil, {}},
		{{"a": "x", "b": int32(1)}, {"b": int32(1), "a": "x"}},
		{{"t": table{"x": []any{int8(1), nil, true}}}, {"t": table{"x": []any{int8(1), nil, true}}}},
		{{"t": ts}, {"t": time.Unix(1700000000, 5)}},
		{{"n": 7}, {"n": int64(7)}},
		{{"t": namedTable{"a": "b"}}, {"t": table{"a": "b"}}},
	}
	for _, p := range same {
		if argsKey(p[0]) != argsKey(p[1]) {
			t.Errorf("argsKey(%v) != argsKey(%v)", p[0], p[1])
		}
	}
	differ := [][2]table{
		{{"a": int32(1)}, {"a": int64(1)}},
		{{"a": "x"}, {"a": []byte("x")}},
		{{"a": 1.0}, {"a": float32(1.0)}},
		{{"a": nil}, {}},
		{{"a": ""}, {"a": nil}},
		{{"a": table{}}, {"a": []any{}}},
		{{"a": []any{"x", "y"}}, {"a": []any{"y", "x"}}},
		{{"ab": "c"}, {"a": "bc"}},
		{{"a": decimal{1, 2}}, {"a": decimal{2, 1}}},
		{{"a": false}, {"a": true}},
	}
	for _, p := range differ {
		if argsKey(p[0]) == argsKey(p[1]) {
			t.Errorf("argsKey(%v) == argsKey(%v)", p[0], p[1])
		}
	}
}

type namedTable map[string]any

type decimal struct {
	Scale uint8
	Value int32
}

func TestRouteDoesNotAllocate(t *testing.T) {
	for _, kind := range []Kind{Direct, Fanout, Topic, Headers} {
		x := &Exchange{Name: "x", Kind: kind}
		for i := range 100 {
			args := table{"x-match": "any", "n": int32(i), "all": "yes"}
			x.Bind(Binding{Destination: q(fmt.Sprint(i)), Key: fmt.Sprintf("k.%d", i%10), Args: args})
			x.Bind(Binding{Destination: q(fmt.Sprint(i)), Key: "k.#", Args: table{"other": int32(i)}})
		}
		hdrs := table{"n": int64(5), "z": "z"}
		out := make([]Destination, 0, 128)
		allocs := testing.AllocsPerRun(100, func() { out = x.Route("k.5", hdrs, out[:0]) })
		// the topic route spills into a pooled dedup map (110 matches)
		if allocs != 0 && !(kind == Topic && raceEnabled) {
			t.Errorf("%v: Route allocates %v times per call", kind, allocs)
		}
		if len(out) == 0 {
			t.Errorf("%v: Route found nothing", kind)
		}
	}
}

func TestConcurrentRoute(t *testing.T) {
	x := &Exchange{Name: "x", Kind: Topic}
	for i := range 50 {
		bind(t, x, q(fmt.Sprint(i)), fmt.Sprintf("k.%d.#", i%5), nil)
		bind(t, x, q(fmt.Sprint(i)), "k.*.*", nil)
	}
	var mu sync.RWMutex
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			var out []Destination
			for i := range 200 {
				mu.RLock()
				out = x.Route(fmt.Sprintf("k.%d.x", (g+i)%5), nil, out[:0])
				mu.RUnlock()
				if len(out) != 50 {
					t.Errorf("Route returned %d destinations, want 50", len(out))
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 100 {
			mu.Lock()
			x.Bind(Binding{Destination: q("extra"), Key: fmt.Sprintf("z.%d", i)})
			x.Unbind(Binding{Destination: q("extra"), Key: fmt.Sprintf("z.%d", i)})
			mu.Unlock()
		}
	})
	wg.Wait()
}
