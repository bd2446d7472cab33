package streamserver

import (
	"crypto/tls"
	"errors"
	"io"
	"maps"
	"sort"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp/rawsock"
)

// What the management API lists (rabbitmq_stream_management): the open
// connections with their publishers and consumers, read from other
// goroutines. The figures are atomics the reader, the writer, the log's
// writer and the delivery goroutines bump; the lists are taken under
// conn.mu.

// ConnectionInfo is one open stream connection.
type ConnectionInfo struct {
	Name             string // "peer -> local", as RabbitMQ names connections
	Vhost, User      string
	AuthMechanism    string
	Local, Peer      string
	TLS              bool
	TLSVersion       string // "" without TLS
	Cipher           string
	PeerCertSubject  string // "" without a client certificate
	PeerCertIssuer   string
	PeerCertValidity string
	Heartbeat        int // seconds, as negotiated
	FrameMax         uint32
	ConnectedAt      time.Time
	ClientProperties map[string]string // the client's peer properties
	BytesIn          int64
	BytesOut         int64
	Publishers       []PublisherInfo
	Consumers        []ConsumerInfo
}

// PublisherInfo is a declared publisher.
type PublisherInfo struct {
	ID        uint8
	Stream    string
	Reference string // "" without deduplication
	Published uint64 // messages taken (duplicates included)
	Confirmed uint64
	Errored   uint64
}

// ConsumerInfo is a subscription.
type ConsumerInfo struct {
	ID         uint8
	Stream     string
	Credits    int
	Consumed   uint64 // messages in the chunks sent
	Offset     uint64 // first offset of the last chunk sent
	OffsetLag  uint64 // committed messages after Offset
	Active     bool   // false: waiting in a single active consumer group
	Properties map[string]string
}

// ErrNoConnection is CloseConnection's error for a name no open
// connection has.
var ErrNoConnection = errors.New("streamserver: no such connection")

// pubCounts are a publisher's figures.
type pubCounts struct {
	published, confirmed, errored atomic.Uint64
}

// subCounts are a subscription's figures.
type subCounts struct {
	consumed, offset atomic.Uint64
}

// countingReader counts the bytes read from a connection.
type countingReader struct {
	r  io.Reader
	n  *atomic.Int64
	rs *rawsock.Sock // if not nil: raw reads of r's socket
}

func (cr countingReader) Read(p []byte) (int, error) {
	var n int
	var err error
	if cr.rs != nil {
		n, err = cr.rs.Read(p)
	} else {
		n, err = cr.r.Read(p)
	}
	cr.n.Add(int64(n))
	return n, err
}

// Connections lists the open connections (those past open).
func (s *Server) Connections() []ConnectionInfo {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.mu.conns))
	for c := range s.mu.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	out := make([]ConnectionInfo, 0, len(conns))
	for _, c := range conns {
		if ci, ok := c.info(); ok {
			out = append(out, ci)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ConnectionCount is how many connections are open (past open).
func (s *Server) ConnectionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.mu.conns {
		c.mu.Lock()
		if c.mu.opened {
			n++
		}
		c.mu.Unlock()
	}
	return n
}

// Totals are the connections opened and closed since the start.
func (s *Server) Totals() (opened, closed uint64) {
	return s.opened.Load(), s.closed.Load()
}

// CloseConnection closes the open connection called name, as RabbitMQ's
// management does a stream connection: the socket closes (reason is
// logged).
func (s *Server) CloseConnection(name, reason string) error {
	s.mu.Lock()
	var target *conn
	for c := range s.mu.conns {
		c.mu.Lock()
		if c.mu.opened && c.mu.name == name {
			target = c
		}
		c.mu.Unlock()
	}
	s.mu.Unlock()
	if target == nil {
		return ErrNoConnection
	}
	target.log.Info("closing stream connection", zap.String("reason", reason))
	target.closeQuietly()
	target.nc.SetReadDeadline(time.Now()) // the reader stops
	return nil
}

// info is c's ConnectionInfo; false before open. The lists are copied
// under conn.mu; the figures are read after it (subscription.mu and the
// log's lock are taken with conn.mu released).
func (c *conn) info() (ConnectionInfo, bool) {
	c.mu.Lock()
	if !c.mu.opened {
		c.mu.Unlock()
		return ConnectionInfo{}, false
	}
	ci := ConnectionInfo{
		Name: c.mu.name, Vhost: c.mu.vhost, User: c.mu.user, AuthMechanism: c.mu.mech,
		Heartbeat: c.mu.heartbeat, FrameMax: c.mu.frameMax, ClientProperties: maps.Clone(c.mu.clientProps),
	}
	pubs := make([]*publisher, 0, len(c.mu.pubs))
	for _, p := range c.mu.pubs {
		pubs = append(pubs, p)
	}
	subs := make([]*subscription, 0, len(c.mu.subs))
	for _, sub := range c.mu.subs {
		subs = append(subs, sub)
	}
	c.mu.Unlock()
	ci.Local, ci.Peer = c.nc.LocalAddr().String(), c.nc.RemoteAddr().String()
	ci.ConnectedAt = c.connectedAt
	ci.BytesIn, ci.BytesOut = c.bytesIn.Load(), c.bytesOut.Load()
	if tc, ok := c.nc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		ci.TLS, ci.TLSVersion, ci.Cipher = true, tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite)
		if len(st.PeerCertificates) > 0 {
			pc := st.PeerCertificates[0]
			ci.PeerCertSubject, ci.PeerCertIssuer = pc.Subject.String(), pc.Issuer.String()
			ci.PeerCertValidity = pc.NotBefore.UTC().Format(time.RFC3339) + " - " + pc.NotAfter.UTC().Format(time.RFC3339)
		}
	}
	for _, p := range pubs {
		ci.Publishers = append(ci.Publishers, PublisherInfo{ID: p.id, Stream: p.name, Reference: p.ref,
			Published: p.n.published.Load(), Confirmed: p.n.confirmed.Load(), Errored: p.n.errored.Load()})
	}
	sort.Slice(ci.Publishers, func(i, j int) bool { return ci.Publishers[i].ID < ci.Publishers[j].ID })
	for _, sub := range subs {
		sub.mu.Lock()
		credit, active := sub.mu.credit, sub.mu.active || sub.group == nil
		sub.mu.Unlock()
		off := sub.n.offset.Load()
		var lag uint64
		if next := sub.s.Info().Next; next > off {
			lag = next - off
		}
		ci.Consumers = append(ci.Consumers, ConsumerInfo{ID: sub.id, Stream: sub.name, Credits: credit,
			Consumed: sub.n.consumed.Load(), Offset: off, OffsetLag: lag, Active: active, Properties: maps.Clone(sub.props)})
	}
	sort.Slice(ci.Consumers, func(i, j int) bool { return ci.Consumers[i].ID < ci.Consumers[j].ID })
	return ci, true
}
