package management_test

import (
	"testing"

	"github.com/warrenmq/warren/amqp/broker"
)

// TestQueueNamesListing: /api/queues?columns=name,vhost (the console's
// filter index, written from the names alone) answers what picking those
// columns from the whole views gives: every queue, by vhost then name,
// in each vhost the user may use.
func TestQueueNamesListing(t *testing.T) {
	a := startAPI(t, nil)
	for vh, names := range map[string][]string{"/": {"b", "a", "c.1"}, "other": {"a", "z"}} {
		for _, n := range names {
			if _, err := a.broker.Vhost(vh).Apply(broker.DeclareQueue{Name: n}); err != nil {
				t.Fatal(err)
			}
		}
	}
	const want = `[{"name":"a","vhost":"/"},{"name":"b","vhost":"/"},{"name":"c.1","vhost":"/"},{"name":"a","vhost":"other"},{"name":"z","vhost":"other"}]`
	for _, q := range []string{"columns=name,vhost", "columns=vhost,name", "columns=name,vhost,no.such"} {
		code, raw := a.do("guest", "guest", "GET", "/api/queues?"+q, "")
		if code != 200 || string(raw) != want {
			t.Errorf("/api/queues?%s: %d %s, want %s", q, code, raw, want)
		}
	}
	code, raw := a.do("guest", "guest", "GET", "/api/queues/other?columns=name,vhost", "")
	if want := `[{"name":"a","vhost":"other"},{"name":"z","vhost":"other"}]`; code != 200 || string(raw) != want {
		t.Errorf("/api/queues/other: %d %s, want %s", code, raw, want)
	}
}
