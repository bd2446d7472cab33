package broker

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue"
)

// commandSamples holds one value of every command type, with every field
// set, and what it decodes to (the node-local fields are not carried).
func commandSamples() map[string][2]Command {
	sampleArgs := map[string]any{
		"x-max-length": int32(10), "x-message-ttl": int64(60000), "x-flag": true,
		"x-name": "a", "x-bytes": []byte{0, 1}, "x-dec": amqp.Decimal{Scale: 2, Value: 314},
		"x-float": float64(1.5), "x-table": amqp.Table{"k": int16(-3)}, "x-list": []any{int8(1), "two"},
		"x-time": time.Unix(1700000000, 0).UTC(),
	}
	dest := exchange.Destination{Exchange: true, Name: "to"}
	json := map[string]any{"n": float64(3), "s": "x", "l": []any{true, nil}, "o": map[string]any{"k": float64(1)}}
	same := func(c Command) [2]Command { return [2]Command{c, c} }
	return map[string][2]Command{
		"AddVhost":        same(AddVhost{Name: "v", Meta: VhostMeta{Description: "d", Tags: []string{"a", "b"}, DefaultQueueType: "quorum"}}),
		"DeleteVhost":     same(DeleteVhost{Name: "v"}),
		"DeclareExchange": same(DeclareExchange{Name: "x", Kind: exchange.Topic, Durable: true, AutoDelete: true, Internal: true, Args: sampleArgs}),
		"DeleteExchange":  same(DeleteExchange{Name: "x", IfUnused: true}),
		"DeclareQueue": {
			DeclareQueue{Name: "q", Durable: true, Exclusive: true, AutoDelete: true, Args: sampleArgs, Owner: 9, ID: 42},
			DeclareQueue{Name: "q", Durable: true, Exclusive: true, AutoDelete: true, Args: sampleArgs},
		},
		"DeleteQueue": {
			DeleteQueue{Name: "q", IfUnused: true, IfEmpty: true, Queue: &queue.Queue{}},
			DeleteQueue{Name: "q", IfUnused: true, IfEmpty: true},
		},
		"Bind":            same(Bind{Source: "s", Destination: dest, Key: "k.#", Args: sampleArgs}),
		"Unbind":          same(Unbind{Source: "s", Destination: exchange.Destination{Name: "q"}, Key: "k", Args: sampleArgs}),
		"SetPolicy":       same(SetPolicy{Policy: Policy{Vhost: "v", Name: "p", Pattern: "^a", ApplyTo: "queues", Priority: 7, Definition: json, Operator: true}}),
		"ClearPolicy":     same(ClearPolicy{Name: "p", Operator: true}),
		"SetParameter":    same(SetParameter{Component: "c", Name: "n", Value: json}),
		"ClearParameter":  same(ClearParameter{Component: "c", Name: "n"}),
		"SetVhostLimit":   same(SetVhostLimit{Name: "max-queues", Value: -1}),
		"ClearVhostLimit": same(ClearVhostLimit{Name: "max-queues"}),
		"PutUser": same(PutUser{User: User{Name: "u", PasswordHash: "h", HashingAlgorithm: HashSHA512,
			Tags: []string{"administrator"}, Limits: map[string]any{"max-connections": float64(3)}}}),
		"DeleteUser":            same(DeleteUser{Name: "u"}),
		"SetPermissions":        same(SetPermissions{Permission: Permission{Vhost: "v", User: "u", Configure: ".*", Write: "w", Read: ""}}),
		"ClearPermissions":      same(ClearPermissions{Vhost: "v", User: "u"}),
		"SetTopicPermissions":   same(SetTopicPermissions{Permission: TopicPermission{Vhost: "v", User: "u", Exchange: "amq.topic", Write: "w", Read: "r"}}),
		"ClearTopicPermissions": same(ClearTopicPermissions{Vhost: "v", User: "u", Exchange: "x"}),
		"SetGlobalParameter":    same(SetGlobalParameter{Name: "cluster_name", Value: json}),
		"ClearGlobalParameter":  same(ClearGlobalParameter{Name: "cluster_name"}),
	}
}

// commandTypes lists the types of this package that implement Command
// (a method named command), from its source: a new command type without
// a sample, or without an encoding, fails TestCodecRoundTrip.
func commandTypes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Name.Name != "command" || fd.Recv == nil {
				continue
			}
			if id, ok := fd.Recv.List[0].Type.(*ast.Ident); ok {
				out = append(out, id.Name)
			}
		}
	}
	if len(out) < 20 {
		t.Fatalf("found only %d command types in the source: %v", len(out), out)
	}
	return out
}

func TestCodecRoundTrip(t *testing.T) {
	samples := commandSamples()
	for _, name := range commandTypes(t) {
		s, ok := samples[name]
		if !ok {
			t.Errorf("command type %s has no sample in commandSamples: add one, and its encoding in codec.go", name)
			continue
		}
		if got := reflect.TypeOf(s[0]).Name(); got != name {
			t.Errorf("the sample for %s is a %s", name, got)
		}
		raw, err := EncodeCommand("vh/1", s[0])
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		vhost, cmd, err := DecodeCommand(raw)
		if err != nil {
			t.Errorf("%s: decoding %s: %v", name, raw, err)
			continue
		}
		if vhost != "vh/1" || !reflect.DeepEqual(cmd, s[1]) {
			t.Errorf("%s: round trip gave %q %#v\nwant %#v", name, vhost, cmd, s[1])
		}
	}
}

func TestCodecRefuses(t *testing.T) {
	type unknown struct{ Command }
	if _, err := EncodeCommand("/", unknown{}); !errors.Is(err, ErrCodec) {
		t.Fatalf("encoding an unknown command type: %v, want ErrCodec", err)
	}
	for _, raw := range []string{
		`{"v":2,"t":"delete_vhost","c":{"Name":"v"}}`,
		`{"v":1,"t":"launch_rockets","c":{}}`,
		`{"v":1,"t":"delete_vhost","c":{"Nom":"v"}}`,
		`{"v":1,"t":"declare_exchange","c":{"name":"x","kind":"nonsense"}}`,
		`{"v":1,"t":"bind","c":{"source":"x","args":"AAAABQE="}}`,
		`not json`,
	} {
		if _, cmd, err := DecodeCommand([]byte(raw)); !errors.Is(err, ErrCodec) {
			t.Errorf("DecodeCommand(%s) = %#v, %v; want ErrCodec", raw, cmd, err)
		}
	}
}
