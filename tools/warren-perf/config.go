package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"
)

// Mode says what a run does. The plain mode is producers and consumers
// running at the same time; the others are the special scenarios.
type Mode string

const (
	ModeFlow      Mode = ""                 // producers and consumers at once
	ModeBacklog   Mode = "backlog"          // fill with no consumer, then drain
	ModeQueues    Mode = "many-queues"      // declare and bind many queues
	ModeIdleConns Mode = "idle-connections" // open many idle connections
)

// Config is one run of the load generator. Every field is a flag (see
// doc.go); a scenario is a preset of these fields.
type Config struct {
	URL      string
	Scenario string // the preset applied, for the report
	Mode     Mode

	Producers int
	Consumers int

	Queues      int    // how many queues
	QueuePrefix string // queue names: <prefix>-<run id>-<i>; "" for server-named
	Durable     bool   // durable queues and exchange
	AutoDelete  bool
	Exclusive   bool // exclusive queues; the consumers then share the declaring connection
	// QueueType is the queues' x-queue-type ("" for none); with "stream"
	// every consumer of a queue gets every message.
	QueueType    string
	StreamOffset string // consumers' x-stream-offset ("" for none)
	// StreamSpread: in a backlog, consumer i of n starts at offset
	// i*total/n of the filled stream instead of StreamOffset, so the
	// readers read the same stream from different places.
	StreamSpread bool
	// RawConsumer: consumers use the raw client (rawconsumer.go), not
	// amqp091-go, each on a connection of its own.
	RawConsumer bool

	Exchange     string // "" publishes to the default exchange, routing key = queue name
	ExchangeType string // direct, fanout, topic, headers
	RoutingKey   string
	BindingKey   string // "" means the routing key
	Bindings     int    // topic: bind k.<i>.* for i < Bindings across the queues, publish k.<i>.x

	Size       int  // body bytes; the first 8 hold the send time
	Persistent bool // delivery mode 2
	Confirm    int  // publisher confirms: the outstanding window; 0 = off

	AutoAck          bool
	Prefetch         int // basic.qos prefetch count per consumer; 0 = unlimited
	MultipleAckEvery int // manual ack: ack with multiple=true every N messages; 1 acks each

	Rate  float64       // msg/s per producer; 0 = as fast as possible
	Time  time.Duration // how long producers publish (an upper bound when Count is set)
	Count int           // messages per producer; 0 = until Time

	Connections int // idle-connections: how many

	BrokerPID int  // sample /proc/PID every 100 ms
	Coalesce  bool // coalesce socket writes (see coalescingConn)
	JSON      bool
	Quiet     bool      // no progress lines
	Progress  io.Writer // where progress lines go (nil: none)
}

// defaultConfig is the configuration before any scenario or flag.
func defaultConfig() Config {
	return Config{
		URL:              "amqp://guest:guest@127.0.0.1:5672/",
		Producers:        1,
		Consumers:        1,
		Queues:           1,
		QueuePrefix:      "warren-perf",
		ExchangeType:     "direct",
		RoutingKey:       "warren-perf",
		Size:             16,
		Prefetch:         1000,
		MultipleAckEvery: 100,
		Connections:      500,
		Coalesce:         true,
	}
}

// countCap bounds a run given by --count only.
const countCap = 10 * time.Minute

// bindFlags registers every run flag on fs, bound to c; the current values
// of c are the defaults, so flags given on the command line override a
// scenario preset applied to c before.
func bindFlags(fs *pflag.FlagSet, c *Config) {
	fs.StringVar(&c.URL, "url", c.URL, "broker URL (loopback hosts only)")
	fs.StringVar(&c.Scenario, "scenario", c.Scenario, "named scenario presetting the flags below (see --help)")
	fs.IntVarP(&c.Producers, "producers", "x", c.Producers, "producer connections")
	fs.IntVarP(&c.Consumers, "consumers", "y", c.Consumers, "consumer connections")
	fs.IntVar(&c.Queues, "queues", c.Queues, "queues to declare")
	fs.StringVar(&c.QueuePrefix, "queue-prefix", c.QueuePrefix, "queue name prefix; empty for server-named queues")
	fs.BoolVar(&c.Durable, "queue-durable", c.Durable, "declare durable queues (and exchange)")
	fs.BoolVar(&c.AutoDelete, "auto-delete", c.AutoDelete, "declare auto-delete queues")
	fs.BoolVar(&c.Exclusive, "exclusive", c.Exclusive, "declare exclusive queues (consumers share the declaring connection)")
	fs.StringVar(&c.QueueType, "queue-type", c.QueueType, "x-queue-type of the queues (classic, quorum, stream); empty for none")
	fs.StringVar(&c.StreamOffset, "stream-offset", c.StreamOffset, "consumers' x-stream-offset (first, last, next, N); empty for none")
	fs.BoolVar(&c.StreamSpread, "stream-spread", c.StreamSpread, "backlog on a stream: consumer i of n starts at offset i*count/n (readers at different offsets)")
	fs.BoolVar(&c.RawConsumer, "raw-consumer", c.RawConsumer, "consume with a minimal frame-level client (Warren's codec) instead of amqp091-go, so the client does not bound the run")
	fs.StringVarP(&c.Exchange, "exchange", "e", c.Exchange, "exchange to publish to; empty for the default exchange")
	fs.StringVarP(&c.ExchangeType, "exchange-type", "t", c.ExchangeType, "direct, fanout, topic or headers")
	fs.StringVarP(&c.RoutingKey, "routing-key", "k", c.RoutingKey, "routing key to publish with")
	fs.StringVar(&c.BindingKey, "binding-key", c.BindingKey, "binding key (pattern for topic); empty means the routing key")
	fs.IntVar(&c.Bindings, "bindings", c.Bindings, "topic: bind k.<i>.* for i < N across the queues and publish keys hitting them")
	fs.IntVarP(&c.Size, "size", "s", c.Size, "message body bytes (8 or more to measure latency)")
	fs.BoolVar(&c.Persistent, "persistent", c.Persistent, "publish persistent messages (delivery mode 2)")
	fs.IntVarP(&c.Confirm, "confirm", "c", c.Confirm, "publisher confirms with this many outstanding; 0 = off")
	fs.BoolVarP(&c.AutoAck, "autoack", "a", c.AutoAck, "consume with auto-ack")
	fs.IntVarP(&c.Prefetch, "prefetch", "q", c.Prefetch, "consumer prefetch count; 0 = unlimited")
	fs.IntVar(&c.MultipleAckEvery, "multiple-ack-every", c.MultipleAckEvery, "manual ack: ack multiple every N messages (1 = each)")
	fs.Float64VarP(&c.Rate, "rate", "r", c.Rate, "msg/s per producer; 0 = flat out")
	fs.DurationVarP(&c.Time, "time", "z", c.Time, "run duration (default 10s; with --count, an upper bound)")
	fs.IntVarP(&c.Count, "count", "C", c.Count, "messages per producer (backlog: messages to fill)")
	fs.IntVar(&c.Connections, "connections", c.Connections, "idle-connections: connections to open")
	fs.IntVar(&c.BrokerPID, "broker-pid", c.BrokerPID, "broker PID: sample its CPU and RSS from /proc every 100 ms")
	fs.BoolVar(&c.Coalesce, "coalesce-writes", c.Coalesce, "coalesce the client's socket writes")
	fs.BoolVar(&c.JSON, "json", c.JSON, "print the final result as JSON")
	fs.BoolVar(&c.Quiet, "quiet", c.Quiet, "no progress lines")
}

// parseRunFlags parses the flags of a run: defaults, then the scenario
// preset, then the flags given explicitly.
func parseRunFlags(args []string, errOut io.Writer) (Config, error) {
	// First pass: only to learn --scenario.
	probe := defaultConfig()
	pfs := pflag.NewFlagSet("warren-perf", pflag.ContinueOnError)
	pfs.SetOutput(io.Discard)
	pfs.Usage = func() {}
	bindFlags(pfs, &probe)
	if err := pfs.Parse(args); err != nil && !errors.Is(err, pflag.ErrHelp) {
		return Config{}, err
	}
	cfg := defaultConfig()
	if probe.Scenario != "" {
		if err := applyScenario(&cfg, probe.Scenario); err != nil {
			return Config{}, err
		}
	}
	fs := pflag.NewFlagSet("warren-perf", pflag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprintf(errOut, "Usage: warren-perf [flags]\n       warren-perf compare --url A --url B [flags]\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(errOut, "\nScenarios:\n")
		for _, s := range scenarios {
			fmt.Fprintf(errOut, "  %-20s %s\n", s.Name, s.Doc)
		}
	}
	bindFlags(fs, &cfg)
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return cfg, cfg.finish()
}

// finish fills derived defaults and validates c.
func (c *Config) finish() error {
	if c.Time == 0 && c.Count == 0 {
		c.Time = 10 * time.Second
	}
	if c.BindingKey == "" {
		c.BindingKey = c.RoutingKey
	}
	var errs []error
	if err := checkLoopback(c.URL); err != nil {
		errs = append(errs, err)
	}
	check := func(bad bool, format string, args ...any) {
		if bad {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.Producers < 0 || c.Consumers < 0, "--producers and --consumers must not be negative")
	check(c.Mode == ModeFlow && c.Producers == 0 && c.Consumers == 0, "nothing to do: no producers and no consumers")
	check(c.Queues < 1 && c.Mode != ModeIdleConns, "--queues must be at least 1")
	check(c.Queues > 100000, "--queues must be at most 100000")
	check(c.Size < 0 || c.Size > 64<<20, "--size must be between 0 and 64 MiB")
	check(c.Confirm < 0, "--confirm must not be negative")
	check(c.RawConsumer && c.Exclusive, "--raw-consumer cannot consume exclusive queues (they live on the setup connection)")
	check(c.Prefetch < 0 || c.Prefetch > 65535, "--prefetch must be between 0 and 65535")
	check(c.MultipleAckEvery < 1, "--multiple-ack-every must be at least 1")
	check(!c.AutoAck && c.Prefetch > 0 && c.MultipleAckEvery > c.Prefetch,
		"--multiple-ack-every %d is more than --prefetch %d: the consumer would wait forever", c.MultipleAckEvery, c.Prefetch)
	check(c.Rate < 0, "--rate must not be negative")
	check(c.Time < 0 || c.Count < 0, "--time and --count must not be negative")
	check(c.Bindings < 0 || c.Bindings > 1000000, "--bindings must be between 0 and 1000000")
	check(c.Bindings > 0 && c.ExchangeType != "topic", "--bindings needs --exchange-type topic")
	check(c.Bindings > 0 && c.Exchange == "", "--bindings needs --exchange")
	check(c.Connections < 1 || c.Connections > 10000, "--connections must be between 1 and 10000")
	check(c.Mode == ModeBacklog && c.Count == 0, "backlog needs --count")
	switch c.ExchangeType {
	case "direct", "fanout", "topic", "headers":
	default:
		errs = append(errs, fmt.Errorf("--exchange-type %q: want direct, fanout, topic or headers", c.ExchangeType))
	}
	switch c.Mode {
	case ModeFlow, ModeBacklog, ModeQueues, ModeIdleConns:
	default:
		errs = append(errs, fmt.Errorf("unknown mode %q", c.Mode))
	}
	return errors.Join(errs...)
}

// timeCap is how long producers may run at most.
func (c *Config) timeCap() time.Duration {
	if c.Time > 0 {
		return c.Time
	}
	return countCap
}
