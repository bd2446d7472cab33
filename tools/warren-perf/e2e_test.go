package main

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
)

// startWarren starts an in-process Warren on 127.0.0.1:0 for one test and
// returns its URL.
func startWarren(tb testing.TB) string {
	tb.Helper()
	return servertest.Start(tb, server.Config{})
}

// smallConfig is a 200-message run bounded at 30 s.
func smallConfig(url string) Config {
	c := defaultConfig()
	c.URL, c.Count, c.Time, c.Prefetch, c.MultipleAckEvery = url, 200, 30*time.Second, 100, 10
	return c
}

// assertCleanedUp checks that what a run declared is gone.
func assertCleanedUp(t *testing.T, url string, r *run) {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range r.queues {
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		_, err = ch.QueueDeclarePassive(q, false, false, false, false, nil)
		var ae *amqp.Error
		if !errors.As(err, &ae) || ae.Code != amqp.NotFound {
			t.Errorf("queue %q still there after the run (passive declare: %v)", q, err)
		}
	}
	if r.ownsExch {
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.ExchangeDeclarePassive(r.exchange, r.cfg.ExchangeType, false, false, false, false, nil); err == nil {
			t.Errorf("exchange %q still there after the run", r.exchange)
		}
	}
}

// TestSmoke runs a tiny load of each shape against an in-process Warren and
// checks the counts, the latency samples and the clean-up.
func TestSmoke(t *testing.T) {
	url := startWarren(t)
	tests := []struct {
		name    string
		set     func(c *Config)
		recv    int64
		confirm int64
	}{
		{"transient manual ack", func(c *Config) {}, 200, 0},
		{"autoack", func(c *Config) { c.AutoAck = true }, 200, 0},
		{"persistent confirms", func(c *Config) { c.Persistent, c.Durable, c.Confirm, c.Size = true, true, 16, 1024 }, 200, 200},
		{"fanout 3 queues", func(c *Config) {
			c.Exchange, c.ExchangeType, c.Queues, c.Consumers = "warren-perf-test-fanout", "fanout", 3, 3
		}, 600, 0},
		{"one consumer over 3 queues", func(c *Config) { c.Queues = 3 }, 200, 0},
		{"topic bindings", func(c *Config) {
			c.Exchange, c.ExchangeType, c.Bindings, c.Queues = "warren-perf-test-topic", "topic", 50, 2
		}, 200, 0},
		{"headers", func(c *Config) {
			c.Exchange, c.ExchangeType, c.Queues, c.Consumers = "warren-perf-test-headers", "headers", 2, 2
		}, 400, 0},
		{"server-named exclusive, 2 producers", func(c *Config) {
			c.QueuePrefix, c.Exclusive, c.Producers, c.Count = "", true, 2, 100
		}, 200, 0},
		{"rate limited", func(c *Config) { c.Rate, c.Count = 5000, 50 }, 50, 0},
		{"short body: no latency", func(c *Config) { c.Size = 4 }, 200, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := smallConfig(url)
			cfg.BrokerPID = os.Getpid() // the broker is this process
			tt.set(&cfg)
			if err := cfg.finish(); err != nil {
				t.Fatal(err)
			}
			r := newRun(cfg)
			res, err := r.execute(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if res.Incomplete != "" {
				t.Fatalf("incomplete: %s", res.Incomplete)
			}
			if want := int64(cfg.Count * cfg.Producers); res.Sent != want {
				t.Errorf("sent %d, want %d", res.Sent, want)
			}
			if res.Received != tt.recv || res.Expected != tt.recv {
				t.Errorf("received %d (expected %d), want %d", res.Received, res.Expected, tt.recv)
			}
			if res.Confirmed != tt.confirm || res.ConfirmLatency.Count != uint64(tt.confirm) {
				t.Errorf("confirmed %d (%d latencies), want %d", res.Confirmed, res.ConfirmLatency.Count, tt.confirm)
			}
			wantLat := uint64(tt.recv)
			if cfg.Size < 8 {
				wantLat = 0
			}
			if res.Latency.Count != wantLat || (wantLat > 0 && res.Latency.Max <= 0) {
				t.Errorf("latency %+v, want %d samples", res.Latency, wantLat)
			}
			if res.SendRate <= 0 || (tt.recv > 0 && res.RecvRate <= 0) || res.BrokerPeakRSS <= 0 {
				t.Errorf("rates or broker figures missing: %+v", res)
			}
			assertCleanedUp(t, url, r)
		})
	}
}

// TestSmokeTimed: a timed run stops by itself near its --time.
func TestSmokeTimed(t *testing.T) {
	cfg := smallConfig(startWarren(t))
	cfg.Count, cfg.Time, cfg.Rate = 0, 300*time.Millisecond, 2000
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Seconds < 0.3 || res.Seconds > 10 || res.Sent == 0 || res.Received == 0 || res.Received > res.Sent {
		t.Errorf("timed run: %+v", res)
	}
}

func TestSmokeSpecialModes(t *testing.T) {
	url := startWarren(t)
	t.Run("backlog", func(t *testing.T) {
		cfg := smallConfig(url)
		cfg.Mode, cfg.BrokerPID = ModeBacklog, os.Getpid()
		r := newRun(cfg)
		res, err := r.execute(context.Background())
		if err != nil || res.Incomplete != "" {
			t.Fatalf("%v %s", err, res.Incomplete)
		}
		if res.Sent != 200 || res.Received != 200 || res.FillRate <= 0 || res.DrainRate <= 0 || res.BrokerPeakRSS <= 0 {
			t.Errorf("backlog: %+v", res)
		}
		// The drain's own broker figures (the replay's, for a stream).
		if res.DrainStartRSS <= 0 || res.DrainPeakRSS < res.DrainStartRSS || res.DrainEndRSS <= 0 || res.DrainBrokerCPU < 0 ||
			res.DrainMsgPerBrokerCPU <= 0 {
			t.Errorf("backlog drain figures: %+v", res)
		}
		assertCleanedUp(t, url, r)
	})
	t.Run("many-queues", func(t *testing.T) {
		cfg := smallConfig(url)
		cfg.Mode, cfg.Queues, cfg.BrokerPID = ModeQueues, 20, os.Getpid()
		res, err := Run(context.Background(), cfg)
		if err != nil || res.Objects != 20 || res.QueuesPerSec <= 0 || res.DeletesPerSec <= 0 {
			t.Errorf("many-queues: %+v, %v", res, err)
		}
	})
	t.Run("idle-connections", func(t *testing.T) {
		cfg := smallConfig(url)
		cfg.Mode, cfg.Connections = ModeIdleConns, 5
		res, err := Run(context.Background(), cfg)
		if err != nil || res.Objects != 5 || res.ConnsPerSec <= 0 {
			t.Errorf("idle-connections: %+v, %v", res, err)
		}
	})
}

// TestSmokeCompare compares two in-process brokers for one round of a
// short latency-1k.
func TestSmokeCompare(t *testing.T) {
	a, b := startWarren(t), startWarren(t)
	o, err := parseCompareFlags([]string{"--url", a, "--url", b, "--name", "one", "--name", "two",
		"--rounds", "1", "--scenario", "latency-1k", "--time", "300ms", "--pause", "0"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	rows, results, err := compare(context.Background(), o, &log)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := findScenario("latency-1k")
	if len(rows) != len(s.Metrics) || len(results) != 2 {
		t.Fatalf("%d rows, %d results", len(rows), len(results))
	}
	if rows[0].Metric != "recv msg/s" || len(rows[0].A) != 1 || rows[0].A[0] <= 0 || rows[0].B[0] <= 0 {
		t.Errorf("first row %+v", rows[0])
	}
	table := formatTable(rows, "one", "two")
	if !strings.Contains(table, "| latency-1k | recv msg/s ↑ |") || !strings.Contains(log.String(), "latency-1k round 1/1") {
		t.Errorf("table:\n%s\nlog:\n%s", table, log.String())
	}
}

func TestRunAgainstNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := smallConfig("amqp://guest:guest@" + addr + "/")
	if _, err := Run(context.Background(), cfg); err == nil {
		t.Error("a run against a closed port did not fail")
	}
}

// A stream backlog read from spread offsets (--stream-spread): consumer i
// of 4 starts at offset i*200/4, so together they receive 200, 150, 100
// and 50: 500 deliveries, each from its own place in one stream.
func TestSmokeStreamSpread(t *testing.T) {
	url := servertest.Start(t, server.Config{StreamDir: t.TempDir()})
	cfg := smallConfig(url)
	streamOf(16, "first")(&cfg)
	cfg.Mode, cfg.Consumers, cfg.StreamSpread, cfg.BrokerPID = ModeBacklog, 4, true, os.Getpid()
	if got := cfg.spreadDeliveries(); got != 500 {
		t.Fatalf("spreadDeliveries %d, want 500", got)
	}
	r := newRun(cfg)
	res, err := r.execute(context.Background())
	if err != nil || res.Incomplete != "" {
		t.Fatalf("%v %s", err, res.Incomplete)
	}
	if res.Sent != 200 || res.Received != 500 || res.Expected != 500 || res.DrainRate <= 0 {
		t.Errorf("stream spread: sent %d, received %d, expected %d, drain %.0f/s", res.Sent, res.Received, res.Expected, res.DrainRate)
	}
}
