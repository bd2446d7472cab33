package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp/management"
	"github.com/warrenmq/warren/amqp/metrics"
	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/streamserver"
	"github.com/warrenmq/warren/tlsconf"
)

// streamTLSAddr is where the stream protocol listens over TLS: the
// --stream-tls-listen address; with auto, :5551 when --tls-listen is set
// (rabbitmq: stream.listeners.ssl.default = 5551 once TLS is configured);
// "" for none.
func (c *config) streamTLSAddr() string {
	switch a := c.streamTLSListen; a {
	case "auto":
		if c.tlsListen != "" && !managementOff(c.streamListen) {
			return ":5551"
		}
		return ""
	case "off":
		return ""
	default:
		return a
	}
}

// streamFront is the running stream protocol front end: nil when both
// its listeners are off (every method takes a nil receiver).
type streamFront struct {
	ss  *streamserver.Server
	lns []management.Listener
	wg  sync.WaitGroup
	log *zap.Logger
}

// registry is the management API's view of the stream connections.
func (f *streamFront) registry() management.StreamRegistry {
	if f == nil {
		return nil
	}
	return f.ss
}

// counts is the Prometheus endpoint's view of the stream connections.
func (f *streamFront) counts() metrics.StreamConnections {
	if f == nil {
		return nil
	}
	return f.ss
}

// listeners are the stream listeners, for /api/overview.
func (f *streamFront) listeners() []management.Listener {
	if f == nil {
		return nil
	}
	return f.lns
}

// stop shuts the stream protocol down and waits for its listeners.
func (f *streamFront) stop(ctx context.Context) {
	if f == nil {
		return
	}
	if err := f.ss.Shutdown(ctx); err != nil {
		f.log.Warn("stream protocol shutdown did not finish cleanly", zap.Error(err))
	}
	f.wg.Wait()
}

// startStream listens on --stream-listen and --stream-tls-listen (either
// may be off; both off: nil) and serves the stream protocol over srv's
// broker and users until stop. As the management listener, an address in
// use is an error that says how to choose another. On TLS, EXTERNAL logs
// in as the AMQP listener's does (--tls-external-identity).
func startStream(c *config, srv *server.Server, tlsLoader *tlsconf.Loader, log *zap.Logger) (*streamFront, error) {
	var lns []net.Listener
	closeAll := func() {
		for _, ln := range lns {
			ln.Close()
		}
	}
	if !managementOff(c.streamListen) {
		ln, err := streamListen(c.streamListen, "make run STREAM_LISTEN=127.0.0.1:5553 (or warren --stream-listen 127.0.0.1:5553, or off)")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
	}
	tlsAt := len(lns) // lns[tlsAt:] are TLS
	if addr := c.streamTLSAddr(); addr != "" {
		ln, err := streamListen(addr, "warren --stream-tls-listen 127.0.0.1:5554 (or off)")
		if err != nil {
			closeAll()
			return nil, err
		}
		lns = append(lns, tls.NewListener(ln, tlsLoader.ServerConfig()))
	}
	if len(lns) == 0 {
		return nil, nil
	}
	cfg := streamserver.Config{
		Broker: srv.Broker(),
		Logger: log.Named("stream"),
		Auth: func(user, pass string, remote net.Addr) (streamserver.User, error) {
			u, err := srv.Authenticate(user, pass, remote)
			return streamserver.User{Name: u.Name, Vhosts: u.Vhosts}, err
		},
	}
	if srv.ExternalEnabled() {
		cfg.External = func(st tls.ConnectionState, remote net.Addr) (streamserver.User, error) {
			u, err := srv.AuthenticateExternal(st, remote)
			return streamserver.User{Name: u.Name, Vhosts: u.Vhosts}, err
		}
	}
	ss, err := streamserver.New(cfg)
	if err != nil {
		closeAll()
		return nil, err
	}
	f := &streamFront{ss: ss, log: log}
	for i, ln := range lns {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			if err := ss.Serve(ln); err != nil && !errors.Is(err, streamserver.ErrServerClosed) {
				log.Error("stream protocol listener stopped", zap.Error(err))
			}
		}()
		if i >= tlsAt {
			f.lns = append(f.lns, management.Listener{Protocol: "stream/ssl", Addr: ln.Addr()})
			log.Info("stream protocol listening for TLS", zap.String("addr", ln.Addr().String()), zap.String("client_auth", c.tlsClientAuth),
				zap.Bool("external", cfg.External != nil))
		} else {
			f.lns = append(f.lns, management.Listener{Protocol: "stream", Addr: ln.Addr()})
			log.Info("stream protocol listening", zap.String("addr", ln.Addr().String()))
		}
	}
	return f, nil
}

// streamListen listens on addr; how says how to choose another.
func streamListen(addr, how string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	hint := "\n  choose another address: " + how
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("cannot listen on %s for the stream protocol: the address is in use, by another broker perhaps (a RabbitMQ?)%s", addr, hint)
	}
	return nil, fmt.Errorf("cannot listen on %s for the stream protocol: %w%s", addr, err, hint)
}
