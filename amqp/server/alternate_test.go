package server

import (
	"slices"
	"testing"

	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue"
)

// routeNames routes a message through the vhost and returns the names of
// the queues it reaches, sorted.
func routeNames(v *vhost, x, key string) []string {
	var names []string
	for _, q := range v.route(v.exchange(x), key, func() map[string]any { return nil }, nil) {
		names = append(names, q.Name)
	}
	slices.Sort(names)
	return names
}

func TestRouteAlternateExchange(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	v := s.vhosts["/"]
	for _, q := range []string{"qx", "qae", "qlast", "qcycle"} {
		if _, err := v.declareQueue(queue.Config{Name: q}); err != nil {
			t.Fatal(err)
		}
	}
	declare := func(name string, kind exchange.Kind, ae string) {
		t.Helper()
		var args map[string]any
		if ae != "" {
			args = map[string]any{"alternate-exchange": ae}
		}
		if err := v.declareExchange(name, kind, false, false, false, args); err != nil {
			t.Fatal(err)
		}
	}
	bind := func(x, q string, key string, toExchange bool) {
		t.Helper()
		if err := v.bind(x, exchange.Destination{Exchange: toExchange, Name: q}, key, nil); err != nil {
			t.Fatal(err)
		}
	}
	declare("last", exchange.Fanout, "")
	declare("ae", exchange.Direct, "last")
	declare("x", exchange.Direct, "ae")
	declare("missing-ae", exchange.Direct, "nowhere")
	declare("c1", exchange.Direct, "c2")
	declare("c2", exchange.Direct, "c1")
	declare("inner", exchange.Direct, "")
	declare("outer", exchange.Direct, "ae")
	bind("x", "qx", "k", false)
	bind("ae", "qae", "a", false)
	bind("last", "qlast", "", false)
	bind("c2", "qcycle", "c", false)
	bind("outer", "inner", "i", true)

	for _, c := range []struct {
		x, key string
		want   []string
	}{
		{"x", "k", []string{"qx"}},
		{"x", "a", []string{"qae"}},     // x routes nowhere: its alternate does
		{"x", "z", []string{"qlast"}},   // nor does the alternate: its own alternate
		{"missing-ae", "k", nil},        // a missing alternate exchange routes nothing
		{"c1", "z", nil},                // a cycle of alternates ends
		{"c1", "c", []string{"qcycle"}}, // and reaches what is on it
		{"outer", "i", nil},             // a matching exchange binding is a route: no alternate
		{"outer", "a", []string{"qae"}}, // no binding matches: alternate
		{"", "qx", []string{"qx"}},      // the default exchange has no alternate
	} {
		if got := routeNames(v, c.x, c.key); !slices.Equal(got, c.want) {
			t.Errorf("route(%q, %q) = %q, want %q", c.x, c.key, got, c.want)
		}
	}
}
