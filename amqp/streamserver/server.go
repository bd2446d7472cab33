package streamserver

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp/broker"
)

// User is an authenticated user: Vhosts are those it may open (nil:
// every one).
type User struct {
	Name   string
	Vhosts []string
}

// Authenticator checks a user name and password from remote (the same
// check as the AMQP handshake's).
type Authenticator func(user, pass string, remote net.Addr) (User, error)

// ExternalAuthenticator logs in the user a TLS connection's verified
// client certificate names (SASL EXTERNAL; the AMQP handshake's check).
type ExternalAuthenticator func(st tls.ConnectionState, remote net.Addr) (User, error)

// Config configures a Server.
type Config struct {
	Broker *broker.Broker
	Auth   Authenticator
	// External, if set, offers SASL EXTERNAL on TLS connections (a
	// listener Serve was given from tls.NewListener); nil: not offered.
	External ExternalAuthenticator
	Logger   *zap.Logger // nil: none
	// AdvertisedHost and AdvertisedPort are what open and metadata give
	// clients to connect to; empty / 0: the connection's local address.
	AdvertisedHost string
	AdvertisedPort int
	// Heartbeat is proposed in tune; 0: 60 s; negative: none.
	Heartbeat time.Duration
	// FrameMax is proposed in tune; 0: 1 MiB.
	FrameMax uint32
	// MaxOutbound caps a connection's queued output (deliveries wait
	// past it); 0: 32 MiB.
	MaxOutbound int
	// SendfileMin is the size of a chunk's records from which they go
	// from the segment file to the socket with sendfile(2) rather than
	// through memory (plain TCP connections; TLS ones always read them);
	// 0: the default, defaultSendfileMin; negative: never.
	SendfileMin int
	// HandshakeTimeout bounds the time to open; 0: 10 s.
	HandshakeTimeout time.Duration
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Version is what peer properties report: 3.13 or later, for clients
// (the Go stream client) to use super streams and exchange command
// versions.
const Version = "3.13.0"

// ErrServerClosed is Serve's error after Shutdown.
var ErrServerClosed = errors.New("streamserver: server closed")

// Server is the stream protocol front end. See the package doc.
type Server struct {
	cfg Config
	log *zap.Logger
	sac *groups // single active consumer groups (sac.go)

	mu struct {
		sync.Mutex
		lns    map[net.Listener]struct{}
		conns  map[*conn]struct{}
		closed bool
	}
	wg sync.WaitGroup

	opened, closed atomic.Uint64 // connections past open, and those closed since
}

// New returns a server over cfg.Broker.
func New(cfg Config) (*Server, error) {
	if cfg.Broker == nil || cfg.Auth == nil {
		return nil, errors.New("streamserver: Config.Broker and Config.Auth are required")
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 60 * time.Second
	}
	if cfg.FrameMax == 0 {
		cfg.FrameMax = 1 << 20
	}
	if cfg.MaxOutbound <= 0 {
		cfg.MaxOutbound = 32 << 20
	}
	if cfg.SendfileMin == 0 {
		cfg.SendfileMin = defaultSendfileMin
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	s.sac = newGroups()
	s.mu.lns = map[net.Listener]struct{}{}
	s.mu.conns = map[*conn]struct{}{}
	return s, nil
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.mu.lns[ln] = struct{}{}
	s.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.mu.closed
			delete(s.mu.lns, ln)
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		c := newConn(s, nc)
		s.mu.Lock()
		if s.mu.closed {
			s.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		s.mu.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.mu.conns, c)
			s.mu.Unlock()
		}()
	}
}

// Shutdown stops the listeners, closes every connection and waits for
// their goroutines (or ctx).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.mu.closed = true
	for ln := range s.mu.lns {
		ln.Close()
	}
	conns := make([]*conn, 0, len(s.mu.conns))
	for c := range s.mu.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.closeWith(codeOK, "broker shutting down")
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// streamGone tells every connection with publishers or consumers on a
// deleted stream (metadata update, stream not available).
func (s *Server) streamGone(vhost, name string) {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.mu.conns))
	for c := range s.mu.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.streamGone(vhost, name)
	}
}
