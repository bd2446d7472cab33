package exchange

import (
	"errors"
	"math"
	"testing"
)

func TestDelayedType(t *testing.T) {
	for _, c := range []struct {
		args table
		want Kind
		err  error
	}{
		{table{"x-delayed-type": "direct"}, Direct, nil},
		{table{"x-delayed-type": "fanout"}, Fanout, nil},
		{table{"x-delayed-type": "topic"}, Topic, nil},
		{table{"x-delayed-type": "headers"}, Headers, nil},
		{nil, 0, ErrDelayedType},
		{table{"x-delayed-type": int32(1)}, 0, ErrDelayedType},
		{table{"x-delayed-type": []byte("direct")}, 0, ErrDelayedType},
		{table{"x-delayed-type": "x-delayed-message"}, 0, ErrDelayedType},
		{table{"x-delayed-type": "foo"}, 0, ErrUnknownKind},
	} {
		k, err := DelayedType(c.args)
		if k != c.want || !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
			t.Errorf("DelayedType(%v) = %v, %v; want %v, %v", c.args, k, err, c.want, c.err)
		}
	}
	if want := "Invalid argument, 'x-delayed-type' must be an existing exchange type"; ErrDelayedType.Error() != want {
		t.Errorf("ErrDelayedType = %q, want the plugin's text %q", ErrDelayedType, want)
	}
}

// A delayed exchange binds and routes as its x-delayed-type.
func TestDelayedRoutesAsItsType(t *testing.T) {
	topic := &Exchange{Name: "d", Kind: Delayed, Args: table{"x-delayed-type": "topic"}}
	bind(t, topic, q("a"), "a.*", nil)
	bind(t, topic, q("b"), "#", nil)
	checkRoutes(t, topic, []routeCase{
		{key: "a.x", want: []Destination{q("a"), q("b")}},
		{key: "b", want: []Destination{q("b")}},
	})

	hdrs := &Exchange{Name: "h", Kind: Delayed, Args: table{"x-delayed-type": "headers"}}
	if err := hdrs.ValidateBinding(Binding{Args: table{"x-match": "some"}}); err == nil {
		t.Errorf("a delayed headers exchange accepted x-match=some")
	}
	bind(t, hdrs, q("h"), "", table{"x-match": "all", "k": "v"})
	checkRoutes(t, hdrs, []routeCase{
		{headers: table{"k": "v"}, want: []Destination{q("h")}},
		{headers: table{"k": "w"}, want: nil},
	})
	if !hdrs.Unbind(Binding{Destination: q("h"), Args: table{"x-match": "all", "k": "v"}}) {
		t.Fatalf("Unbind of a delayed headers binding = false")
	}
	checkRoutes(t, hdrs, []routeCase{{headers: table{"k": "v"}, want: nil}})

	bad := &Exchange{Name: "bad", Kind: Delayed}
	bind(t, bad, q("a"), "", nil)
	checkRoutes(t, bad, []routeCase{{key: "", want: nil}})
}

func TestDelayOf(t *testing.T) {
	for _, c := range []struct {
		v       any
		ms      int64
		delayed bool
	}{
		{int32(1500), 1500, true},
		{int8(5), 5, true},
		{uint8(5), 5, true},
		{int16(5), 5, true},
		{uint16(5), 5, true},
		{uint32(5), 5, true},
		{int64(5), 5, true},
		{5, 5, true},
		{uint64(5), 5, true},
		{float64(2.9), 2, true},
		{float32(7.5), 7, true},
		{"250", 250, true},
		{int64(MaxDelay), MaxDelay, true},
		{int64(MaxDelay + 1), 0, false},
		{int32(0), 0, false},
		{int32(-1000), 0, false},
		{float64(0.5), 0, false},
		{math.NaN(), 0, false},
		{"soon", 0, false},
		{"", 0, false},
		{true, 0, false},
		{nil, 0, false},
		{uint64(math.MaxUint64), 0, false},
		{table{"a": 1}, 0, false},
	} {
		ms, delayed := DelayOf(table{"x-delay": c.v})
		if ms != c.ms || delayed != c.delayed {
			t.Errorf("DelayOf(x-delay=%#v) = %d, %t; want %d, %t", c.v, ms, delayed, c.ms, c.delayed)
		}
	}
	if _, delayed := DelayOf(nil); delayed {
		t.Errorf("DelayOf(nil) delays")
	}
	if _, delayed := DelayOf(table{"x-other": 5}); delayed {
		t.Errorf("DelayOf without x-delay delays")
	}
}
