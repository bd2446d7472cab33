package api

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	amqp "github.com/rabbitmq/amqp091-go"
)

// queueDepth is a queue's message count over AMQP (passive declare).
func queueDepth(t *testing.T, ch *amqp.Channel, q string) int {
	t.Helper()
	info, err := ch.QueueDeclarePassive(q, false, false, false, false, nil)
	if err != nil {
		t.Fatalf("passive declare %q: %v", q, err)
	}
	return info.Messages
}

// queuePolicy reads a queue's policy fields from the API.
func (e *env) queuePolicy(vhost, q string) (policy, opPolicy any, effective map[string]any) {
	e.t.Helper()
	var m map[string]any
	e.getJSON("/api/queues/"+esc(vhost)+"/"+esc(q), &m)
	effective, _ = m["effective_policy_definition"].(map[string]any)
	return m["policy"], m["operator_policy"], effective
}

func TestPolicyChangesLiveQueue(t *testing.T) {
	e := setup(t)
	q := e.name("queue")
	ch := e.channel()
	if _, err := ch.QueueDeclare(q, false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	e.cleanupQueue(q)
	for i := range 5 {
		if err := ch.Publish("", q, false, false, amqp.Publishing{Body: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	e.eventually("5 messages", func() (bool, string) {
		n := queueDepth(t, ch, q)
		return n == 5, fmt.Sprint(n)
	})

	name := e.name("policy")
	pol := rabbithole.Policy{Pattern: "^" + regexp.QuoteMeta(q) + "$", ApplyTo: "queues", Priority: 7,
		Definition: rabbithole.PolicyDefinition{"max-length": 2}}
	res, err := e.rh.PutPolicy("/", name, pol)
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("PutPolicy: %v %v, want 201", res, err)
	}
	t.Cleanup(func() { e.rh.DeletePolicy("/", name) })
	if res, err := e.rh.PutPolicy("/", name, pol); err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("PutPolicy again: %v %v, want 204", res, err)
	}
	got, err := e.rh.GetPolicy("/", name)
	if err != nil || got.Name != name || got.Vhost != "/" || got.Pattern != pol.Pattern || got.ApplyTo != "queues" || got.Priority != 7 || fmt.Sprint(got.Definition["max-length"]) != "2" {
		t.Fatalf("GetPolicy: %+v %v", got, err)
	}
	for _, list := range [][]rabbithole.Policy{must(e.rh.ListPolicies()), must(e.rh.ListPoliciesIn("/"))} {
		if !slices.ContainsFunc(list, func(p rabbithole.Policy) bool { return p.Name == name }) {
			t.Errorf("a policy listing lacks %q", name)
		}
	}

	// The live queue drops its oldest messages down to the new limit.
	e.eventually("max-length 2 applied over AMQP", func() (bool, string) {
		n := queueDepth(t, ch, q)
		return n == 2, fmt.Sprint(n, " messages")
	})
	e.eventually("the queue shows its policy", func() (bool, string) {
		p, _, eff := e.queuePolicy("/", q)
		return p == name && fmt.Sprint(eff["max-length"]) == "2", fmt.Sprint(p, eff)
	})
	msg, ok, err := ch.Get(q, true)
	if err != nil || !ok || string(msg.Body) != "3" {
		t.Fatalf("head after max-length 2: %q %v %v, want the 4th message", msg.Body, ok, err)
	}

	if res, err := e.rh.DeletePolicy("/", name); err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("DeletePolicy: %v %v", res, err)
	}
	for i := range 3 {
		if err := ch.Publish("", q, false, false, amqp.Publishing{Body: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	e.eventually("no limit once the policy is gone", func() (bool, string) {
		n := queueDepth(t, ch, q)
		return n == 4, fmt.Sprint(n, " messages")
	})
	code, raw, _ := e.do("DELETE", "/api/policies/%2F/"+esc(name), nil)
	e.wantError("DELETE again", code, raw, http.StatusNotFound, "Object Not Found", "Not Found")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestPolicyBadInput(t *testing.T) {
	e := setup(t)
	path := "/api/policies/%2F/" + esc(e.name("policy"))
	t.Cleanup(func() { e.do("DELETE", path, nil) })
	code, raw, _ := e.do("PUT", path, map[string]any{"definition": map[string]any{"max-length": 1}})
	e.wantError("PUT without pattern", code, raw, http.StatusBadRequest, "bad_request", "[{key_missing,pattern}]")
	for _, body := range []map[string]any{
		{"pattern": "x", "definition": map[string]any{"max-length": "many"}},
		{"pattern": "(", "definition": map[string]any{"max-length": 1}},
		{"pattern": "x", "definition": map[string]any{"no-such-key": 1}},
	} {
		code, raw, _ := e.do("PUT", path, body)
		var eb struct{ Error, Reason string }
		if code != http.StatusBadRequest || jsonInto(raw, &eb) != nil || eb.Error != "bad_request" || !strings.HasPrefix(eb.Reason, "Validation failed") {
			t.Errorf("PUT %v: %d %s, want 400 Validation failed", body, code, raw)
		}
	}
	code, raw, _ = e.do("PUT", "/api/policies/"+esc(e.name("novhost"))+"/p", map[string]any{"pattern": "x", "definition": map[string]any{}})
	e.wantError("PUT in a missing vhost", code, raw, http.StatusNotFound, "not_found", "vhost_not_found")
	code, raw, _ = e.do("GET", path, nil)
	e.wantError("GET a missing policy", code, raw, http.StatusNotFound, "Object Not Found", "Not Found")
}

func TestOperatorPolicyIsStricter(t *testing.T) {
	e := setup(t)
	q := e.name("queue")
	ch := e.channel()
	if _, err := ch.QueueDeclare(q, false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	e.cleanupQueue(q)
	pattern := "^" + regexp.QuoteMeta(q) + "$"
	pol, op := e.name("policy"), e.name("operator")
	if res, err := e.rh.PutPolicy("/", pol, rabbithole.Policy{Pattern: pattern, ApplyTo: "queues", Definition: rabbithole.PolicyDefinition{"max-length": 10}}); err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("PutPolicy: %v %v", res, err)
	}
	t.Cleanup(func() { e.rh.DeletePolicy("/", pol) })
	res, err := e.rh.PutOperatorPolicy("/", op, rabbithole.OperatorPolicy{Pattern: pattern, ApplyTo: "queues", Definition: rabbithole.PolicyDefinition{"max-length": 3}})
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("PutOperatorPolicy: %v %v", res, err)
	}
	t.Cleanup(func() { e.rh.DeleteOperatorPolicy("/", op) })
	got, err := e.rh.GetOperatorPolicy("/", op)
	if err != nil || got.Name != op || fmt.Sprint(got.Definition["max-length"]) != "3" {
		t.Fatalf("GetOperatorPolicy: %+v %v", got, err)
	}
	if list, err := e.rh.ListOperatorPoliciesIn("/"); err != nil || !slices.ContainsFunc(list, func(p rabbithole.OperatorPolicy) bool { return p.Name == op }) {
		t.Errorf("ListOperatorPoliciesIn lacks %q: %v", op, err)
	}
	e.eventually("both policies on the queue, the stricter limit effective", func() (bool, string) {
		p, o, eff := e.queuePolicy("/", q)
		return p == pol && o == op && fmt.Sprint(eff["max-length"]) == "3", fmt.Sprint(p, o, eff)
	})
	for i := range 5 {
		if err := ch.Publish("", q, false, false, amqp.Publishing{Body: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	e.eventually("3 messages kept", func() (bool, string) {
		n := queueDepth(t, ch, q)
		return n == 3, fmt.Sprint(n)
	})
	code, raw, _ := e.do("PUT", "/api/operator-policies/%2F/"+esc(op), map[string]any{"pattern": "x", "definition": map[string]any{"dead-letter-exchange": "x"}})
	if code != http.StatusBadRequest || !strings.Contains(string(raw), "not recognised policy settings") {
		t.Errorf("operator policy with dead-letter-exchange: %d %s, want 400", code, raw)
	}
	if res, err := e.rh.DeleteOperatorPolicy("/", op); err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("DeleteOperatorPolicy: %v %v", res, err)
	}
}

func TestVhostLimitMaxQueues(t *testing.T) {
	e := setup(t)
	vh := e.newVhost("vhost")
	res, err := e.rh.PutVhostLimits(vh, rabbithole.VhostLimitsValues{"max-queues": 1})
	if err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("PutVhostLimits: %v %v, want 204", res, err)
	}
	lim, err := e.rh.GetVhostLimits(vh)
	if err != nil || len(lim) != 1 || lim[0].Vhost != vh || lim[0].Value["max-queues"] != 1 {
		t.Fatalf("GetVhostLimits: %+v %v", lim, err)
	}
	if all, err := e.rh.GetAllVhostLimits(); err != nil || !slices.ContainsFunc(all, func(l rabbithole.VhostLimitsInfo) bool { return l.Vhost == vh }) {
		t.Errorf("GetAllVhostLimits lacks %q: %v", vh, err)
	}
	var params []map[string]any
	e.getJSON("/api/parameters/vhost-limits/"+esc(vh), &params)
	if len(params) != 1 || params[0]["name"] != "limits" || params[0]["component"] != "vhost-limits" {
		t.Errorf("the limits as a parameter: %v", params)
	}

	ch, err := e.dial(vh, nil).Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("first", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("second", false, false, false, false, nil); amqpCode(err) != amqp.PreconditionFailed {
		t.Fatalf("a queue past max-queues: %v, want 406", err)
	}

	path := "/api/vhost-limits/" + esc(vh) + "/max-queues"
	code, raw, _ := e.do("PUT", path, map[string]any{"value": "x"})
	e.wantError("PUT a string", code, raw, http.StatusBadRequest, "bad_request", "Validation failed\n\nmax-queues should be a number, actually was <<\"x\">>\n")
	code, raw, _ = e.do("PUT", path, map[string]any{})
	e.wantError("PUT no value", code, raw, http.StatusBadRequest, "bad_request", "[{key_missing,value}]")

	if res, err := e.rh.DeleteVhostLimits(vh, rabbithole.VhostLimits{"max-queues"}); err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("DeleteVhostLimits: %v %v", res, err)
	}
	if lim, err := e.rh.GetVhostLimits(vh); err != nil || len(lim) != 0 {
		t.Errorf("GetVhostLimits after delete: %+v %v, want none", lim, err)
	}
	ch, err = e.dial(vh, nil).Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("second", false, false, false, false, nil); err != nil {
		t.Fatalf("a queue once the limit is gone: %v", err)
	}
}

func TestRuntimeAndGlobalParameters(t *testing.T) {
	e := setup(t)
	vh := e.newVhost("vhost")
	res, err := e.rh.PutRuntimeParameter("vhost-limits", vh, "limits", map[string]any{"max-connections": 5})
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("PutRuntimeParameter: %v %v, want 201", res, err)
	}
	p, err := e.rh.GetRuntimeParameter("vhost-limits", vh, "limits")
	if err != nil || p.Vhost != vh || p.Component != "vhost-limits" || p.Name != "limits" || fmt.Sprint(p.Value) != "map[max-connections:5]" {
		t.Fatalf("GetRuntimeParameter: %+v %v", p, err)
	}
	if lim, err := e.rh.GetVhostLimits(vh); err != nil || len(lim) != 1 || lim[0].Value["max-connections"] != 5 {
		t.Errorf("the parameter sets the limit: %+v %v", lim, err)
	}
	if res, err := e.rh.DeleteRuntimeParameter("vhost-limits", vh, "limits"); err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("DeleteRuntimeParameter: %v %v", res, err)
	}
	code, raw, _ := e.do("GET", "/api/parameters/vhost-limits/"+esc(vh)+"/limits", nil)
	e.wantError("GET after delete", code, raw, http.StatusNotFound, "Object Not Found", "Not Found")

	g := e.name("global")
	if res, err := e.rh.PutGlobalParameter(g, map[string]any{"a": 1}); err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("PutGlobalParameter: %v %v, want 201", res, err)
	}
	t.Cleanup(func() { e.rh.DeleteGlobalParameter(g) })
	gp, err := e.rh.GetGlobalParameter(g)
	if err != nil || gp.Name != g || fmt.Sprint(gp.Value) != "map[a:1]" {
		t.Fatalf("GetGlobalParameter: %+v %v", gp, err)
	}
	if all, err := e.rh.ListGlobalParameters(); err != nil || !slices.ContainsFunc(all, func(p rabbithole.GlobalRuntimeParameter) bool { return p.Name == g }) {
		t.Errorf("ListGlobalParameters lacks %q: %v", g, err)
	}
	if res, err := e.rh.DeleteGlobalParameter(g); err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("DeleteGlobalParameter: %v %v", res, err)
	}
	if _, err := e.rh.GetGlobalParameter(g); !isStatus(err, http.StatusNotFound) {
		t.Errorf("GetGlobalParameter after delete: %v, want 404", err)
	}
}
