package broker

import (
	"os"
	"testing"
)

// FuzzImport: any file is imported or refused with an error, never a
// panic; a refused one changes nothing. (Go minimizes each new input by
// running it many times, so "0/sec" phases while it does are expected.)
func FuzzImport(f *testing.F) {
	raw, err := os.ReadFile(rabbitExport)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte(`{"policies":[{"vhost":"/","name":"p","pattern":"^a","apply-to":"queues","definition":{"max-length":1},"priority":"x"}]}`))
	f.Add([]byte(`{"parameters":[{"vhost":"/","component":"vhost-limits","name":"limits","value":{"max-queues":1}}],"queues":[{"name":"a","vhost":"/","arguments":{"x-max-length":[1,{"a":null}]}}]}`))
	f.Add([]byte(`{"bindings":[{"source":"amq.headers","vhost":"/","destination":"amq.topic","destination_type":"exchange","routing_key":"","arguments":{"x-match":"bogus"}}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		b := New(Config{})
		before := string(mustMarshal(t, b.Export("fuzz")))
		if err := b.Import(raw, ""); err != nil {
			if after := string(mustMarshal(t, b.Export("fuzz"))); after != before {
				t.Fatalf("a refused import (%v) changed the definitions", err)
			}
		}
	})
}

func mustMarshal(t *testing.T, d any) []byte {
	raw, err := MarshalDefinitions(d)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
