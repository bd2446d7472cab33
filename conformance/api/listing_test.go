package api

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"testing"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	amqp "github.com/rabbitmq/amqp091-go"
)

type page struct {
	FilteredCount int              `json:"filtered_count"`
	ItemCount     int              `json:"item_count"`
	Items         []map[string]any `json:"items"`
	Page          int              `json:"page"`
	PageCount     int              `json:"page_count"`
	PageSize      int              `json:"page_size"`
	TotalCount    int              `json:"total_count"`
}

func TestPagingFilteringSortingColumns(t *testing.T) {
	e := setup(t)
	prefix := e.name("page")
	ch := e.channel()
	var names []string
	for i := range 5 {
		q := prefix + string(rune('a'+i))
		names = append(names, q)
		e.cleanupQueue(q)
		if _, err := ch.QueueDeclare(q, false, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
		// Queue i holds i messages, to sort by.
		for range i {
			if err := ch.Publish("", q, false, false, amqp.Publishing{Body: []byte("m")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.eventually("the message counts", func() (bool, string) {
		var p page
		e.getJSON("/api/queues/%2F?page=1&page_size=10&columns=name,messages&name="+url.QueryEscape(prefix), &p)
		for _, it := range p.Items {
			if it["messages"] != float64(slices.Index(names, it["name"].(string))) {
				return false, jsonOf(p.Items)
			}
		}
		return len(p.Items) == 5, jsonOf(p.Items)
	})

	var p page
	e.getJSON("/api/queues/%2F?page=2&page_size=2&sort=name&sort_reverse=true&columns=name,vhost&name="+url.QueryEscape(prefix), &p)
	if p.FilteredCount != 5 || p.ItemCount != 2 || p.Page != 2 || p.PageCount != 3 || p.PageSize != 2 || p.TotalCount < 5 {
		t.Fatalf("envelope: %+v", p)
	}
	if len(p.Items) != 2 || p.Items[0]["name"] != names[2] || p.Items[1]["name"] != names[1] ||
		p.Items[0]["vhost"] != "/" || len(p.Items[0]) != 2 {
		t.Fatalf("page 2 of 2, by name reversed, columns name and vhost: %v", p.Items)
	}

	// Sorting by a dotted path of numbers; a regular expression filter.
	e.getJSON("/api/queues/%2F?page=1&sort=messages&sort_reverse=true&columns=name,messages&use_regex=true&name="+
		url.QueryEscape("^"+regexp.QuoteMeta(prefix)+"[bd]$"), &p)
	if p.FilteredCount != 2 || len(p.Items) != 2 || p.Items[0]["name"] != names[3] || p.Items[1]["name"] != names[1] {
		t.Fatalf("regex [bd], by messages descending: %+v", p)
	}

	// The same through rabbit-hole's paged call.
	pq, err := e.rh.PagedListQueuesWithParameters(url.Values{"page": {"1"}, "page_size": {"3"}, "name": {prefix}, "sort": {"name"}})
	if err != nil || pq.FilteredCount != 5 || len(pq.Items) != 3 || pq.Items[0].Name != names[0] || pq.PageCount != 2 {
		t.Fatalf("PagedListQueuesWithParameters: %+v %v", pq, err)
	}
	// Without page, name is not a filter and the answer is a bare array.
	var all []map[string]any
	e.getJSON("/api/queues/%2F?columns=name", &all)
	if len(all) < 5 {
		t.Fatalf("the unpaged listing has %d queues, want at least 5", len(all))
	}

	for _, c := range []struct {
		query, err, reason string
	}{
		{"page=0", "invalid_pagination_parameters", "Invalid pagination parameters: page number 0, page size undefined"},
		{"page=1&page_size=501", "invalid_pagination_parameters", "Invalid pagination parameters: page number 1, page size 501"},
		{"page=1&page_size=0", "invalid_pagination_parameters", "Invalid pagination parameters: page number 1, page size 0"},
		{"page=x", "bad_request", "Pagination parameters are invalid"},
		{"page=1&use_regex=true&name=(", "bad_request", "Pagination parameters are invalid"},
	} {
		code, raw, _ := e.do("GET", "/api/queues/%2F?"+c.query, nil)
		e.wantError(c.query, code, raw, http.StatusBadRequest, c.err, c.reason)
	}
	code, raw, _ := e.do("GET", "/api/queues/%2F?page=3&page_size=3&name="+url.QueryEscape(prefix), nil)
	e.wantError("page past the end", code, raw, http.StatusBadRequest, "page_out_of_range", "Page out of range, page: 3 page size: 3, len: 5")
}

func TestListingsAcrossVhosts(t *testing.T) {
	e := setup(t)
	q, x := e.name("q"), e.name("x")
	e.cleanupQueue(q)
	e.cleanupExchange(x)
	if _, err := e.rh.DeclareQueue("/", q, rabbithole.QueueSettings{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rh.DeclareExchange("/", x, rabbithole.ExchangeSettings{Type: "direct"}); err != nil {
		t.Fatal(err)
	}
	qs, err := e.rh.ListQueues()
	if err != nil || !slices.ContainsFunc(qs, func(i rabbithole.QueueInfo) bool { return i.Name == q }) {
		t.Errorf("ListQueues has no %q: %v", q, err)
	}
	xs, err := e.rh.ListExchanges()
	if err != nil || !slices.ContainsFunc(xs, func(i rabbithole.ExchangeInfo) bool { return i.Name == x && i.Type == "direct" }) {
		t.Errorf("ListExchanges has no %q: %v", x, err)
	}
	if !slices.ContainsFunc(xs, func(i rabbithole.ExchangeInfo) bool { return i.Name == "" && i.Vhost == "/" }) {
		t.Error("ListExchanges has no default exchange")
	}
	bs, err := e.rh.ListBindingsIn("/")
	if err != nil || !slices.ContainsFunc(bs, func(b rabbithole.BindingInfo) bool {
		return b.Source == "" && b.Destination == q && b.RoutingKey == q && b.PropertiesKey == url.QueryEscape(q)
	}) {
		t.Errorf("ListBindingsIn(/) has no default binding of %q (properties key the routing key, form-encoded): %v", q, err)
	}
	if _, err := e.rh.ListBindings(); err != nil {
		t.Error(err)
	}
	code, raw, _ := e.do("GET", "/api/queues/"+esc(e.name("no-vhost")), nil)
	e.wantError("queues of a missing vhost", code, raw, http.StatusNotFound, "Object Not Found", "Not Found")
}
