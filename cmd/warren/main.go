// Command warren runs the Warren AMQP 0-9-1 broker.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/cmd/warren/demo"
	"github.com/warrenmq/warren/storage"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "ctl" {
		os.Exit(ctlMain(os.Args[2:], os.LookupEnv, os.Stdin, os.Stdout, os.Stderr)) // ctl.go
	}
	if len(os.Args) > 1 && os.Args[1] == "demo" {
		os.Exit(demo.Main(os.Args[2:], os.Stdout, os.Stderr)) // cmd/warren/demo
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "warren:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	c, err := loadConfig(args, os.LookupEnv)
	if err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return err
	}
	if c.version {
		fmt.Println(versionLine())
		return nil
	}

	log, err := newLogger(c.logLevel, c.logFormat)
	if err != nil {
		return err
	}
	defer log.Sync()

	cfg := server.Config{
		Logger:          log,
		Vhosts:          c.vhosts,
		LoopbackUsers:   c.loopbackUsers,
		ChannelMax:      c.channelMax,
		FrameMax:        c.frameMax,
		Heartbeat:       c.heartbeat,
		MaxMessageSize:  c.maxMessageSize,
		MemoryBudget:    c.memoryBudget,
		ConsumerTimeout: c.consumerTimeout,
		MaxConnections:  c.maxConnections,
		HandshakeRate:   c.handshakeRate,
		HandshakeBurst:  c.handshakeBurst,
	}
	sizeForWatermark(c, &cfg) // alarms.go
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = server.NoHeartbeat
	}
	if cfg.ConsumerTimeout == 0 {
		cfg.ConsumerTimeout = -1 // rabbitmq: consumer_timeout disabled
	}
	users := c.users
	if len(users) == 0 {
		// rabbitmq: the default user guest/guest, allowed from loopback only.
		users = []userConfig{{Name: "guest", Password: "guest", Tags: []string{"administrator"}}}
	}
	for _, u := range users {
		hash := u.PasswordHash
		if hash == "" {
			hash = server.HashPassword(u.Password)
		}
		cfg.Users = append(cfg.Users, server.User{Name: u.Name, PasswordHash: hash, Vhosts: u.Vhosts, Tags: u.Tags})
	}
	if err := os.MkdirAll(c.dataDir, 0o755); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	store, err := storage.Open(c.storeOptions(log))
	if err != nil {
		return fmt.Errorf("data directory %s: %w", c.dataDir, err)
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("closing the store", zap.Error(err))
		}
	}()
	cfg.Store = store
	cfg.StreamDir = filepath.Join(c.dataDir, "streams") // stream queues' logs

	tlsLoader, err := c.tlsLoader() // tls.go
	if err != nil {
		return err
	}
	if cfg.ExternalIdentity, err = c.externalIdentity(); err != nil {
		return err
	}
	mon, stopGCTuner := newMonitor(c, store, log) // alarms.go
	defer stopGCTuner()
	mon.Start()
	defer mon.Stop()
	cfg.Alarms = mon

	node, err := newClusterNode(c, log) // cluster.go; nil: a single node
	if err != nil {
		return err
	}
	if node != nil {
		cfg.Replicator = node
		defer node.Stop() // before the store closes
	}
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	if node != nil {
		if err := node.Start(srv.Broker()); err != nil {
			return err
		}
	}
	if c.loadDefinitions != "" {
		if err := loadDefinitions(srv, c.loadDefinitions, log); err != nil {
			return err
		}
	}
	if c.pprof != "" {
		pl, err := net.Listen("tcp", c.pprof)
		if err != nil {
			return fmt.Errorf("--pprof: %w", err)
		}
		runtime.SetMutexProfileFraction(100)
		runtime.SetBlockProfileRate(100000)
		go http.Serve(pl, nil) // net/http/pprof registers on the default mux
		log.Info("pprof listening", zap.String("addr", pl.Addr().String()))
	}
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return listenError(c.listen, err)
	}
	tln, err := listenTLS(c, tlsLoader)
	if err != nil {
		ln.Close()
		return err
	}
	streams, err := startStream(c, srv, tlsLoader, log) // stream.go; nil when off
	if err != nil {
		ln.Close()
		if tln != nil {
			tln.Close()
		}
		return err
	}
	stopMetrics, err := serveMetrics(c, srv, store, tlsLoader, streams.counts(), log)
	if err != nil {
		streams.stop(context.Background())
		ln.Close()
		if tln != nil {
			tln.Close()
		}
		return err
	}
	defer stopMetrics()
	stopManagement := func(context.Context) {}
	if !managementOff(c.managementListen) {
		if stopManagement, err = startManagement(c.managementListen, mgmtTLSConfig(c, tlsLoader), srv, streams, ln.Addr(), c.nodeNameOrDefault(), managementCluster(node), log); err != nil {
			streams.stop(context.Background())
			ln.Close()
			return err
		}
	}
	defer reloadOnHUP(tlsLoader, log)()
	// Signals are caught before the address is announced: whoever reads
	// the line may stop the broker at once, and must get a clean shutdown.
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
	// The first line on stdout, apart from the log on stderr: the address
	// that answers, so a first run cannot be talking to another broker.
	fmt.Printf("Warren %s listening on %s (AMQP 0-9-1)\n", server.Version, ln.Addr())
	log.Info("Warren listening", zap.String("addr", ln.Addr().String()), zap.String("version", server.Version), zap.String("data_dir", c.dataDir))

	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if tln != nil {
		fmt.Printf("Warren %s listening on %s (AMQP 0-9-1 over TLS)\n", server.Version, tln.Addr())
		log.Info("Warren listening for TLS", zap.String("addr", tln.Addr().String()), zap.String("client_auth", c.tlsClientAuth))
		go func() { errc <- srv.Serve(tln) }()
	}
	select {
	case sig := <-sigc:
		log.Info("shutting down", zap.Stringer("signal", sig))
	case err := <-errc:
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stopManagement(ctx)
	streams.stop(ctx)
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("shutdown did not finish cleanly", zap.Error(err))
	}
	log.Info("stopped")
	return nil
}

// listenError says which address could not be had, and how to choose
// another.
func listenError(addr string, err error) error {
	const hint = "\n  choose another address: make run LISTEN=127.0.0.1:5673 (or warren --listen 127.0.0.1:5673)"
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("cannot listen on %s: the address is in use, by another broker perhaps (a RabbitMQ?)%s", addr, hint)
	}
	return fmt.Errorf("cannot listen on %s: %w%s", addr, err, hint)
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
