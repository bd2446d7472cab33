package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/tlsconf"
)

// TLS: one certificate, key and CA (--tls-cert, --tls-key, --tls-ca) serve
// every TLS listener: the AMQPS listener (--tls-listen) and, with
// --prometheus-tls, the Prometheus endpoint (which asks for no client
// certificate). SIGHUP reloads the files; connections already open keep
// their session.

// tlsWanted reports whether any listener needs the TLS files.
func (c *config) tlsWanted() bool {
	return c.tlsListen != "" || c.promTLS || c.mgmtTLS || c.streamTLSAddr() != ""
}

// tlsLoader loads the TLS files, or returns nil when no listener needs
// them.
func (c *config) tlsLoader() (*tlsconf.Loader, error) {
	if !c.tlsWanted() {
		return nil, nil
	}
	auth, err := tlsconf.ParseClientAuth(c.tlsClientAuth)
	if err != nil {
		return nil, fmt.Errorf("--tls-client-auth: %w", err)
	}
	if c.tlsCert == "" || c.tlsKey == "" {
		return nil, fmt.Errorf("--tls-listen, --stream-tls-listen, --management-tls and --prometheus-tls need --tls-cert and --tls-key")
	}
	l, err := tlsconf.New(tlsconf.Config{CertFile: c.tlsCert, KeyFile: c.tlsKey, CAFile: c.tlsCA, ClientAuth: auth})
	if err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	return l, nil
}

// externalIdentity is --tls-external-identity (RabbitMQ's
// ssl_cert_login_from: distinguished_name, common_name or
// subject_alternative_name; off), with --tls-external-san-type and
// --tls-external-san-index (ssl_cert_login_san_type and _index), for
// server.Config.
func (c *config) externalIdentity() (tlsconf.Identity, error) {
	id, err := tlsconf.ParseIdentity(c.tlsExternal, c.tlsExternalSANType, c.tlsExternalSANIndex)
	if err != nil {
		return tlsconf.Identity{}, fmt.Errorf("--tls-external-identity: %w", err)
	}
	return id, nil
}

// listenTLS opens the AMQPS listener on --tls-listen (nil: none).
func listenTLS(c *config, l *tlsconf.Loader) (net.Listener, error) {
	if c.tlsListen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", c.tlsListen)
	if err != nil {
		return nil, fmt.Errorf("--tls-listen: %w", listenError(c.tlsListen, err))
	}
	return tls.NewListener(ln, l.ServerConfig()), nil
}

// reloadOnHUP reloads l's files on every SIGHUP until stop.
func reloadOnHUP(l *tlsconf.Loader, log *zap.Logger) (stop func()) {
	if l == nil {
		return func() {}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range hup {
			if err := l.Reload(); err != nil {
				log.Error("TLS reload failed; the previous certificates stay in use", zap.Error(err))
				continue
			}
			log.Info("TLS certificates reloaded", zap.String("subject", l.Certificate().Subject.String()),
				zap.Time("not_after", l.Certificate().NotAfter))
		}
	}()
	return func() {
		signal.Stop(hup)
		close(hup)
		<-done
	}
}
