package broker

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/warrenmq/warren/amqp"
)

const rabbitExport = "testdata/rabbitmq-3.10.8-definitions.json"

// canonical decodes definitions JSON and sorts every list by its entries'
// JSON, dropping the product fields, so two exports compare as sets.
func canonical(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"rabbit_version", "rabbitmq_version", "product_name", "product_version"} {
		delete(m, k)
	}
	for k, v := range m {
		l, ok := v.([]any)
		if !ok {
			continue
		}
		slices.SortFunc(l, func(a, b any) int {
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			return strings.Compare(string(ja), string(jb))
		})
		m[k] = l
	}
	return m
}

func marshal(t *testing.T, d any) []byte {
	t.Helper()
	raw, err := MarshalDefinitions(d)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.MarshalIndent(got, "", " ")
	w, _ := json.MarshalIndent(want, "", " ")
	if string(g) != string(w) {
		t.Errorf("%s differ:\ngot  %s\nwant %s", what, g, w)
	}
}

// TestImportRabbitMQExport imports a file exported from RabbitMQ 3.10.8
// unchanged and exports it back equivalently: every list the same set.
func TestImportRabbitMQExport(t *testing.T) {
	raw, err := os.ReadFile(rabbitExport)
	if err != nil {
		t.Fatal(err)
	}
	b := New(Config{})
	if err := b.Import(raw, ""); err != nil {
		t.Fatalf("import: %v", err)
	}
	got := canonical(t, marshal(t, b.Export("test")))
	want := canonical(t, raw)
	for _, k := range []string{"users", "vhosts", "permissions", "topic_permissions", "parameters", "global_parameters", "policies", "queues", "exchanges", "bindings"} {
		sameJSON(t, k, got[k], want[k])
	}
	// The users log in with their RabbitMQ hashes, whatever the algorithm.
	for _, c := range []struct{ user, pass string }{{"guest", "guest"}, {"defs-sha512", "s512pw"}, {"defs-md5", "md5pw"}} {
		u, ok := b.User(c.user)
		if !ok || !u.CheckPassword(c.pass) || u.CheckPassword(c.pass+"x") {
			t.Errorf("user %s (%s): the password does not check as it should", c.user, u.HashingAlgorithm)
		}
	}
	// The policies apply to the imported queues.
	info, _ := b.Vhost("defs-probe").QueueInfo("orders.eu")
	if info.Policy != "p" || info.OperatorPolicy != "op-cap" {
		t.Errorf("orders.eu: policy %q, operator policy %q; want p, op-cap", info.Policy, info.OperatorPolicy)
	}
	// And importing it again changes nothing and is no error.
	if err := b.Import(raw, ""); err != nil {
		t.Fatalf("second import: %v", err)
	}
}

// TestImportAllOrNothing: a bad entry anywhere refuses the whole file,
// naming the entry, and nothing of it is applied.
func TestImportAllOrNothing(t *testing.T) {
	cases := []struct {
		name, file, want string
	}{
		{"binding to a missing queue",
			`{"queues":[{"name":"q1","vhost":"/","durable":true,"auto_delete":false,"arguments":{}}],
			  "exchanges":[{"name":"x1","vhost":"/","type":"direct","durable":true,"auto_delete":false,"internal":false,"arguments":{}}],
			  "bindings":[{"source":"x1","vhost":"/","destination":"nope","destination_type":"queue","routing_key":"k","arguments":{}}]}`,
			"cannot import definitions: binding from exchange 'x1' to queue 'nope' with key 'k' in vhost '/': NOT_FOUND - no queue 'nope' in vhost '/'"},
		{"bad queue argument",
			`{"queues":[{"name":"q1","vhost":"/","durable":true,"auto_delete":false,"arguments":{}},
			            {"name":"q2","vhost":"/","durable":true,"auto_delete":false,"arguments":{"x-max-length":-1}}]}`,
			"cannot import definitions: queue 'q2' in vhost '/': PRECONDITION_FAILED - invalid arg 'x-max-length' for queue 'q2' in vhost '/': {value_negative,-1}"},
		{"bad policy pattern",
			`{"queues":[{"name":"q1","vhost":"/","durable":true,"auto_delete":false,"arguments":{}}],
			  "policies":[{"vhost":"/","name":"p","pattern":"(","apply-to":"queues","definition":{"max-length":1},"priority":0}]}`,
			"cannot import definitions: policy 'p' in vhost '/': pattern should be regular expression but is invalid: error parsing regexp: missing closing ): `(`"},
		{"permissions for an unknown user",
			`{"users":[{"name":"u1","password_hash":"","hashing_algorithm":"rabbit_password_hashing_sha256","tags":[],"limits":{}}],
			  "permissions":[{"user":"u2","vhost":"/","configure":".*","write":".*","read":".*"}]}`,
			"cannot import definitions: permissions of user 'u2' in vhost '/': NOT_FOUND - no user 'u2'"},
		{"unknown exchange type",
			`{"queues":[{"name":"q1","vhost":"/","durable":true,"auto_delete":false,"arguments":{}}],
			  "exchanges":[{"name":"x1","vhost":"/","type":"bogus","durable":true,"auto_delete":false,"internal":false,"arguments":{}}]}`,
			"cannot import definitions: exchange 'x1' in vhost '/': COMMAND_INVALID - unknown exchange type 'bogus'"},
		{"queue in a missing vhost",
			`{"queues":[{"name":"q1","vhost":"nowhere","durable":true,"auto_delete":false,"arguments":{}}]}`,
			"cannot import definitions: queue 'q1' in vhost 'nowhere': NOT_FOUND - no vhost 'nowhere'"},
		{"bad password hash",
			`{"users":[{"name":"u1","password_hash":"YWJj","hashing_algorithm":"rabbit_password_hashing_sha512","tags":"administrator","limits":{}}]}`,
			"cannot import definitions: user 'u1': password_hash has 3 bytes, want 68 for rabbit_password_hashing_sha512"},
		{"not JSON", `{"queues":[`, "cannot import definitions: the file: not valid definitions JSON: unexpected EOF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := New(Config{})
			err := b.Import([]byte(c.file), "")
			if err == nil || err.Error() != c.want {
				t.Fatalf("got error\n  %v\nwant\n  %s", err, c.want)
			}
			if !errors.Is(err, ErrValidation) {
				t.Errorf("the error does not wrap ErrValidation")
			}
			v := b.Vhost("/")
			if v.Queue("q1") != nil || v.Exchange("x1") != nil || len(b.Users()) != 0 || len(v.Policies(false)) != 0 {
				t.Errorf("part of the refused file was applied")
			}
		})
	}
}

// TestImportVhostExport: a vhost's export imports into another vhost.
func TestImportVhostExport(t *testing.T) {
	raw, _ := os.ReadFile(rabbitExport)
	src := New(Config{})
	if err := src.Import(raw, ""); err != nil {
		t.Fatal(err)
	}
	vraw := marshal(t, src.Vhost("defs-probe").Export())
	if strings.Contains(string(vraw), `"users"`) || !strings.Contains(string(vraw), `"rabbit_version"`) {
		t.Fatalf("a vhost export has the wrong keys:\n%s", vraw)
	}
	dst := New(Config{Vhosts: []string{"/", "copy"}})
	if err := dst.Import(vraw, "copy"); err != nil {
		t.Fatalf("import into copy: %v", err)
	}
	got := canonical(t, marshal(t, dst.Vhost("copy").Export()))
	want := canonical(t, vraw)
	sameJSON(t, "queues", got["queues"], want["queues"])
	sameJSON(t, "bindings", got["bindings"], want["bindings"])
	sameJSON(t, "policies", len(got["policies"].([]any)), len(want["policies"].([]any)))
	if err := dst.Import(vraw, "missing"); err == nil {
		t.Errorf("import into a missing vhost succeeded")
	} else {
		wantCode(t, err, amqp.NotFound, "no vhost 'missing'")
	}
}
