// Command warren runs the Warren AMQP 0-9-1 broker.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/storage"
)

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

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "warren:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := pflag.NewFlagSet("warren", pflag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: warren [flags]\n\nWarren is an AMQP 0-9-1 message broker.\n"+
			"Every flag can also be set as WARREN_<FLAG> in the environment (e.g. WARREN_LISTEN),\n"+
			"or in the JSON file given by --config; flags win over the environment, which wins over the file.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	listen := fs.String("listen", ":5672", "address to accept AMQP connections on")
	dataDir := fs.String("data-dir", "./data", "directory for durable state")
	configPath := fs.String("config", "", "JSON configuration file (users, vhosts, limits)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	logFormat := fs.String("log-format", "console", "log format: console or json")
	heartbeat := fs.Uint16("heartbeat", 60, "heartbeat interval in seconds offered to clients (0 disables)")
	frameMax := fs.Uint32("frame-max", 131072, "largest frame in bytes offered to clients")
	channelMax := fs.Uint16("channel-max", 2047, "most channels per connection")
	maxMessage := fs.Int("max-message-size", 16<<20, "largest message body in bytes")
	pprofAddr := fs.String("pprof", "", "serve Go's pprof profiles on this address (e.g. 127.0.0.1:6060); off when empty")
	memBudget := fs.Int64("memory-budget", 128<<20, "bytes of ready messages kept in memory (bodies plus 128 bytes each); beyond it bodies live on disk only")
	consumerTimeout := fs.Duration("consumer-timeout", 30*time.Minute, "how long a delivery may stay unacknowledged before its channel is closed; 0 disables (a queue's x-consumer-timeout overrides it)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return err
	}

	var fc fileConfig
	if *configPath != "" {
		raw, err := os.ReadFile(*configPath)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		if err := json.Unmarshal(raw, &fc); err != nil {
			return fmt.Errorf("config %s: %w", *configPath, err)
		}
	}
	// Precedence: an explicit flag, then WARREN_*, then the file, then the default.
	str := func(name string, flagVal *string, fileVal string) {
		if fs.Changed(name) {
			return
		}
		if ev, ok := os.LookupEnv("WARREN_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))); ok {
			*flagVal = ev
		} else if fileVal != "" {
			*flagVal = fileVal
		}
	}
	str("listen", listen, fc.Listen)
	str("data-dir", dataDir, fc.DataDir)
	str("log-level", logLevel, fc.LogLevel)
	str("log-format", logFormat, fc.LogFormat)
	for _, name := range []string{"heartbeat", "frame-max", "channel-max", "max-message-size", "memory-budget", "consumer-timeout"} {
		if ev, ok := os.LookupEnv("WARREN_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))); ok && !fs.Changed(name) {
			if err := fs.Set(name, ev); err != nil {
				return fmt.Errorf("WARREN_%s: %w", strings.ToUpper(strings.ReplaceAll(name, "-", "_")), err)
			}
		}
	}

	log, err := newLogger(*logLevel, *logFormat)
	if err != nil {
		return err
	}
	defer log.Sync()

	cfg := server.Config{
		Logger:          log,
		Vhosts:          fc.Vhosts,
		LoopbackUsers:   fc.LoopbackUsers,
		ChannelMax:      *channelMax,
		FrameMax:        *frameMax,
		Heartbeat:       *heartbeat,
		MaxMessageSize:  *maxMessage,
		MemoryBudget:    *memBudget,
		ConsumerTimeout: *consumerTimeout,
	}
	if !fs.Changed("channel-max") && fc.ChannelMax != 0 {
		cfg.ChannelMax = fc.ChannelMax
	}
	if !fs.Changed("frame-max") && fc.FrameMax != 0 {
		cfg.FrameMax = fc.FrameMax
	}
	if !fs.Changed("heartbeat") && fc.Heartbeat != nil {
		cfg.Heartbeat = *fc.Heartbeat
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = server.NoHeartbeat
	}
	if cfg.ConsumerTimeout == 0 {
		cfg.ConsumerTimeout = -1 // rabbitmq: consumer_timeout disabled
	}
	if !fs.Changed("max-message-size") && fc.MaxMessageSize != 0 {
		cfg.MaxMessageSize = fc.MaxMessageSize
	}
	if len(fc.Users) == 0 {
		// rabbitmq: the default user guest/guest, allowed from loopback only.
		fc.Users = []userConfig{{Name: "guest", Password: "guest"}}
	}
	for _, u := range fc.Users {
		hash := u.PasswordHash
		if hash == "" {
			hash = server.HashPassword(u.Password)
		}
		cfg.Users = append(cfg.Users, server.User{Name: u.Name, PasswordHash: hash, Vhosts: u.Vhosts})
	}
	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	store, err := storage.Open(storage.Options{Dir: *dataDir, Logger: log})
	if err != nil {
		return fmt.Errorf("data directory %s: %w", *dataDir, err)
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("closing the store", zap.Error(err))
		}
	}()
	cfg.Store = store

	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	if *pprofAddr != "" {
		pl, err := net.Listen("tcp", *pprofAddr)
		if err != nil {
			return fmt.Errorf("--pprof: %w", err)
		}
		runtime.SetMutexProfileFraction(100)
		runtime.SetBlockProfileRate(100000)
		go http.Serve(pl, nil) // net/http/pprof registers on the default mux
		log.Info("pprof listening", zap.String("addr", pl.Addr().String()))
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	log.Info("Warren listening", zap.String("addr", ln.Addr().String()), zap.String("version", server.Version), zap.String("data_dir", *dataDir))

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
	select {
	case sig := <-sigc:
		log.Info("shutting down", zap.Stringer("signal", sig))
	case err := <-errc:
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("shutdown did not finish cleanly", zap.Error(err))
	}
	log.Info("stopped")
	return nil
}

func newLogger(level, format string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	var zc zap.Config
	switch format {
	case "json":
		zc = zap.NewProductionConfig()
	case "console":
		zc = zap.NewDevelopmentConfig()
		zc.DisableStacktrace = true
	default:
		return nil, fmt.Errorf("--log-format: want console or json, got %q", format)
	}
	zc.Level = zap.NewAtomicLevelAt(lvl)
	return zc.Build()
}
