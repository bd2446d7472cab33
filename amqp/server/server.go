package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/alarm"
	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/storage"
	"github.com/warrenmq/warren/tlsconf"
)

// Version is Warren's version, advertised in connection.start.
const Version = "0.1.0"

// Config configures a Server. The zero value of every field but Users and
// Vhosts has a sensible default (see the field comments).
type Config struct {
	Logger *zap.Logger // nil: no logging

	Users  []User   // who may log in at first boot (User)
	Vhosts []string // virtual hosts; empty means just "/"
	// LoopbackUsers may log in only from a loopback address (RabbitMQ's
	// loopback_users; nil means []string{"guest"}).
	LoopbackUsers []string

	ChannelMax       uint16        // 0: 2047
	FrameMax         uint32        // 0: 131072
	Heartbeat        uint16        // seconds; 0: 60. Use NoHeartbeat to disable.
	HandshakeTimeout time.Duration // 0: 10s
	MaxMessageSize   int           // bytes; 0: 16 MiB
	// MaxOutboundBytes caps the frames waiting to be written to one
	// connection before its consumers stop receiving deliveries; 0: 4 MiB.
	MaxOutboundBytes int
	// Bodies lends the buffers of bodies from 64 KiB (queue.BodyPool);
	// nil: a pool of the server's own. Tests pass a poisoning one.
	Bodies *queue.BodyPool

	// Store keeps durable definitions and persistent messages; nil keeps
	// everything in memory. The server recovers from it in New and does
	// not close it.
	Store *storage.Store
	// Replicator, if set, replicates definition changes (a cluster:
	// broker.Config.Replicator); nil: a single node.
	Replicator broker.Replicator
	// MemoryBudget is how much memory the ready messages of all queues
	// may take, counted as their bodies plus 128 bytes each; beyond it new
	// messages live on disk only and are read back ahead of delivery.
	// Needs a Store. 0: 128 MiB; <0: none.
	MemoryBudget int64
	// ConsumerTimeout is how long a delivery may stay unacknowledged
	// before its channel is closed (rabbitmq consumer_timeout); a queue's
	// x-consumer-timeout argument overrides it. 0: 30 minutes; <0: none.
	ConsumerTimeout time.Duration

	// MaxConnections caps the open client connections (rabbitmq
	// connection_max); more are closed at accept. 0: none.
	MaxConnections int
	// HandshakeRate is how many new connections per second one source
	// address may open, after a burst of HandshakeBurst (admission.go);
	// more are closed at accept. 0: no limit.
	HandshakeRate  float64
	HandshakeBurst int
	// Alarms raises the memory and disk alarms that block publishing
	// connections (alarm.go); nil: none. The server subscribes to it in
	// New; the caller starts and stops it.
	Alarms *alarm.Monitor
	// ExternalIdentity, if set, offers the EXTERNAL mechanism on TLS
	// connections: the user is named by the verified client certificate's
	// CN or SAN (auth_external.go). "": EXTERNAL is not offered.
	ExternalIdentity tlsconf.Identity

	// StreamDir holds the logs of stream queues (the data directory's
	// streams/); empty: stream queues are refused.
	StreamDir string
}

// NoHeartbeat disables heartbeats when set as Config.Heartbeat.
const NoHeartbeat = ^uint16(0)

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if len(c.Vhosts) == 0 {
		c.Vhosts = []string{"/"}
	}
	if c.LoopbackUsers == nil {
		c.LoopbackUsers = []string{"guest"}
	}
	if c.ChannelMax == 0 {
		c.ChannelMax = 2047
	}
	if c.FrameMax == 0 {
		c.FrameMax = 131072
	}
	switch c.Heartbeat {
	case 0:
		c.Heartbeat = 60
	case NoHeartbeat:
		c.Heartbeat = 0
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = 16 << 20
	}
	if c.MaxOutboundBytes == 0 {
		c.MaxOutboundBytes = 4 << 20
	}
	if c.Bodies == nil {
		c.Bodies = queue.NewBodyPool(false)
	}
	if c.ConsumerTimeout == 0 {
		c.ConsumerTimeout = 30 * time.Minute
	}
	if c.MemoryBudget == 0 {
		c.MemoryBudget = 128 << 20
	}
}

// Server is an AMQP 0-9-1 broker.
type Server struct {
	cfg    Config
	log    *zap.Logger
	core   *broker.Broker    // vhosts, exchanges, queues, bindings
	vhosts map[string]*vhost // the core's vhosts, by name; fixed in New

	nextConnID atomic.Uint64
	startFrame []byte    // connection.start, encoded once
	epoch      time.Time // Server.now counts from here
	wg         sync.WaitGroup
	stats      serverStats // totals (stats.go)
	adm        admission   // connection admission at accept (admission.go)
	alarms     alarmState  // raised resource alarms (alarm.go)

	// startFrameTLS offers EXTERNAL too, on TLS connections (nil: none).
	startFrameTLS []byte

	mu struct {
		sync.Mutex
		listeners map[net.Listener]struct{}
		conns     map[*conn]struct{}
		shutdown  bool
	}
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("server: closed")

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger, vhosts: map[string]*vhost{}, epoch: time.Now()}
	s.core = broker.New(broker.Config{Logger: s.log, Vhosts: cfg.Vhosts, Store: cfg.Store, MemoryBudget: cfg.MemoryBudget, StreamDir: cfg.StreamDir, Replicator: cfg.Replicator})
	for _, name := range cfg.Vhosts {
		s.vhosts[name] = newVhost(s.core.Vhost(name))
	}
	var err error
	if s.startFrame, err = amqp.AppendMethodFrame(nil, 0, &amqp.ConnectionStart{
		VersionMajor:     0,
		VersionMinor:     9,
		ServerProperties: s.serverProperties(),
		Mechanisms:       "PLAIN AMQPLAIN",
		Locales:          "en_US",
	}); err != nil {
		return nil, fmt.Errorf("server: encode connection.start: %w", err)
	}
	if cfg.ExternalIdentity.Enabled() {
		if s.startFrameTLS, err = amqp.AppendMethodFrame(nil, 0, &amqp.ConnectionStart{
			VersionMajor: 0, VersionMinor: 9, ServerProperties: s.serverProperties(),
			Mechanisms: "PLAIN AMQPLAIN EXTERNAL", Locales: "en_US",
		}); err != nil {
			return nil, fmt.Errorf("server: encode connection.start: %w", err)
		}
	}
	s.mu.listeners = map[net.Listener]struct{}{}
	s.mu.conns = map[*conn]struct{}{}
	s.alarms.init()
	if cfg.Alarms != nil {
		cfg.Alarms.Subscribe(s.alarms.set)
	}
	if cfg.Store != nil {
		if _, err := s.core.Recover(); err != nil {
			return nil, fmt.Errorf("server: recovery: %w", err)
		}
	}
	if err := s.seedUsers(); err != nil {
		return nil, err
	}
	return s, nil
}

// Serve accepts connections on l until Shutdown. It always returns an error.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.mu.shutdown {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.mu.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.mu.listeners, l)
		s.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			down := s.mu.shutdown
			s.mu.Unlock()
			if down {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff) // accept back-off, not synchronisation
				continue
			}
			return err
		}
		backoff = 0
		if why := s.admitConn(nc); why != "" {
			s.log.Warn("connection refused at accept", zap.String("peer", nc.RemoteAddr().String()), zap.String("reason", why))
			nc.Close()
			continue
		}
		c := newConn(s, nc)
		s.mu.Lock()
		if s.mu.shutdown {
			s.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		s.mu.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go c.serve()
	}
}

func (s *Server) removeConn(c *conn) {
	s.stats.removeConn(s, c)
	s.wg.Done()
}

// Shutdown stops accepting, sends connection.close 320 CONNECTION_FORCED to
// every client and waits for the connections to end or ctx to expire, when
// it closes the rest.
func (s *Server) Shutdown(ctx context.Context) error {
	s.core.Stop()
	defer s.core.CloseStreams() // once the connections are gone
	s.mu.Lock()
	s.mu.shutdown = true
	for l := range s.mu.listeners {
		l.Close()
	}
	conns := make([]*conn, 0, len(s.mu.conns))
	for c := range s.mu.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.forceClose(amqp.Errorf(amqp.ConnectionForced, "broker forced connection closure with reason 'shutdown'"))
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.nc.Close()
		}
		<-done
		return ctx.Err()
	}
}

func (s *Server) serverProperties() amqp.Table {
	return amqp.Table{
		"product":     "Warren",
		"version":     Version,
		"platform":    "Go " + runtime.Version(),
		"copyright":   "Copyright (c) 2026 The Warren Authors",
		"information": "Licensed under the MIT licence",
		"capabilities": amqp.Table{
			"publisher_confirms":           true,
			"exchange_exchange_bindings":   true,
			"basic.nack":                   true,
			"consumer_cancel_notify":       true,
			"per_consumer_qos":             true,
			"authentication_failure_close": true,
			"consumer_priorities":          true,
			"direct_reply_to":              true,
			"connection.blocked":           true,
		},
		"cluster_name": "warren",
	}
}
