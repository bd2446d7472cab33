package main

import (
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{7}, 7},
		{[]float64{nan, 5, nan, 1}, 3},
		{nil, nan},
		{[]float64{nan}, nan},
	}
	for _, tt := range tests {
		got := median(tt.in)
		if !(got == tt.want || math.IsNaN(got) && math.IsNaN(tt.want)) {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
	in := []float64{3, 1, 2}
	median(in)
	if in[0] != 3 {
		t.Error("median sorted its argument in place")
	}
}

func TestSpreadRatioRate(t *testing.T) {
	if got := spread([]float64{90, 100, 110}); math.Abs(got-0.1) > 1e-12 {
		t.Errorf("spread = %v, want 0.1", got)
	}
	if !math.IsNaN(spread([]float64{5})) {
		t.Error("spread of one value should be NaN")
	}
	for _, tt := range []struct{ a, b, want float64 }{{10, 5, 2}, {1, 4, 0.25}, {1, 0, nan}, {nan, 1, nan}} {
		got := ratio(tt.a, tt.b)
		if !(got == tt.want || math.IsNaN(got) && math.IsNaN(tt.want)) {
			t.Errorf("ratio(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
	if got := rate(500, 2*time.Second); got != 250 {
		t.Errorf("rate = %v, want 250", got)
	}
	if got := rate(500, 0); got != 0 {
		t.Errorf("rate over 0 s = %v, want 0", got)
	}
}

func TestBetter(t *testing.T) {
	up, down, none := metric{Better: +1}, metric{Better: -1}, metric{}
	tests := []struct {
		m    metric
		a, b float64
		want string
	}{
		{up, 200, 100, "A"},
		{up, 100, 200, "B"},
		{down, 1, 2, "A"},
		{down, 2, 1, "B"},
		{up, 100, 97, "≈"},
		{none, 100, 1, ""},
		{up, nan, 1, ""},
	}
	for _, tt := range tests {
		if got := better(tt.m, tt.a, tt.b, "A", "B"); got != tt.want {
			t.Errorf("better(%+d, %v, %v) = %q, want %q", tt.m.Better, tt.a, tt.b, got, tt.want)
		}
	}
}

func TestSig(t *testing.T) {
	tests := map[float64]string{
		1234567: "1,234,567", 123.4: "123", 12.34: "12.3", 1.234: "1.23", 0.01234: "0.012", 0: "0", nan: "n/a", -2500: "-2,500",
	}
	for in, want := range tests {
		if got := sig(in); got != want {
			t.Errorf("sig(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatTable(t *testing.T) {
	rows := []row{
		{Scenario: "transient-1to1", Metric: "recv msg/s", A: []float64{100000, 110000, 90000}, B: []float64{50000, 50000, 50000}},
		{Scenario: "transient-1to1", Metric: "latency p99 ms", A: []float64{2, 2, 2}, B: []float64{1, 1, 1}},
		{Scenario: "transient-1to1", Metric: "broker CPU s", A: []float64{nan}, B: []float64{3}},
	}
	got := formatTable(rows, "warren", "rabbitmq")
	want := `| scenario | metric | warren (median ±half-range) | rabbitmq (median ±half-range) | ratio warren/rabbitmq | better |
|---|---|--:|--:|--:|---|
| transient-1to1 | recv msg/s ↑ | 100,000 ±10% | 50,000 ±0% | 2.00 | warren |
| transient-1to1 | latency p99 ms ↓ | 2.00 ±0% | 1.00 ±0% | 2.00 | rabbitmq |
| transient-1to1 | broker CPU s | n/a | 3.00 | n/a |  |
`
	if got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}

func TestEveryScenarioMetricIsDefined(t *testing.T) {
	for _, s := range scenarios {
		for _, m := range s.Metrics {
			if _, ok := metrics[m]; !ok {
				t.Errorf("scenario %s: metric %q is not in the metrics table", s.Name, m)
			}
		}
	}
	for _, name := range defaultCompareScenarios {
		if _, err := findScenario(name); err != nil {
			t.Error(err)
		}
	}
}

func TestParseCompareFlags(t *testing.T) {
	a, b := "amqp://guest:guest@127.0.0.1:5673/", "amqp://guest:guest@localhost:5672/"
	o, err := parseCompareFlags([]string{"--url", a, "--url", b, "--pid", "10", "--pid", "20", "--scenarios", "fanout-10,topic-10k", "--scenario", "latency-1k", "--time", "5s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(o.Scenarios, ",") != "latency-1k,fanout-10,topic-10k" || o.Rounds != 3 || o.PIDs[1] != 20 || o.Time != 5*time.Second {
		t.Errorf("options %+v", o)
	}
	if o.Names[0] != "127.0.0.1:5673" || o.Names[1] != "localhost:5672" {
		t.Errorf("default names %q", o.Names)
	}
	c, err := scenarioConfig("fanout-10", a, 10, o)
	if err != nil || c.Time != 5*time.Second || c.Queues != 10 || c.BrokerPID != 10 {
		t.Errorf("scenarioConfig = %+v, %v", c, err)
	}
	o, _ = parseCompareFlags([]string{"--url", a, "--url", b}, io.Discard)
	if strings.Join(o.Scenarios, ",") != strings.Join(defaultCompareScenarios, ",") {
		t.Errorf("default scenarios %q", o.Scenarios)
	}

	bad := map[string][]string{
		"one url":      {"--url", a},
		"remote host":  {"--url", a, "--url", "amqp://guest:guest@10.0.0.1:5672/"},
		"pid count":    {"--url", a, "--url", b, "--pid", "1"},
		"scenario":     {"--url", a, "--url", b, "--scenario", "nope"},
		"rounds":       {"--url", a, "--url", b, "--rounds", "0"},
		"name count":   {"--url", a, "--url", b, "--name", "x"},
		"unknown flag": {"--url", a, "--url", b, "--bogus"},
	}
	for name, args := range bad {
		if _, err := parseCompareFlags(args, io.Discard); err == nil {
			t.Errorf("%s: %q parsed without error", name, args)
		}
	}
}
