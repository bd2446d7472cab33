package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
)

// Config names the PEM files and the client authentication.
type Config struct {
	CertFile string // the server's certificate chain
	KeyFile  string // its private key
	// CAFile holds the CAs client certificates are verified against;
	// needed unless ClientAuth is ClientAuthNone.
	CAFile     string
	ClientAuth ClientAuth
}

// ClientAuth is how a listener asks for client certificates (RabbitMQ's
// ssl_options verify and fail_if_no_peer_cert).
type ClientAuth string

const (
	// ClientAuthNone asks for no client certificate (verify_none).
	ClientAuthNone ClientAuth = "none"
	// ClientAuthRequest asks for one and verifies it if given
	// (verify_peer, fail_if_no_peer_cert false).
	ClientAuthRequest ClientAuth = "request"
	// ClientAuthRequire refuses a client without a valid certificate
	// (verify_peer, fail_if_no_peer_cert true).
	ClientAuthRequire ClientAuth = "require"
)

// ParseClientAuth reads "none", "request" or "require".
func ParseClientAuth(s string) (ClientAuth, error) {
	switch a := ClientAuth(s); a {
	case ClientAuthNone, ClientAuthRequest, ClientAuthRequire:
		return a, nil
	}
	return "", fmt.Errorf("client authentication %q: want none, request or require", s)
}

func (a ClientAuth) tlsType() tls.ClientAuthType {
	switch a {
	case ClientAuthRequest:
		return tls.VerifyClientCertIfGiven
	case ClientAuthRequire:
		return tls.RequireAndVerifyClientCert
	}
	return tls.NoClientCert
}

// Loader holds the loaded certificates and hands out tls.Configs that
// always use the latest.
type Loader struct {
	cfg  Config
	snap atomic.Pointer[snapshot]
}

// snapshot is one load of the files: a server config per client
// authentication mode.
type snapshot struct {
	byAuth map[ClientAuth]*tls.Config
	leaf   *x509.Certificate
}

// New loads cfg's files.
func New(cfg Config) (*Loader, error) {
	if cfg.ClientAuth == "" {
		cfg.ClientAuth = ClientAuthNone
	}
	if _, err := ParseClientAuth(string(cfg.ClientAuth)); err != nil {
		return nil, err
	}
	if cfg.CertFile == "" || cfg.KeyFile == "" {
		return nil, errors.New("TLS needs a certificate and a key file")
	}
	if cfg.ClientAuth != ClientAuthNone && cfg.CAFile == "" {
		return nil, fmt.Errorf("client authentication %q needs a CA file to verify client certificates against", cfg.ClientAuth)
	}
	l := &Loader{cfg: cfg}
	if err := l.Reload(); err != nil {
		return nil, err
	}
	return l, nil
}

// Reload reads the files again; on an error the previous certificates
// stay in use.
func (l *Loader) Reload() error {
	cert, err := tls.LoadX509KeyPair(l.cfg.CertFile, l.cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s and key %s: %w", l.cfg.CertFile, l.cfg.KeyFile, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return fmt.Errorf("TLS certificate %s: %w", l.cfg.CertFile, err)
	}
	var pool *x509.CertPool
	if l.cfg.CAFile != "" {
		pem, err := os.ReadFile(l.cfg.CAFile)
		if err != nil {
			return fmt.Errorf("TLS CA file: %w", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("TLS CA file %s: no PEM certificate in it", l.cfg.CAFile)
		}
	}
	s := &snapshot{byAuth: map[ClientAuth]*tls.Config{}, leaf: leaf}
	for _, a := range []ClientAuth{ClientAuthNone, ClientAuthRequest, ClientAuthRequire} {
		s.byAuth[a] = &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{cert},
			ClientCAs:    pool,
			ClientAuth:   a.tlsType(),
		}
	}
	if pool == nil { // nothing to verify against
		s.byAuth[ClientAuthRequest] = s.byAuth[ClientAuthNone]
		s.byAuth[ClientAuthRequire] = s.byAuth[ClientAuthNone]
	}
	l.snap.Store(s)
	return nil
}

// ServerConfig is the tls.Config for a listener with the Loader's client
// authentication; ServerConfigWith chooses another.
func (l *Loader) ServerConfig() *tls.Config { return l.ServerConfigWith(l.cfg.ClientAuth) }

// ServerConfigWith is the tls.Config for a listener that asks for client
// certificates as a says (the Prometheus listener asks for none).
func (l *Loader) ServerConfigWith(a ClientAuth) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return l.snap.Load().byAuth[a], nil
		},
	}
}

// Certificate is the server certificate in use.
func (l *Loader) Certificate() *x509.Certificate { return l.snap.Load().leaf }

// ClientAuth is the Loader's client authentication.
func (l *Loader) ClientAuth() ClientAuth { return l.cfg.ClientAuth }
