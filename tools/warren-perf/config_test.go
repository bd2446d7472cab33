package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestScenarioPresets(t *testing.T) {
	tests := []struct {
		name  string
		check func(c Config) bool
	}{
		{"transient-1to1", func(c Config) bool {
			return c.Size == 16 && !c.AutoAck && c.Prefetch == 1000 && c.MultipleAckEvery == 100 && c.Producers == 1 && c.Consumers == 1 && !c.Persistent
		}},
		{"transient-autoack", func(c Config) bool { return c.Size == 16 && c.AutoAck }},
		{"persistent-confirms", func(c Config) bool {
			return c.Size == 1024 && c.Persistent && c.Durable && c.Confirm == 1000 && !c.AutoAck
		}},
		{"fanout-10", func(c Config) bool {
			return c.ExchangeType == "fanout" && c.Exchange != "" && c.Queues == 10 && c.Consumers == 10 && c.Producers == 1
		}},
		{"topic-10k", func(c Config) bool { return c.ExchangeType == "topic" && c.Bindings == 10000 && c.Exchange != "" }},
		{"latency-1k", func(c Config) bool { return c.Rate == 1000 && c.MultipleAckEvery == 1 }},
		{"large-1mib", func(c Config) bool { return c.Size == 1<<20 && c.Prefetch <= 100 }},
		{"backlog", func(c Config) bool { return c.Mode == ModeBacklog && c.Count > 0 }},
		{"backlog-500k", func(c Config) bool { return c.Mode == ModeBacklog && c.Count == 500000 && c.Size == 100 }},
		{"backlog-1mib", func(c Config) bool {
			return c.Mode == ModeBacklog && c.Count == 1000 && c.Size == 1<<20 && c.Persistent && c.Durable && c.Confirm == 10
		}},
		{"backlog-1gib", func(c Config) bool {
			return c.Mode == ModeBacklog && c.Count == 1000000 && c.Size == 1024 && c.Persistent && c.Durable && c.Confirm == 1000
		}},
		{"many-queues", func(c Config) bool { return c.Mode == ModeQueues && c.Queues == 1000 }},
		{"idle-connections", func(c Config) bool { return c.Mode == ModeIdleConns && c.Connections > 0 }},
		{"stream-publish", func(c Config) bool {
			return c.QueueType == "stream" && c.Durable && c.Confirm == 1000 && c.Size == 16 && c.StreamOffset == "next" && !c.AutoAck
		}},
		{"stream-publish-1k", func(c Config) bool { return c.QueueType == "stream" && c.Size == 1024 && c.Confirm == 1000 }},
		{"stream-replay", func(c Config) bool {
			return c.Mode == ModeBacklog && c.QueueType == "stream" && c.Count == 1000000 && c.Size == 100 && c.StreamOffset == "first" && c.Confirm > 0
		}},
		{"stream-replay-10m", func(c Config) bool {
			return c.Mode == ModeBacklog && c.QueueType == "stream" && c.Count == 10000000 && c.Size == 100 && c.StreamOffset == "first" &&
				c.Confirm == 10000 && c.Time >= 30*time.Minute
		}},
		{"stream-fanout-offsets", func(c Config) bool {
			return c.Mode == ModeBacklog && c.QueueType == "stream" && c.Count == 500000 && c.Consumers == 10 && c.StreamSpread &&
				c.spreadOffset(9) == 450000 && c.spreadDeliveries() == 2750000
		}},
		{"stream-fanout", func(c Config) bool {
			return c.QueueType == "stream" && c.Consumers == 10 && c.Queues == 1 && c.StreamOffset == "first"
		}},
		{"quorum-confirms", func(c Config) bool {
			return c.QueueType == "quorum" && c.Size == 1024 && c.Persistent && c.Durable && c.Confirm == 1000 && !c.AutoAck
		}},
	}
	if len(tests) != len(scenarios) {
		t.Errorf("%d scenarios, %d tested", len(scenarios), len(tests))
	}
	for _, tt := range tests {
		c, err := parseRunFlags([]string{"--scenario", tt.name}, io.Discard)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if c.Scenario != tt.name || !tt.check(c) {
			t.Errorf("%s: preset not applied: %+v", tt.name, c)
		}
		if c.Time <= 0 && c.Count <= 0 {
			t.Errorf("%s: unbounded", tt.name)
		}
	}
}

// TestFlagsOverridePreset: a flag given explicitly wins over the
// scenario, wherever it stands on the command line.
func TestFlagsOverridePreset(t *testing.T) {
	c, err := parseRunFlags([]string{"--consumers", "3", "--scenario", "fanout-10", "--time=2s", "-s", "100"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Consumers != 3 || c.Queues != 10 || c.ExchangeType != "fanout" || c.Time != 2*time.Second || c.Size != 100 {
		t.Errorf("got %+v", c)
	}
}

func TestRunFlagDefaultsAndErrors(t *testing.T) {
	c, err := parseRunFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Time != 10*time.Second || c.BindingKey != c.RoutingKey || !c.Coalesce {
		t.Errorf("defaults %+v", c)
	}
	c, err = parseRunFlags([]string{"--count", "5"}, io.Discard)
	if err != nil || c.Time != 0 || c.timeCap() != countCap {
		t.Errorf("--count alone: time %v cap %v err %v", c.Time, c.timeCap(), err)
	}
	bad := map[string][]string{
		"remote url":      {"--url", "amqp://guest:guest@192.168.1.5:5672/"},
		"amqps remote":    {"--url", "amqps://10.0.0.1:5671/"},
		"http":            {"--url", "http://127.0.0.1:15672/"},
		"ack after fetch": {"--prefetch", "10", "--multiple-ack-every", "20"},
		"bindings direct": {"--bindings", "10", "--exchange", "x"},
		"bindings no exc": {"--bindings", "10", "--exchange-type", "topic"},
		"exchange type":   {"--exchange-type", "x-delayed"},
		"scenario":        {"--scenario", "nope"},
		"no queues":       {"--queues", "0"},
		"args":            {"stray"},
		"nothing to do":   {"--producers", "0", "--consumers", "0"},
	}
	for name, args := range bad {
		if _, err := parseRunFlags(args, io.Discard); err == nil {
			t.Errorf("%s: %q parsed without error", name, args)
		}
	}
}

func TestCheckLoopback(t *testing.T) {
	ok := []string{"amqp://127.0.0.1:5672/", "amqp://guest:guest@127.0.0.53/", "amqp://localhost/", "amqp://[::1]:5672/"}
	for _, u := range ok {
		if err := checkLoopback(u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	bad := []string{"amqp://10.1.2.3/", "amqp://example.com:5672/", "amqp://0.0.0.0/", "amqp://[::]:5672/", "http://127.0.0.1/", "amqp://172.16.0.1/"}
	for _, u := range bad {
		if err := checkLoopback(u); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
}

func TestTopicMatch(t *testing.T) {
	tests := []struct {
		pattern, key string
		want         bool
	}{
		{"k.1.*", "k.1.x", true},
		{"k.1.*", "k.10.x", false},
		{"k.1.*", "k.1", false},
		{"k.1.*", "k.1.x.y", false},
		{"#", "", true},
		{"#", "a.b.c", true},
		{"a.#", "a", true}, // # matches zero words
		{"a.#.b", "a.b", true},
		{"a.#.b", "a.x.y.b", true},
		{"*", "", false}, // the empty key has no words
		{"", "", true},
		{"*.*", "a", false},
		{"a", "a", true},
		{"a", "b", false},
	}
	for _, tt := range tests {
		if got := topicMatch(tt.pattern, tt.key); got != tt.want {
			t.Errorf("topicMatch(%q, %q) = %v, want %v", tt.pattern, tt.key, got, tt.want)
		}
	}
	copies := []struct {
		kind, bk, rk string
		want         int
	}{
		{"fanout", "x", "y", 4}, {"headers", "", "", 4}, {"direct", "a", "a", 4}, {"direct", "a", "b", 0},
		{"topic", "a.*", "a.b", 4}, {"topic", "a.*", "b.a", 0},
	}
	for _, c := range copies {
		if got := routeCopies(c.kind, c.bk, c.rk, 4); got != c.want {
			t.Errorf("routeCopies(%s, %q, %q) = %d, want %d", c.kind, c.bk, c.rk, got, c.want)
		}
	}
}

func TestFormatting(t *testing.T) {
	if got := num(1234567.4); got != "1,234,567" {
		t.Errorf("num = %q", got)
	}
	if got := num(12.345); got != "12.35" {
		t.Errorf("num = %q", got)
	}
	if got := redact("amqp://guest:secret@127.0.0.1:5672/"); strings.Contains(got, "secret") {
		t.Errorf("redact kept the password: %q", got)
	}
	if got := bytesIEC(3 << 20); got != "3.0 MiB" {
		t.Errorf("bytesIEC = %q", got)
	}
	var lat, conf Histogram
	lat.Record(2 * time.Millisecond)
	line := progressLine(2*time.Second, 2000, 1500, 1000, 750, &lat, &conf)
	for _, want := range []string{"2.0s", "sent 2,000", "(1,000/s)", "recv 1,500", "lat p50 2.00"} {
		if !strings.Contains(line, want) {
			t.Errorf("progress line %q lacks %q", line, want)
		}
	}
}
