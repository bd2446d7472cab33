package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	amqp "github.com/rabbitmq/amqp091-go"
)

// rabbitExport is amqp/broker/testdata's RabbitMQ 3.10.8 export, made
// the test's own: the vhost "defs-probe" and the users "defs-*" get
// unique names, and only what belongs to them is kept (so the file can
// go into a shared RabbitMQ too).
func (e *env) rabbitExport(vh, userPrefix, global string) map[string]any {
	e.t.Helper()
	raw, err := os.ReadFile("../../amqp/broker/testdata/rabbitmq-3.10.8-definitions.json")
	if err != nil {
		e.t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(raw, &d); err != nil {
		e.t.Fatal(err)
	}
	rename := func(m map[string]any) bool {
		for _, k := range []string{"user", "name"} {
			if s, ok := m[k].(string); ok && strings.HasPrefix(s, "defs-") && (k == "user" || m["password_hash"] != nil) {
				m[k] = userPrefix + s
			}
		}
		if m["vhost"] == "defs-probe" {
			m["vhost"] = vh
			return true
		}
		return false
	}
	keep := func(key string, f func(map[string]any) bool) {
		var out []any
		for _, x := range d[key].([]any) {
			if m := x.(map[string]any); f(m) {
				out = append(out, m)
			}
		}
		d[key] = out
	}
	keep("users", func(m map[string]any) bool { rename(m); return m["name"] != "guest" })
	keep("vhosts", func(m map[string]any) bool { m["name"] = vh; return true })
	d["vhosts"] = d["vhosts"].([]any)[:1]
	for _, k := range []string{"permissions", "topic_permissions", "parameters", "policies", "queues", "exchanges", "bindings"} {
		keep(k, rename)
	}
	d["global_parameters"] = []any{map[string]any{"name": global, "value": "defs-probe"}}
	return d
}

func TestDefinitionsImportRabbitMQExport(t *testing.T) {
	e := setup(t)
	vh, prefix, global := e.name("vhost"), e.name("user")+"-", e.name("global")
	d := e.rabbitExport(vh, prefix, global)
	t.Cleanup(func() {
		e.rh.DeleteVhost(vh)
		e.rh.DeleteGlobalParameter(global)
		for _, u := range []string{"defs-md5", "defs-sha512", "defs-u"} {
			e.rh.DeleteUser(prefix + u)
		}
	})
	code, raw, _ := e.do("POST", "/api/definitions", d)
	if code != http.StatusNoContent {
		t.Fatalf("POST /api/definitions: %d %s", code, raw)
	}

	// Users keep their RabbitMQ hashes and tags.
	u, err := e.rh.GetUser(prefix + "defs-sha512")
	if err != nil || u.HashingAlgorithm != "rabbit_password_hashing_sha512" || !strings.HasPrefix(u.PasswordHash, "T1LVvt") || !slices.Equal([]string(u.Tags), []string{"monitoring"}) {
		t.Fatalf("imported user: %+v %v", u, err)
	}
	p, err := e.rh.GetPermissionsIn(vh, prefix+"defs-sha512")
	if err != nil || p.Write != "^orders$" || p.Read != "^orders\\..*" || p.Configure != "" {
		t.Errorf("imported permissions: %+v %v", p, err)
	}
	if lim, err := e.rh.GetVhostLimits(vh); err != nil || len(lim) != 1 || lim[0].Value["max-queues"] != 100 {
		t.Errorf("imported limits: %+v %v", lim, err)
	}
	e.eventually("the policies apply to the imported queue", func() (bool, string) {
		pol, op, eff := e.queuePolicy(vh, "orders.eu")
		return pol == "p" && op == "op-cap" && fmt.Sprint(eff["max-length"]) == "500", fmt.Sprint(pol, op, eff)
	})

	// Over AMQP: the topology routes.
	ch, err := e.dial(vh, nil).Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Publish("orders", "orders.eu.created", false, false, amqp.Publishing{Body: []byte("o1")}); err != nil {
		t.Fatal(err)
	}
	e.eventually("the message in orders.eu", func() (bool, string) {
		n := queueDepth(t, ch, "orders.eu")
		return n == 1, fmt.Sprint(n)
	})

	// It exports back equivalently.
	var vd rabbithole.ExportedDefinitions // (rabbit-hole's ListVhostDefinitions does not escape the name)
	e.getJSON("/api/definitions/"+esc(vh), &vd)
	var qs, xs []string
	for _, q := range *vd.Queues {
		qs = append(qs, q.Name)
	}
	for _, x := range *vd.Exchanges {
		xs = append(xs, x.Name)
	}
	slices.Sort(qs)
	slices.Sort(xs)
	if fmt.Sprint(qs) != "[orders.dead orders.eu q1 unrouted.q work.qq]" || fmt.Sprint(xs) != "[dlx internal-x orders unrouted]" || len(*vd.Bindings) != 4 || len(*vd.Policies) != 2 {
		t.Errorf("the vhost's export: queues %v exchanges %v, %d bindings, %d policies", qs, xs, len(*vd.Bindings), len(*vd.Policies))
	}
	all, err := e.rh.ListDefinitions()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(*all.Users, func(u rabbithole.UserInfo) bool { return u.Name == prefix+"defs-u" }) ||
		!slices.ContainsFunc(*all.Vhosts, func(v rabbithole.VhostInfo) bool { return v.Name == vh }) ||
		!slices.ContainsFunc(*all.TopicPermissions, func(p rabbithole.TopicPermissionInfo) bool { return p.Vhost == vh }) {
		t.Errorf("the whole export lacks the imported user, vhost or topic permission")
	}
}

func TestDefinitionsRoundTripIntoVhost(t *testing.T) {
	e := setup(t)
	src, dst := e.newVhost("src"), e.newVhost("dst")
	ch, err := e.dial(src, nil).Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeDeclare("x", "topic", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("q", true, false, false, false, amqp.Table{"x-max-length": int32(7)}); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind("q", "k.#", "x", false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rh.PutPolicy(src, "p", rabbithole.Policy{Pattern: "^q$", ApplyTo: "queues", Definition: rabbithole.PolicyDefinition{"message-ttl": 60000}}); err != nil {
		t.Fatal(err)
	}
	code, raw, _ := e.do("GET", "/api/definitions/"+esc(src), nil)
	if code != http.StatusOK {
		t.Fatalf("GET definitions of the vhost: %d %s", code, raw)
	}
	// The RabbitMQ UI's upload: a multipart form, the file in "file".
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "defs.json")
	fw.Write(raw)
	mw.Close()
	code, out, _ := e.do("POST", "/api/definitions/"+esc(dst), body.String(), "Content-Type", mw.FormDataContentType())
	if code != http.StatusNoContent {
		t.Fatalf("POST multipart definitions: %d %s", code, out)
	}
	q, err := e.rh.GetQueue(dst, "q")
	if err != nil || fmt.Sprint(q.Arguments["x-max-length"]) != "7" || !q.Durable {
		t.Fatalf("the imported queue: %+v %v", q, err)
	}
	if bs, err := e.rh.ListQueueBindingsBetween(dst, "x", "q"); err != nil || len(bs) != 1 || bs[0].RoutingKey != "k.#" {
		t.Errorf("the imported binding: %+v %v", bs, err)
	}
	if pol, err := e.rh.GetPolicy(dst, "p"); err != nil || pol.Pattern != "^q$" {
		t.Errorf("the imported policy: %+v %v", pol, err)
	}
	ch2, err := e.dial(dst, nil).Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch2.Publish("x", "k.1", false, false, amqp.Publishing{}); err != nil {
		t.Fatal(err)
	}
	e.eventually("routed in the imported vhost", func() (bool, string) {
		n := queueDepth(t, ch2, "q")
		return n == 1, fmt.Sprint(n)
	})
	code, raw, _ = e.do("GET", "/api/definitions/"+esc(e.name("novhost")), nil)
	e.wantError("GET definitions of a missing vhost", code, raw, http.StatusBadRequest, "bad_request", "vhost_not_found")
}

func TestDefinitionsBadFileChangesNothing(t *testing.T) {
	e := setup(t)
	vh, q := e.name("vhost"), e.name("queue")
	t.Cleanup(func() { e.rh.DeleteVhost(vh); e.rh.DeleteQueue("/", q) })
	file := map[string]any{
		"vhosts": []any{map[string]any{"name": vh}},
		"queues": []any{map[string]any{"name": q, "vhost": "/", "durable": true, "auto_delete": false, "arguments": map[string]any{}}},
		"policies": []any{map[string]any{"vhost": "/", "name": "bad", "pattern": "x", "apply-to": "queues",
			"definition": map[string]any{"max-length": "x"}, "priority": 0}},
	}
	code, raw, _ := e.do("POST", "/api/definitions", file)
	var eb struct{ Error, Reason string }
	if code != http.StatusBadRequest || jsonInto(raw, &eb) != nil || eb.Error != "bad_request" || !strings.Contains(eb.Reason, "is not a valid maximum length") {
		t.Fatalf("POST a bad file: %d %s, want 400 naming the bad length", code, raw)
	}
	if e.warren {
		// Warren's import is all or nothing and names the entry
		// (RabbitMQ applies what comes before the bad entry).
		if !strings.Contains(eb.Reason, "policy 'bad'") {
			t.Errorf("the error does not name the policy: %q", eb.Reason)
		}
		if _, err := e.rh.GetVhost(vh); !isStatus(err, http.StatusNotFound) {
			t.Errorf("the bad file's vhost was created: %v", err)
		}
		if _, err := e.rh.GetQueue("/", q); !isStatus(err, http.StatusNotFound) {
			t.Errorf("the bad file's queue was declared: %v", err)
		}
	}
	code, raw, _ = e.do("POST", "/api/definitions", "not json")
	if code != http.StatusBadRequest {
		t.Errorf("POST not JSON: %d %s, want 400", code, raw)
	}
}
