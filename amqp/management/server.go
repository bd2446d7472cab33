package management

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/amqp/management/console"
	"github.com/warrenmq/warren/amqp/server"
)

// User is who a request authenticated as.
type User struct {
	Name string
	// Tags are RabbitMQ's user tags: administrator, monitoring,
	// management, policymaker (tags.go says what each opens).
	Tags []string
	// Vhosts the user may use; nil means every vhost.
	Vhosts []string
}

// Authenticator checks HTTP basic credentials. remote is the client's
// address (guest is loopback-only, as over AMQP). The error is logged,
// never shown: the client reads "Login failed".
type Authenticator interface {
	Authenticate(user, pass string, remote net.Addr) (User, error)
}

// AuthFunc adapts a function to Authenticator.
type AuthFunc func(user, pass string, remote net.Addr) (User, error)

// Authenticate calls f.
func (f AuthFunc) Authenticate(user, pass string, remote net.Addr) (User, error) {
	return f(user, pass, remote)
}

// Registry is the AMQP front end's connection registry
// (*server.Server implements it).
type Registry interface {
	Connections() []server.ConnectionInfo
	Channels() []server.ChannelInfo
	CloseConnection(id uint64, reason string) error
}

// Listener is one of the node's listeners, for /api/overview and the
// port-listener and protocol-listener health checks.
type Listener struct {
	Protocol string // "amqp", "http", "http/prometheus", "stream"...
	Addr     net.Addr
}

// Config configures a Server.
type Config struct {
	Logger   *zap.Logger // nil: no logging
	Broker   *broker.Broker
	Registry Registry // nil: no connections
	// Streams is the stream protocol's connections (streamconns.go);
	// nil: none.
	Streams StreamRegistry
	Auth    Authenticator
	// StatsInterval is how often the sampler reads every counter to
	// compute rates (rabbitmq collect_statistics_interval). 0: 5 s.
	StatsInterval time.Duration
	// Listeners are the node's other listeners (AMQP...); the API's own
	// is added by Serve.
	Listeners []Listener
	NodeName  string // 0: "warren@" + host name
	// ClusterName: "" is "warren".
	ClusterName string
	Version     string // Warren's version ("": server.Version)

	// Cluster is the node's cluster membership (cluster.go); nil: a
	// single node.
	Cluster Cluster
}

// Server is the management HTTP API.
type Server struct {
	cfg     Config
	log     *zap.Logger
	b       *broker.Broker
	reg     Registry
	streams StreamRegistry
	mux     *http.ServeMux
	started time.Time
	stats   *sampler
	http    *http.Server

	mu struct {
		sync.Mutex
		listeners []Listener // Config.Listeners and Serve's
	}
}

// New returns a Server; it starts sampling statistics at once. Call
// Shutdown (or Close) to stop it.
func New(cfg Config) (*Server, error) {
	if cfg.Broker == nil {
		return nil, errors.New("management: Config.Broker is nil")
	}
	if cfg.Auth == nil {
		return nil, errors.New("management: Config.Auth is nil")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.StatsInterval <= 0 {
		cfg.StatsInterval = 5 * time.Second
	}
	if cfg.NodeName == "" {
		host, _ := os.Hostname()
		cfg.NodeName = "warren@" + host
	}
	if cfg.ClusterName == "" {
		cfg.ClusterName = "warren"
	}
	if cfg.Version == "" {
		cfg.Version = server.Version
	}
	s := &Server{cfg: cfg, log: cfg.Logger, b: cfg.Broker, reg: cfg.Registry, started: time.Now()}
	if s.reg == nil {
		s.reg = noRegistry{}
	}
	if s.streams = cfg.Streams; s.streams == nil {
		s.streams = noStreams{}
	}
	s.mu.listeners = append([]Listener(nil), cfg.Listeners...)
	s.mux = http.NewServeMux()
	s.routes()
	s.stats = newSampler(s.b, s.reg, cfg.StatsInterval)
	if cf, ok := cfg.Cluster.(ClusterFigures); ok { // nodes_figures.go
		cf.ServeFigures(s.nodeJSON)
	}
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ErrorLog: zap.NewStdLog(s.log)}
	return s, nil
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("management: handler panic", zap.Any("panic", p), zap.String("path", r.URL.Path))
			writeError(w, http.StatusInternalServerError, "internal_server_error", "internal error")
		}
	}()
	fixSlashSegments(r)
	if console.FromConsole(r) {
		w = noChallenge{w} // console.go: no browser login dialog
	}
	s.mux.ServeHTTP(w, r)
}

// Serve accepts HTTP connections on l until Shutdown.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	s.mu.listeners = append(s.mu.listeners, Listener{Protocol: "http", Addr: l.Addr()})
	s.mu.Unlock()
	err := s.http.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return ErrServerClosed
	}
	return err
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("management: closed")

// Shutdown stops the sampler and the HTTP server, waiting for requests
// in flight until ctx expires.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stats.stop()
	return s.http.Shutdown(ctx)
}

// Sample takes a statistics sample now, besides the periodic ones
// (tests, and the first sample before a listing).
func (s *Server) Sample() { s.stats.sample() }

func (s *Server) listeners() []Listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Listener(nil), s.mu.listeners...)
}

type noRegistry struct{}

func (noRegistry) Connections() []server.ConnectionInfo { return nil }
func (noRegistry) Channels() []server.ChannelInfo       { return nil }
func (noRegistry) CloseConnection(uint64, string) error { return server.ErrNoConnection }

// noChallenge drops the WWW-Authenticate header of a 401 to the
// console's own requests (console.FromConsole).
type noChallenge struct{ http.ResponseWriter }

func (w noChallenge) WriteHeader(code int) {
	w.Header().Del("WWW-Authenticate")
	w.ResponseWriter.WriteHeader(code)
}
