package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp/metrics"
	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/storage"
	"github.com/warrenmq/warren/tlsconf"
)

// serveMetrics serves the Prometheus endpoints on --prometheus-listen
// ("" or "off": none) until the returned stop. The default address is
// best effort, since a RabbitMQ beside Warren often has it: if it is
// taken, Warren warns and runs without metrics. An address set by a flag,
// WARREN_PROMETHEUS_LISTEN or the file must be had.
func serveMetrics(c *config, srv *server.Server, store *storage.Store, tlsLoader *tlsconf.Loader, streams metrics.StreamConnections, log *zap.Logger) (stop func(), err error) {
	addr := c.promListen
	if addr == "" || addr == "off" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if !c.fs.Lookup("prometheus-listen").Changed {
			log.Warn("Prometheus metrics are off: the default address is taken; choose another with --prometheus-listen",
				zap.String("addr", addr), zap.Error(err))
			return func() {}, nil
		}
		return nil, fmt.Errorf("--prometheus-listen: cannot listen on %s: %w", addr, err)
	}
	if c.promTLS { // HTTPS, with the TLS listener's files (tls.go)
		ln = tls.NewListener(ln, tlsLoader.ServerConfigWith(tlsconf.ClientAuthNone))
	}
	hs := &http.Server{
		Handler:           metrics.New(metrics.Config{Server: srv, Store: store, DataDir: c.dataDir, Logger: log, Streams: streams}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("Prometheus metrics stopped", zap.Error(err))
		}
	}()
	log.Info("Prometheus metrics listening", zap.String("addr", ln.Addr().String()), zap.Bool("tls", c.promTLS))
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
		<-done
	}, nil
}
