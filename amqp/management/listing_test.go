package management

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/queue"
)

type row struct {
	Name  string `json:"name"`
	Stats struct {
		Rate float64 `json:"rate"`
	} `json:"stats"`
	N *int `json:"n"`
}

func TestLookupAnyAndPick(t *testing.T) {
	n := 3
	r := row{Name: "a", N: &n}
	r.Stats.Rate = 2.5
	for _, c := range []struct {
		path string
		want any
	}{
		{"name", "a"}, {"stats.rate", 2.5}, {"n", 3}, {"stats.none", nil}, {"name.x", nil}, {"missing", nil},
	} {
		if got := lookupAny(&r, splitPath(c.path)); got != c.want {
			t.Errorf("lookupAny(%s) = %#v, want %#v", c.path, got, c.want)
		}
		if got := lookupAny(toMap(&r), splitPath(c.path)); c.want != nil && number(got) != number(c.want) && got != c.want {
			t.Errorf("lookupAny(map, %s) = %#v, want %#v", c.path, got, c.want)
		}
	}
	m := pick(toMap(&r), [][]string{{"name"}, {"stats", "rate"}, {"absent"}})
	raw, _ := json.Marshal(m)
	if string(raw) != `{"name":"a","stats":{"rate":2.5}}` {
		t.Errorf("pick: %s", raw)
	}
}

func splitPath(p string) []string {
	var out []string
	start := 0
	for i := range len(p) {
		if p[i] == '.' {
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return append(out, p[start:])
}

func TestCompareAny(t *testing.T) {
	for _, c := range []struct {
		a, b any
		want int
	}{
		{nil, 1, -1}, {1, "a", -1}, {uint64(2), 1.5, 1}, {int64(-1), uint8(0), -1}, {"b", "a", 1}, {3, 3.0, 0},
	} {
		if got := compareAny(c.a, c.b); got != c.want {
			t.Errorf("compareAny(%#v, %#v) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// TestListEnvelope drives list through a recorder: filter, sort by
// name, page, columns and the envelope's counts.
func TestListEnvelope(t *testing.T) {
	items := []string{"b", "a", "ab", "c"}
	get := func(query string) (int, map[string]any, []any) {
		rec := httptest.NewRecorder()
		list(rec, httptest.NewRequest("GET", "/x?"+query, nil), items, func(s *string) string { return *s },
			func(s *string) map[string]any { return map[string]any{"name": *s, "len": len(*s)} })
		var env map[string]any
		var arr []any
		if json.Unmarshal(rec.Body.Bytes(), &env) != nil {
			json.Unmarshal(rec.Body.Bytes(), &arr)
		}
		return rec.Code, env, arr
	}
	_, _, arr := get("")
	if len(arr) != 4 || arr[0].(map[string]any)["name"] != "b" {
		t.Errorf("unpaged keeps the order: %v", arr)
	}
	_, env, _ := get("page=1&page_size=1&name=A&sort=name&columns=name")
	if env["filtered_count"] != 2.0 || env["total_count"] != 4.0 || env["page_count"] != 2.0 ||
		env["items"].([]any)[0].(map[string]any)["name"] != "a" || len(env["items"].([]any)[0].(map[string]any)) != 1 {
		t.Errorf("page 1 of name~a: %v", env)
	}
	_, env, _ = get("page=1&sort=len&sort_reverse=true")
	if first := env["items"].([]any)[0].(map[string]any); first["name"] != "ab" {
		t.Errorf("by len, reversed: %v", env["items"])
	}
	if code, _, _ := get("page=2&page_size=4"); code != http.StatusBadRequest {
		t.Errorf("page 2 of 1: %d, want 400", code)
	}
	if code, env, _ := get("page=1&name=zzz"); code != http.StatusOK || env["page_count"] != 0.0 || len(env["items"].([]any)) != 0 {
		t.Errorf("an empty page 1: %d %v", code, env)
	}
}

// TestSamplerRates: a pass after counters moved gives each its rate per
// second over the time between the passes; a counter that went back (a
// queue deleted and made anew) gives 0, not a negative rate.
func TestSamplerRates(t *testing.T) {
	b := broker.New(broker.Config{})
	v := b.Vhost("/")
	res, err := v.Apply(broker.DeclareQueue{Name: "q"})
	if err != nil {
		t.Fatal(err)
	}
	s := &sampler{b: b, reg: noRegistry{}, interval: time.Hour}
	s.sample()
	first := s.current()
	publish := func(q *queue.Queue, n int) {
		for range n {
			if _, _, err := v.Publish(&broker.Publish{Msg: &queue.Message{RoutingKey: "q", Props: emptyProps()}, Queues: []*queue.Queue{q}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(res.Queue, 10)
	s.sample()
	second := s.current()
	dt := second.at.Sub(first.at).Seconds()
	qs := second.queue("/", "q")
	if want := 10 / dt; qs.rate[statPublish] != want || qs.rate[statMessages] != want {
		t.Errorf("rates: publish %v messages %v, want %v", qs.rate[statPublish], qs.rate[statMessages], want)
	}
	if vs := second.vhost("/"); vs.rate[statReady] != 10/dt {
		t.Errorf("the vhost's ready rate %v, want %v", vs.rate[statReady], 10/dt)
	}
	if second.total.val[statMessages] != 10 || second.total.val[statPublish] != 0 {
		t.Errorf("total messages %v (want 10), publish %v (want 0: publishes count at exchanges, and these went to the queue directly)",
			second.total.val[statMessages], second.total.val[statPublish])
	}
	// Idle since: no rate.
	s.sample()
	if r := s.current().queue("/", "q").rate; r[statPublish] != 0 || r[statMessages] != 0 {
		t.Errorf("an idle queue's rates: publish %v messages %v, want 0", r[statPublish], r[statMessages])
	}

	if _, err := v.Apply(broker.DeleteQueue{Name: "q"}); err != nil {
		t.Fatal(err)
	}
	res, err = v.Apply(broker.DeclareQueue{Name: "q"})
	if err != nil {
		t.Fatal(err)
	}
	publish(res.Queue, 1)
	s.sample()
	qs = s.current().queue("/", "q")
	if qs.rate[statPublish] != 0 || qs.rate[statMessages] >= 0 {
		t.Errorf("after the queue was made anew: publish rate %v (want 0), messages rate %v (want < 0)", qs.rate[statPublish], qs.rate[statMessages])
	}
}
