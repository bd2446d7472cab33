package main

import (
	"fmt"
	"strings"
	"time"
)

// scenario is a named preset of a Config and the metrics compare reports
// for it.
type scenario struct {
	Name    string
	Doc     string
	Set     func(c *Config)
	Metrics []string
}

var (
	flowMetrics = []string{"send msg/s", "recv msg/s", "latency p50 ms", "latency p99 ms",
		"broker CPU s", "msg per broker CPU-s", "broker peak RSS MiB", "broker RSS growth MiB", "client CPU cores"}
	confirmMetrics = []string{"send msg/s", "recv msg/s", "confirm p50 ms", "confirm p99 ms",
		"latency p50 ms", "latency p99 ms", "broker CPU s", "msg per broker CPU-s", "broker peak RSS MiB", "broker RSS growth MiB", "client CPU cores"}
	latencyMetrics = []string{"recv msg/s", "latency p50 ms", "latency p95 ms", "latency p99 ms", "latency max ms",
		"broker CPU s", "msg per broker CPU-s"}
	largeMetrics = []string{"send MiB/s", "recv MiB/s", "latency p50 ms", "latency p99 ms",
		"broker CPU s", "msg per broker CPU-s", "broker peak RSS MiB", "broker RSS growth MiB", "client CPU cores"}
)

var backlogMetrics = []string{"fill msg/s", "drain msg/s", "broker peak RSS MiB", "broker CPU s"}

// replayMetrics are a stream replay's: the drain is the replay, with the
// broker's CPU and RSS growth during it alone.
var replayMetrics = []string{"fill msg/s", "drain msg/s", "drain msg per broker CPU-s", "drain broker CPU s",
	"drain RSS growth MiB", "broker peak RSS MiB", "client CPU cores"}

// backlogOf presets a backlog run: fill n messages of size bytes, then
// drain them, within limit.
func backlogOf(n, size int, limit time.Duration) func(c *Config) {
	return func(c *Config) {
		c.Mode, c.Size, c.Count, c.Time = ModeBacklog, size, n, limit
		manualAck(c)
	}
}

// manualAck is the consumer set-up most scenarios share: prefetch 1000,
// one multiple ack every 100 messages.
func manualAck(c *Config) {
	c.AutoAck, c.Prefetch, c.MultipleAckEvery = false, 1000, 100
}

// scenarios are listed in the order compare runs them by default (the
// first seven) and --help shows them.
var scenarios = []scenario{
	{
		Name: "transient-1to1",
		Doc:  "1 producer -> 1 queue -> 1 consumer, 16 B transient, prefetch 1000, ack multiple every 100, 10 s",
		Set: func(c *Config) {
			c.Size = 16
			manualAck(c)
		},
		Metrics: flowMetrics,
	},
	{
		Name:    "transient-autoack",
		Doc:     "as transient-1to1 but the consumer uses auto-ack",
		Set:     func(c *Config) { c.Size, c.AutoAck = 16, true },
		Metrics: flowMetrics,
	},
	{
		Name: "persistent-confirms",
		Doc:  "1 KiB persistent messages to a durable queue, confirms with 1000 outstanding, manual ack",
		Set: func(c *Config) {
			c.Size, c.Persistent, c.Durable, c.Confirm = 1024, true, true, 1000
			manualAck(c)
		},
		Metrics: confirmMetrics,
	},
	{
		Name: "fanout-10",
		Doc:  "1 producer -> fanout exchange -> 10 queues -> 10 consumers, 16 B",
		Set: func(c *Config) {
			c.Exchange, c.ExchangeType, c.Queues, c.Consumers, c.Size = "warren-perf-fanout", "fanout", 10, 10, 16
			manualAck(c)
		},
		Metrics: flowMetrics,
	},
	{
		Name: "topic-10k",
		Doc:  "topic exchange with 10,000 bindings k.<i>.* to 1 queue; each message k.<i>.x matches one, 16 B",
		Set: func(c *Config) {
			c.Exchange, c.ExchangeType, c.Bindings, c.Size = "warren-perf-topic", "topic", 10000, 16
			manualAck(c)
		},
		Metrics: flowMetrics,
	},
	{
		Name: "latency-1k",
		Doc:  "1 producer at a fixed 1,000 msg/s, 16 B, each message acked: the latency at a light load",
		Set: func(c *Config) {
			c.Size, c.Rate = 16, 1000
			c.AutoAck, c.Prefetch, c.MultipleAckEvery = false, 1000, 1
		},
		Metrics: latencyMetrics,
	},
	{
		Name: "large-1mib",
		Doc:  "1 MiB messages, prefetch 10, ack multiple every 5: MiB/s",
		Set: func(c *Config) {
			c.Size = 1 << 20
			c.AutoAck, c.Prefetch, c.MultipleAckEvery = false, 10, 5
		},
		Metrics: largeMetrics,
	},
	{
		Name:    "backlog",
		Doc:     "fill 100,000 x 1 KiB messages with no consumer, then drain them: fill and drain rates, peak RSS",
		Set:     backlogOf(100000, 1024, 2*time.Minute),
		Metrics: backlogMetrics,
	},
	{
		Name:    "backlog-500k",
		Doc:     "as backlog with 500,000 x 100 B messages: the issue's memory reference",
		Set:     backlogOf(500000, 100, 5*time.Minute),
		Metrics: backlogMetrics,
	},
	{
		Name: "backlog-1mib",
		Doc:  "as backlog with 1,000 x 1 MiB persistent messages to a durable queue, confirms with 10 outstanding: a backlog of large messages past the memory budget",
		Set: func(c *Config) {
			backlogOf(1000, 1<<20, 5*time.Minute)(c)
			c.Persistent, c.Durable, c.Confirm, c.Prefetch, c.MultipleAckEvery = true, true, 10, 10, 5
		},
		Metrics: backlogMetrics,
	},
	{
		Name: "backlog-1gib",
		Doc:  "as backlog with 1,000,000 x 1 KiB persistent messages to a durable queue, confirms with 1000 outstanding: a 1 GiB backlog, for disk reclaim",
		Set: func(c *Config) {
			backlogOf(1000000, 1024, 10*time.Minute)(c)
			c.Persistent, c.Durable, c.Confirm = true, true, 1000
		},
		Metrics: backlogMetrics,
	},
	{
		Name: "many-queues",
		Doc:  "declare 1,000 queues, each bound to a direct exchange, then delete them: queues/s, broker RSS per queue",
		Set: func(c *Config) {
			c.Mode, c.Queues, c.Time = ModeQueues, 1000, 2*time.Minute
		},
		Metrics: []string{"queues/s", "queue deletes/s", "broker RSS per queue KiB"},
	},
	{
		Name: "idle-connections",
		Doc:  "open 500 connections with one channel each and leave them idle: connections/s, broker RSS per connection",
		Set: func(c *Config) {
			c.Mode, c.Connections, c.Time = ModeIdleConns, 500, 2*time.Minute
		},
		Metrics: []string{"connections/s", "broker RSS per connection KiB"},
	},
	{
		Name:    "stream-publish",
		Doc:     "confirmed publish of 16 B messages into a stream (confirms with 1000 outstanding), one consumer from next",
		Set:     streamOf(16, "next"),
		Metrics: confirmMetrics,
	},
	{
		Name:    "stream-publish-1k",
		Doc:     "as stream-publish with 1 KiB messages",
		Set:     streamOf(1024, "next"),
		Metrics: confirmMetrics,
	},
	{
		Name: "stream-replay",
		Doc:  "fill a stream with 1,000,000 x 100 B confirmed messages, then one consumer replays it from first",
		Set: func(c *Config) {
			backlogOf(1000000, 100, 10*time.Minute)(c)
			streamOf(100, "first")(c)
		},
		Metrics: replayMetrics,
	},
	{
		Name: "stream-fanout-offsets",
		Doc: "fill a stream with 500,000 x 16 B confirmed messages, then 10 consumers read it from 10 " +
			"different offsets (0, 50,000, ... 450,000) to its end: 2,750,000 deliveries in all",
		Set: func(c *Config) {
			backlogOf(500000, 16, 10*time.Minute)(c)
			streamOf(16, "first")(c)
			c.Consumers, c.StreamSpread = 10, true
		},
		Metrics: replayMetrics,
	},
	{
		Name: "stream-replay-10m",
		Doc: "issue 17's long replay: fill a stream with 10,000,000 x 100 B messages (confirms with 10,000 " +
			"outstanding, so the fill is not bound by one fsync per 1000), then one consumer replays it from " +
			"first; the broker's RSS during the replay shows whether the log is read from disk",
		Set: func(c *Config) {
			backlogOf(10000000, 100, 40*time.Minute)(c)
			streamOf(100, "first")(c)
			c.Confirm = 10000
		},
		Metrics: replayMetrics,
	},
	{
		Name: "stream-fanout",
		Doc:  "1 producer -> 1 stream -> 10 consumers each reading every message from first, 16 B",
		Set: func(c *Config) {
			streamOf(16, "first")(c)
			c.Consumers = 10
		},
		Metrics: flowMetrics,
	},
	{
		Name: "quorum-confirms",
		Doc: "1 KiB persistent messages to a quorum queue, confirms with 1000 outstanding, manual ack, 1 producer and " +
			"1 consumer on the --url node: run against a 3-node cluster (issue 20's goal, side by side with RabbitMQ's)",
		Set: func(c *Config) {
			c.Size, c.Persistent, c.Durable, c.Confirm, c.QueueType = 1024, true, true, 1000, "quorum"
			manualAck(c)
		},
		Metrics: confirmMetrics,
	},
}

// streamOf presets a stream run: a durable stream queue, confirms with
// 1000 outstanding, consumers from offset.
func streamOf(size int, offset string) func(c *Config) {
	return func(c *Config) {
		c.Size, c.Durable, c.Confirm, c.QueueType, c.StreamOffset = size, true, 1000, "stream", offset
		manualAck(c)
	}
}

// defaultCompareScenarios are what compare runs when none is named.
var defaultCompareScenarios = []string{"transient-1to1", "transient-autoack", "persistent-confirms",
	"fanout-10", "topic-10k", "latency-1k", "large-1mib"}

func findScenario(name string) (scenario, error) {
	for _, s := range scenarios {
		if s.Name == name {
			return s, nil
		}
	}
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.Name
	}
	return scenario{}, fmt.Errorf("unknown scenario %q (have %s)", name, strings.Join(names, ", "))
}

// applyScenario sets the preset named name on c.
func applyScenario(c *Config, name string) error {
	s, err := findScenario(name)
	if err != nil {
		return err
	}
	s.Set(c)
	c.Scenario = s.Name
	return nil
}
