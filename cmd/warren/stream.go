package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/streamserver"
)

// startStream listens on addr and serves the stream protocol over srv's
// broker and users until stop is called. As the management listener, an
// address in use is an error that says how to choose another.
func startStream(addr string, srv *server.Server, log *zap.Logger) (stop func(context.Context), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		const hint = "\n  choose another address: make run STREAM_LISTEN=127.0.0.1:5553 (or warren --stream-listen 127.0.0.1:5553, or off)"
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("cannot listen on %s for the stream protocol: the address is in use, by another broker perhaps (a RabbitMQ?)%s", addr, hint)
		}
		return nil, fmt.Errorf("cannot listen on %s for the stream protocol: %w%s", addr, err, hint)
	}
	ss, err := streamserver.New(streamserver.Config{
		Broker: srv.Broker(),
		Logger: log.Named("stream"),
		Auth: func(user, pass string, remote net.Addr) (streamserver.User, error) {
			u, err := srv.Authenticate(user, pass, remote)
			return streamserver.User{Name: u.Name, Vhosts: u.Vhosts}, err
		},
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := ss.Serve(ln); err != nil && !errors.Is(err, streamserver.ErrServerClosed) {
			log.Error("stream protocol listener stopped", zap.Error(err))
		}
	}()
	log.Info("stream protocol listening", zap.String("addr", ln.Addr().String()))
	return func(ctx context.Context) {
		if err := ss.Shutdown(ctx); err != nil {
			log.Warn("stream protocol shutdown did not finish cleanly", zap.Error(err))
		}
		<-done
	}, nil
}
