package api

import (
	"net/http"
	"testing"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	amqp "github.com/rabbitmq/amqp091-go"
)

func TestAuthentication(t *testing.T) {
	e := setup(t)
	code, raw, h := e.doAs("", "", "GET", "/api/overview", nil)
	if code != http.StatusUnauthorized || len(raw) != 0 || h.Get("WWW-Authenticate") != `Basic realm="RabbitMQ Management"` {
		t.Errorf("no credentials: %d %q WWW-Authenticate %q, want 401, empty, the Basic challenge", code, raw, h.Get("WWW-Authenticate"))
	}
	code, raw, h = e.doAs(e.user, e.pass+"-wrong", "GET", "/api/overview", nil)
	e.wantError("a wrong password", code, raw, http.StatusUnauthorized, "not_authorized", "Login failed")
	if h.Get("WWW-Authenticate") == "" {
		t.Error("a wrong password: no WWW-Authenticate")
	}
	code, raw, _ = e.doAs("nobody-"+e.name("u"), "x", "GET", "/api/queues", nil)
	e.wantError("an unknown user", code, raw, http.StatusUnauthorized, "not_authorized", "Login failed")

	who, err := e.rh.Whoami()
	if err != nil || who.Name != e.user {
		t.Fatalf("Whoami: %+v %v", who, err)
	}
	if e.user == "guest" && (len(who.Tags) != 1 || who.Tags[0] != "administrator") {
		t.Errorf("guest's tags: %v, want [administrator]", who.Tags)
	}
}

func TestErrorBodies(t *testing.T) {
	e := setup(t)
	q := e.name("q")
	e.cleanupQueue(q)
	if _, err := e.rh.DeclareQueue("/", q, rabbithole.QueueSettings{Durable: true}); err != nil {
		t.Fatal(err)
	}
	code, raw, _ := e.do("PUT", "/api/queues/%2F/"+esc(q), map[string]any{"durable": false})
	e.wantError("an inequivalent redeclare", code, raw, http.StatusBadRequest, "bad_request",
		"inequivalent arg 'durable' for queue '"+q+"' in vhost '/': received 'false' but current is 'true'")
	code, raw, _ = e.do("PUT", "/api/queues/%2F/"+esc(q), "{bad")
	e.wantError("a body that is not JSON", code, raw, http.StatusBadRequest, "bad_request", "not_json")
	code, raw, _ = e.do("PUT", "/api/queues/%2F/amq.reserved", map[string]any{})
	e.wantError("a queue named amq.*", code, raw, http.StatusUnauthorized, "not_authorised", "Access refused.")
	code, raw, _ = e.do("PUT", "/api/exchanges/%2F/amq.reserved", map[string]any{"type": "direct"})
	e.wantError("an exchange named amq.*", code, raw, http.StatusUnauthorized, "not_authorised", "Access refused.")
	code, raw, _ = e.do("PUT", "/api/exchanges/%2F/"+esc(e.name("x")), map[string]any{"type": "bogus"})
	e.wantError("an unknown exchange type", code, raw, http.StatusBadRequest, "bad_request", "invalid exchange type 'bogus'")
	code, raw, _ = e.do("GET", "/api/queues/%2F/"+esc(e.name("missing")), nil)
	e.wantError("a missing queue", code, raw, http.StatusNotFound, "Object Not Found", "Not Found")
	code, raw, _ = e.do("GET", "/api/exchanges/%2F/"+esc(e.name("missing")), nil)
	e.wantError("a missing exchange", code, raw, http.StatusNotFound, "Object Not Found", "Not Found")
	code, raw, _ = e.do("GET", "/api/no-such-endpoint", nil)
	e.wantError("a missing endpoint", code, raw, http.StatusNotFound, "Object Not Found", "Not Found")
	code, raw, _ = e.do("PUT", "/api/queues/"+esc(e.name("no-vhost"))+"/q", map[string]any{})
	e.wantError("a queue in a missing vhost", code, raw, http.StatusNotFound, "not_found", "vhost_not_found")
	code, raw, _ = e.do("POST", "/api/bindings/%2F/e/amq.direct/q/"+esc(e.name("missing")), map[string]any{})
	if code != http.StatusNotFound {
		t.Errorf("a binding to a missing queue: %d %s, want 404", code, raw)
	}
	code, raw, _ = e.do("PUT", "/api/queues/%2F/"+esc(e.name("bad-arg")), map[string]any{"arguments": map[string]any{"x-max-length": "many"}})
	if code != http.StatusBadRequest {
		t.Errorf("x-max-length \"many\": %d %s, want 400", code, raw)
	}

	// None of it changed the queue over AMQP.
	ch := e.channel()
	if _, err := ch.QueueDeclarePassive(q, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(q, true, false, false, false, nil); err != nil {
		t.Fatalf("the durable queue is still durable over AMQP: %v", err)
	}
	if _, err := ch.QueueDeclarePassive("amq.reserved", false, false, false, false, nil); amqpCode(err) != amqp.NotFound {
		t.Fatalf("amq.reserved over AMQP: %v, want 404", err)
	}
}

func TestHealthChecks(t *testing.T) {
	e := setup(t)
	if st, err := e.rh.HealthCheckAlarms(); err != nil || st.Status != "ok" {
		t.Errorf("alarms: %+v %v", st, err)
	}
	if st, err := e.rh.HealthCheckLocalAlarms(); err != nil || st.Status != "ok" {
		t.Errorf("local-alarms: %+v %v", st, err)
	}
	if st, err := e.rh.HealthCheckVirtualHosts(); err != nil || st.Status != "ok" {
		t.Errorf("virtual-hosts: %+v %v", st, err)
	}
	if st, err := e.rh.HealthCheckNodeIsQuorumCritical(); err != nil || st.Status != "ok" {
		t.Errorf("node-is-quorum-critical: %+v %v", st, err)
	}
	if st, err := e.rh.HealthCheckPortListener(uint(e.amqpPort)); err != nil || st.Status != "ok" || int(st.Port) != e.amqpPort {
		t.Errorf("port-listener %d: %+v %v", e.amqpPort, st, err)
	}
	if st, err := e.rh.HealthCheckProtocolListener(rabbithole.AMQP091); err != nil || st.Status != "ok" {
		t.Errorf("protocol-listener amqp091: %+v %v", st, err)
	}
	code, raw, _ := e.do("GET", "/api/health/checks/port-listener/1", nil)
	var failed struct {
		Status, Reason string
		Missing        int
	}
	if code != http.StatusServiceUnavailable || jsonInto(raw, &failed) != nil || failed.Status != "failed" ||
		failed.Reason != "No active listener" || failed.Missing != 1 {
		t.Errorf("port-listener 1: %d %s, want 503 failed", code, raw)
	}
	code, raw, _ = e.do("GET", "/api/health/checks/port-listener/abc", nil)
	e.wantError("port-listener abc", code, raw, http.StatusBadRequest, "bad_request", "Invalid port")

	var alive struct{ Status string }
	e.getJSON("/api/aliveness-test/%2F", &alive)
	if alive.Status != "ok" {
		t.Errorf("aliveness-test: %+v", alive)
	}
	// It leaves its queue, empty, as RabbitMQ does.
	ch := e.channel()
	if st, err := ch.QueueDeclarePassive("aliveness-test", false, false, false, false, nil); err != nil || st.Messages != 0 {
		t.Errorf("the aliveness-test queue over AMQP: %+v %v", st, err)
	}
	code, raw, _ = e.do("GET", "/api/aliveness-test/"+esc(e.name("no-vhost")), nil)
	e.wantError("aliveness-test of a missing vhost", code, raw, http.StatusNotFound, "Object Not Found", "Not Found")
}

func TestOverviewAndNodes(t *testing.T) {
	e := setup(t)
	conn := e.dial("", nil)
	if _, err := conn.Channel(); err != nil {
		t.Fatal(err)
	}
	var ov *rabbithole.Overview
	e.eventually("the overview counts a connection and a channel", func() (bool, string) {
		var err error
		if ov, err = e.rh.Overview(); err != nil {
			return false, err.Error()
		}
		return ov.ObjectTotals.Connections >= 1 && ov.ObjectTotals.Channels >= 1, jsonOf(ov.ObjectTotals)
	})
	if ov.ManagementVersion == "" || ov.RabbitMQVersion == "" || ov.Node == "" || ov.ObjectTotals.Exchanges < 6 ||
		len(ov.ExchangeTypes) < 4 {
		t.Errorf("overview: %s", jsonOf(ov))
	}
	amqpListed := false
	for _, l := range ov.Listeners {
		amqpListed = amqpListed || (l.Protocol == "amqp" && int(l.Port) == e.amqpPort)
	}
	if !amqpListed {
		t.Errorf("the overview's listeners have no amqp on %d: %s", e.amqpPort, jsonOf(ov.Listeners))
	}
	nodes, err := e.rh.ListNodes()
	if err != nil || len(nodes) < 1 {
		t.Fatalf("ListNodes: %v %v", nodes, err)
	}
	n, err := e.rh.GetNode(ov.Node)
	if err != nil || n.Name != ov.Node || !n.IsRunning || n.Processors < 1 || n.Uptime == 0 {
		t.Errorf("GetNode(%q): %s %v", ov.Node, jsonOf(n), err)
	}
	var ext []map[string]any
	e.getJSON("/api/extensions", &ext)
}

// TestMethodNotAllowed: a path of another method answers 405, a path of
// none 404.
func TestMethodNotAllowed(t *testing.T) {
	e := setup(t)
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/overview"}, {"DELETE", "/api/queues"}, {"PUT", "/api/nodes"}, {"POST", "/api/queues/%2F/q"},
	} {
		code, raw, h := e.do(c.method, c.path, nil)
		if code != http.StatusMethodNotAllowed || len(raw) != 0 || h.Get("Allow") == "" {
			t.Errorf("%s %s: %d %q Allow %q, want 405, empty, an Allow header", c.method, c.path, code, raw, h.Get("Allow"))
		}
	}
}
