package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// config is what the flags, the WARREN_* environment and the JSON file
// resolve to. Each scalar field is bound to the flag of the same name.
type config struct {
	fs *pflag.FlagSet

	listen          string
	dataDir         string
	configPath      string
	logLevel        string
	logFormat       string
	heartbeat       uint16
	frameMax        uint32
	channelMax      uint16
	maxMessageSize  int
	pprof           string
	memoryBudget    int64
	consumerTimeout time.Duration

	// From the file only.
	vhosts        []string
	users         []userConfig
	loopbackUsers []string
}

// fileConfig is the JSON configuration file. Flags and WARREN_* environment
// variables override it.
type fileConfig struct {
	Listen         string       `json:"listen"`
	DataDir        string       `json:"data_dir"`
	LogLevel       string       `json:"log_level"`
	LogFormat      string       `json:"log_format"`
	Vhosts         []string     `json:"vhosts"`
	Users          []userConfig `json:"users"`
	LoopbackUsers  []string     `json:"loopback_users"`
	ChannelMax     uint16       `json:"channel_max"`
	FrameMax       uint32       `json:"frame_max"`
	Heartbeat      *uint16      `json:"heartbeat"`
	MaxMessageSize int          `json:"max_message_size"`
}

type userConfig struct {
	Name string `json:"name"`
	// Password is hashed at start-up; PasswordHash is RabbitMQ's
	// rabbit_password_hashing_sha256 format (base64 of salt + SHA-256).
	Password     string   `json:"password,omitempty"`
	PasswordHash string   `json:"password_hash,omitempty"`
	Vhosts       []string `json:"vhosts,omitempty"`
}

// newFlagSet defines every flag, bound to c.
func newFlagSet(c *config) *pflag.FlagSet {
	fs := pflag.NewFlagSet("warren", pflag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: warren [flags]\n\nWarren is an AMQP 0-9-1 message broker.\n"+
			"Every flag can also be set as WARREN_<FLAG> in the environment (e.g. WARREN_LISTEN),\n"+
			"or in the JSON file given by --config; flags win over the environment, which wins over the file.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.listen, "listen", ":5672", "address to accept AMQP connections on")
	fs.StringVar(&c.dataDir, "data-dir", "./data", "directory for durable state")
	fs.StringVar(&c.configPath, "config", "", "JSON configuration file (users, vhosts, limits)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.logFormat, "log-format", "console", "log format: console or json")
	fs.Uint16Var(&c.heartbeat, "heartbeat", 60, "heartbeat interval in seconds offered to clients (0 disables)")
	fs.Uint32Var(&c.frameMax, "frame-max", 131072, "largest frame in bytes offered to clients")
	fs.Uint16Var(&c.channelMax, "channel-max", 2047, "most channels per connection")
	fs.IntVar(&c.maxMessageSize, "max-message-size", 16<<20, "largest message body in bytes")
	fs.StringVar(&c.pprof, "pprof", "", "serve Go's pprof profiles on this address (e.g. 127.0.0.1:6060); off when empty")
	fs.Int64Var(&c.memoryBudget, "memory-budget", 128<<20, "bytes of ready messages kept in memory (bodies plus 128 bytes each); beyond it bodies live on disk only")
	fs.DurationVar(&c.consumerTimeout, "consumer-timeout", 30*time.Minute, "how long a delivery may stay unacknowledged before its channel is closed; 0 disables (a queue's x-consumer-timeout overrides it)")
	return fs
}

// loadConfig parses args, then fills what they leave unset from the
// environment (looked up with lookupEnv) and the file given by --config.
// It returns pflag.ErrHelp after printing the usage for --help.
func loadConfig(args []string, lookupEnv func(string) (string, bool)) (*config, error) {
	c := &config{}
	fs := newFlagSet(c)
	c.fs = fs
	if err := fs.Parse(args); err != nil {
		return nil, err
	}

	var fc fileConfig
	if c.configPath != "" {
		raw, err := os.ReadFile(c.configPath)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := json.Unmarshal(raw, &fc); err != nil {
			return nil, fmt.Errorf("config %s: %w", c.configPath, err)
		}
	}
	// Precedence: an explicit flag, then WARREN_*, then the file, then the default.
	str := func(name string, flagVal *string, fileVal string) {
		if fs.Changed(name) {
			return
		}
		if ev, ok := lookupEnv(envName(name)); ok {
			*flagVal = ev
		} else if fileVal != "" {
			*flagVal = fileVal
		}
	}
	str("listen", &c.listen, fc.Listen)
	str("data-dir", &c.dataDir, fc.DataDir)
	str("log-level", &c.logLevel, fc.LogLevel)
	str("log-format", &c.logFormat, fc.LogFormat)
	for _, name := range []string{"heartbeat", "frame-max", "channel-max", "max-message-size", "memory-budget", "consumer-timeout"} {
		if ev, ok := lookupEnv(envName(name)); ok && !fs.Changed(name) {
			if err := fs.Set(name, ev); err != nil {
				return nil, fmt.Errorf("%s: %w", envName(name), err)
			}
		}
	}
	if !fs.Changed("channel-max") && fc.ChannelMax != 0 {
		c.channelMax = fc.ChannelMax
	}
	if !fs.Changed("frame-max") && fc.FrameMax != 0 {
		c.frameMax = fc.FrameMax
	}
	if !fs.Changed("heartbeat") && fc.Heartbeat != nil {
		c.heartbeat = *fc.Heartbeat
	}
	if !fs.Changed("max-message-size") && fc.MaxMessageSize != 0 {
		c.maxMessageSize = fc.MaxMessageSize
	}
	c.vhosts, c.users, c.loopbackUsers = fc.Vhosts, fc.Users, fc.LoopbackUsers
	return c, nil
}

// envName is the environment variable of a flag: WARREN_DATA_DIR for
// --data-dir.
func envName(flag string) string {
	return "WARREN_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}
