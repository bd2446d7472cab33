package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/tlsconf"
)

// TLS connections and the EXTERNAL mechanism (rabbitmq_auth_mechanism_ssl):
// on a TLS connection with Config.ExternalIdentity set, connection.start
// offers EXTERNAL beside PLAIN and AMQPLAIN, and a client that picks it
// logs in as the user its verified certificate names (its subject's DN or
// CN, or a subject alternative name of a type at an index: RabbitMQ's
// ssl_cert_login_from, ssl_cert_login_san_type and ssl_cert_login_san_index;
// tlsconf.Identity), with no password. The user is
// looked up where PLAIN looks it up (Server.users), and the same rules
// follow (vhost access, loopback users).

// tlsHandshake runs the TLS handshake of a TLS connection within the
// handshake timeout, so that a failure is logged as such (an untrusted or
// expired client certificate, a client speaking plain AMQP). It is a
// no-op for a plain connection.
func (c *conn) tlsHandshake() error {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return nil
	}
	tc.SetDeadline(c.handshakeDeadline)
	err := tc.Handshake()
	tc.SetDeadline(time.Time{})
	if err != nil {
		return &handshakeError{msg: "TLS handshake failed", reason: err.Error()}
	}
	st := tc.ConnectionState()
	fields := []zap.Field{zap.String("tls_version", tls.VersionName(st.Version)), zap.String("cipher", tls.CipherSuiteName(st.CipherSuite))}
	if len(st.PeerCertificates) > 0 {
		fields = append(fields, zap.String("peer_cert_subject", st.PeerCertificates[0].Subject.String()))
	}
	c.log.Debug("TLS handshake done", fields...)
	return nil
}

// startFrameFor is connection.start for c: with EXTERNAL on TLS
// connections when the server takes it.
func (s *Server) startFrameFor(c *conn) []byte {
	if _, ok := c.nc.(*tls.Conn); ok && s.startFrameTLS != nil {
		return s.startFrameTLS
	}
	return s.startFrame
}

// externalUser is the user name a start-ok with the EXTERNAL mechanism
// logs in as.
func (c *conn) externalUser() (string, error) {
	from := c.srv.cfg.ExternalIdentity
	if !from.Enabled() {
		return "", errors.New("the EXTERNAL mechanism is not enabled")
	}
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return "", errors.New("the EXTERNAL mechanism needs a TLS connection")
	}
	return externalName(tc.ConnectionState(), from)
}

// externalName is the user name the verified client certificate of st
// gives with the identity from.
func externalName(st tls.ConnectionState, from tlsconf.Identity) (string, error) {
	user, err := tlsconf.PeerIdentity(st, from)
	if err != nil {
		return "", fmt.Errorf("EXTERNAL: %w", err)
	}
	return user, nil
}

// AuthenticateExternal logs in, as the AMQP handshake's EXTERNAL does,
// the user the verified client certificate of a TLS connection from
// remote names (Config.ExternalIdentity), for other front ends (the
// stream protocol). The error wraps ErrLoginRefused and says why, for the
// log.
func (s *Server) AuthenticateExternal(st tls.ConnectionState, remote net.Addr) (User, error) {
	from := s.cfg.ExternalIdentity
	if !from.Enabled() {
		return User{}, fmt.Errorf("%w: the EXTERNAL mechanism is not enabled", ErrLoginRefused)
	}
	name, err := externalName(st, from)
	if err != nil {
		return User{}, fmt.Errorf("%w: %w", ErrLoginRefused, err)
	}
	u, ok := s.core.User(name)
	if !ok {
		return User{}, fmt.Errorf("%w: user '%s' (from the client certificate): no such user", ErrLoginRefused, name)
	}
	return s.loggedIn(u, remote)
}

// ExternalEnabled reports whether EXTERNAL is offered on TLS connections.
func (s *Server) ExternalEnabled() bool { return s.cfg.ExternalIdentity.Enabled() }
