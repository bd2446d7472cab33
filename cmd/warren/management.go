package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"syscall"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp/management"
	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/tlsconf"
)

// managementOff reports whether --management-listen disables the API.
func managementOff(addr string) bool { return addr == "" || addr == "off" }

// startManagement listens on addr and serves the management HTTP API over
// srv (its broker, registry and users) until stop is called. amqpAddr is
// the AMQP listener, for /api/overview and the health checks.
// nodeName and mc are the node's name and its cluster membership (nil: a
// single node).
func startManagement(addr string, tlsCfg *tls.Config, srv *server.Server, streams *streamFront, amqpAddr net.Addr, nodeName string, mc management.Cluster, log *zap.Logger) (stop func(context.Context), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		const hint = "\n  choose another address: make run MGMT_LISTEN=127.0.0.1:15673 (or warren --management-listen 127.0.0.1:15673, or off)"
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("cannot listen on %s for the management API: the address is in use, by another broker perhaps (a RabbitMQ?)%s", addr, hint)
		}
		return nil, fmt.Errorf("cannot listen on %s for the management API: %w%s", addr, err, hint)
	}
	if tlsCfg != nil { // HTTPS, with the TLS listener's files (tls.go)
		ln = tls.NewListener(ln, tlsCfg)
	}
	api, err := management.New(management.Config{
		Logger:    log,
		Broker:    srv.Broker(),
		Registry:  srv,
		Streams:   streams.registry(), // stream.go
		Auth:      authFrom(srv),
		Listeners: append([]management.Listener{{Protocol: "amqp", Addr: amqpAddr}}, streams.listeners()...),
		NodeName:  nodeName,
		Cluster:   mc,
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := api.Serve(ln); err != nil && !errors.Is(err, management.ErrServerClosed) {
			log.Error("management API stopped", zap.Error(err))
		}
	}()
	log.Info("management API listening", zap.String("addr", ln.Addr().String()), zap.Bool("tls", tlsCfg != nil))
	return func(ctx context.Context) {
		if err := api.Shutdown(ctx); err != nil {
			log.Warn("management API shutdown did not finish cleanly", zap.Error(err))
		}
		<-done
	}, nil
}

// mgmtTLSConfig is the management listener's TLS configuration with
// --management-tls, else nil.
func mgmtTLSConfig(c *config, l *tlsconf.Loader) *tls.Config {
	if !c.mgmtTLS || l == nil {
		return nil
	}
	return l.ServerConfigWith(tlsconf.ClientAuthNone)
}

// authFrom checks the API's basic credentials against the server's users,
// as the AMQP handshake does (guest from loopback only).
func authFrom(srv *server.Server) management.Authenticator {
	return management.AuthFunc(func(user, pass string, remote net.Addr) (management.User, error) {
		u, err := srv.Authenticate(user, pass, remote)
		if err != nil {
			return management.User{}, err
		}
		return management.User{Name: u.Name, Tags: u.Tags, Vhosts: u.Vhosts}, nil
	})
}
