package management

import (
	"net/http"

	"github.com/warrenmq/warren/amqp/streamserver"
)

// Stream protocol connections as RabbitMQ 3.10's rabbitmq_stream_management
// shows them:
//
//	GET    /api/stream/connections[/{vhost}]
//	GET    /api/stream/connections/{vhost}/{name}      DELETE closes the socket
//	GET    /api/stream/connections/{vhost}/{name}/publishers and /consumers
//	GET    /api/stream/publishers[/{vhost}[/{stream}]]
//	GET    /api/stream/consumers[/{vhost}]
//
// and among the AMQP connections of /api/connections (protocol "stream"),
// which GET and DELETE /api/connections/{name} reach too. A publisher is
//
//	{"connection_details":{"name","user","node","peer_host","peer_port"},
//	 "queue":{"name","vhost"},"publisher_id","reference","published",
//	 "confirmed","errored"}
//
// and a consumer the same with "subscription_id", "credits", "consumed",
// "offset", "offset_lag" and "properties". A monitor sees every one;
// other users their own.

// StreamRegistry is the stream protocol front end's connections
// (*streamserver.Server implements it).
type StreamRegistry interface {
	Connections() []streamserver.ConnectionInfo
	CloseConnection(name, reason string) error
}

// noStreams is the StreamRegistry without a stream listener.
type noStreams struct{}

func (noStreams) Connections() []streamserver.ConnectionInfo { return nil }
func (noStreams) CloseConnection(string, string) error       { return streamserver.ErrNoConnection }

func (s *Server) streamRoutes(h func(string, level, http.HandlerFunc)) {
	mg := levelManagement
	h("GET /api/stream/connections", mg, s.getStreamConnections)
	h("GET /api/stream/connections/{vhost}", mg, s.getStreamConnections)
	h("GET /api/stream/connections/{vhost}/{name}", mg, s.getStreamConnection)
	h("DELETE /api/stream/connections/{vhost}/{name}", mg, s.deleteStreamConnection)
	h("GET /api/stream/connections/{vhost}/{name}/publishers", mg, s.getStreamConnectionPublishers)
	h("GET /api/stream/connections/{vhost}/{name}/consumers", mg, s.getStreamConnectionConsumers)
	h("GET /api/stream/publishers", mg, s.getStreamPublishers)
	h("GET /api/stream/publishers/{vhost}", mg, s.getStreamPublishers)
	h("GET /api/stream/publishers/{vhost}/{queue}", mg, s.getStreamPublishers)
	h("GET /api/stream/consumers", mg, s.getStreamConsumers)
	h("GET /api/stream/consumers/{vhost}", mg, s.getStreamConsumers)
}

// streamConnsOf lists the stream connections u sees, of vhost ("" all).
func (s *Server) streamConnsOf(u *User, vhost string) []streamserver.ConnectionInfo {
	var out []streamserver.ConnectionInfo
	for _, c := range s.streams.Connections() {
		if s.seesConnection(u, c.User, c.Vhost) && (vhost == "" || c.Vhost == vhost) {
			out = append(out, c)
		}
	}
	return out
}

// orNil is v, or JSON null for "".
func orNil(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// streamConnJSON is a stream connection as RabbitMQ's management lists
// it (rabbit_stream_reader's creation items; RabbitMQ 3.10 shows no
// statistics for it, Warren adds state, channels and the octets as an
// AMQP connection has them).
func (s *Server) streamConnJSON(c *streamserver.ConnectionInfo) map[string]any {
	host, port := splitHostPort(c.Local)
	peerHost, peerPort := splitHostPort(c.Peer)
	props := map[string]any{}
	for k, v := range c.ClientProperties {
		props[k] = v
	}
	m := map[string]any{
		"name":                      c.Name,
		"node":                      s.cfg.NodeName,
		"vhost":                     c.Vhost,
		"user":                      c.User,
		"user_who_performed_action": c.User,
		"protocol":                  "stream",
		"auth_mechanism":            c.AuthMechanism,
		"host":                      host,
		"port":                      port,
		"peer_host":                 peerHost,
		"peer_port":                 peerPort,
		"ssl":                       c.TLS,
		"ssl_protocol":              orNil(c.TLSVersion),
		"ssl_cipher":                orNil(c.Cipher),
		"ssl_key_exchange":          nil,
		"ssl_hash":                  nil,
		"peer_cert_subject":         orNil(c.PeerCertSubject),
		"peer_cert_issuer":          orNil(c.PeerCertIssuer),
		"peer_cert_validity":        orNil(c.PeerCertValidity),
		"timeout":                   c.Heartbeat,
		"frame_max":                 c.FrameMax,
		"channel_max":               0,
		"channels":                  0,
		"client_properties":         props,
		"connected_at":              c.ConnectedAt.UnixMilli(),
		"state":                     "running",
		"send_pend":                 0,
	}
	if n := c.ClientProperties["connection_name"]; n != "" {
		m["user_provided_name"] = n
	}
	var val, rate vec
	val[statRecvOct], val[statSendOct] = float64(c.BytesIn), float64(c.BytesOut)
	putOctets(m, &val, &rate)
	return m
}

// connectionDetails is the connection_details of c's publishers and
// consumers.
func (s *Server) connectionDetails(c *streamserver.ConnectionInfo) map[string]any {
	peerHost, peerPort := splitHostPort(c.Peer)
	return map[string]any{"name": c.Name, "user": c.User, "node": s.cfg.NodeName, "peer_host": peerHost, "peer_port": peerPort}
}

func (s *Server) streamPublisherJSON(c *streamserver.ConnectionInfo, p *streamserver.PublisherInfo) map[string]any {
	return map[string]any{
		"connection_details": s.connectionDetails(c),
		"queue":              map[string]any{"name": p.Stream, "vhost": c.Vhost},
		"publisher_id":       p.ID,
		"reference":          p.Reference,
		"published":          p.Published,
		"confirmed":          p.Confirmed,
		"errored":            p.Errored,
	}
}

func (s *Server) streamConsumerJSON(c *streamserver.ConnectionInfo, k *streamserver.ConsumerInfo) map[string]any {
	props := map[string]any{}
	for key, v := range k.Properties {
		props[key] = v
	}
	return map[string]any{
		"connection_details": s.connectionDetails(c),
		"queue":              map[string]any{"name": k.Stream, "vhost": c.Vhost},
		"subscription_id":    k.ID,
		"credits":            k.Credits,
		"consumed":           k.Consumed,
		"offset":             k.Offset,
		"offset_lag":         k.OffsetLag,
		"properties":         props,
	}
}

func (s *Server) getStreamConnections(w http.ResponseWriter, r *http.Request) {
	vhost := vhostParam(r)
	if vhost != "" && !s.vhostAccess(w, r, vhost) {
		return
	}
	cs := s.streamConnsOf(userOf(r), vhost)
	list(w, r, cs, func(c *streamserver.ConnectionInfo) string { return c.Name }, s.streamConnJSON)
}

// theStreamConnection finds the path's stream connection among those r's
// user sees.
func (s *Server) theStreamConnection(w http.ResponseWriter, r *http.Request) (streamserver.ConnectionInfo, bool) {
	name := pathValue(r, "name")
	for _, c := range s.streamConnsOf(userOf(r), vhostParam(r)) {
		if c.Name == name {
			return c, true
		}
	}
	notFound(w)
	return streamserver.ConnectionInfo{}, false
}

func (s *Server) getStreamConnection(w http.ResponseWriter, r *http.Request) {
	if c, ok := s.theStreamConnection(w, r); ok {
		one(w, r, s.streamConnJSON(&c))
	}
}

// deleteStreamConnection closes a stream connection; a user may close
// their own, an administrator any.
func (s *Server) deleteStreamConnection(w http.ResponseWriter, r *http.Request) {
	c, ok := s.theStreamConnection(w, r)
	if !ok {
		return
	}
	s.closeStream(w, r, &c)
}

func (s *Server) closeStream(w http.ResponseWriter, r *http.Request, c *streamserver.ConnectionInfo) {
	reason, ok := closeReason(w, r, c.User)
	if !ok {
		return
	}
	if err := s.streams.CloseConnection(c.Name, reason); err != nil {
		notFound(w)
		return
	}
	noContent(w, false)
}

// pubItem and subItem are a publisher and a consumer with their
// connection, for listing.
type pubItem struct {
	c *streamserver.ConnectionInfo
	p *streamserver.PublisherInfo
}

type subItem struct {
	c *streamserver.ConnectionInfo
	k *streamserver.ConsumerInfo
}

func (s *Server) listStreamPublishers(w http.ResponseWriter, r *http.Request, cs []streamserver.ConnectionInfo, stream string) {
	var out []pubItem
	for i := range cs {
		for j := range cs[i].Publishers {
			if stream == "" || cs[i].Publishers[j].Stream == stream {
				out = append(out, pubItem{&cs[i], &cs[i].Publishers[j]})
			}
		}
	}
	list(w, r, out, func(it *pubItem) string { return it.c.Name },
		func(it *pubItem) map[string]any { return s.streamPublisherJSON(it.c, it.p) })
}

func (s *Server) listStreamConsumers(w http.ResponseWriter, r *http.Request, cs []streamserver.ConnectionInfo) {
	var out []subItem
	for i := range cs {
		for j := range cs[i].Consumers {
			out = append(out, subItem{&cs[i], &cs[i].Consumers[j]})
		}
	}
	list(w, r, out, func(it *subItem) string { return it.c.Name },
		func(it *subItem) map[string]any { return s.streamConsumerJSON(it.c, it.k) })
}

func (s *Server) getStreamConnectionPublishers(w http.ResponseWriter, r *http.Request) {
	if c, ok := s.theStreamConnection(w, r); ok {
		s.listStreamPublishers(w, r, []streamserver.ConnectionInfo{c}, "")
	}
}

func (s *Server) getStreamConnectionConsumers(w http.ResponseWriter, r *http.Request) {
	if c, ok := s.theStreamConnection(w, r); ok {
		s.listStreamConsumers(w, r, []streamserver.ConnectionInfo{c})
	}
}

func (s *Server) getStreamPublishers(w http.ResponseWriter, r *http.Request) {
	vhost, stream := vhostParam(r), pathValue(r, "queue")
	if vhost != "" && !s.vhostAccess(w, r, vhost) {
		return
	}
	if stream != "" && s.b.Vhost(vhost).Queue(stream) == nil {
		notFound(w) // rabbitmq: the queue must exist
		return
	}
	s.listStreamPublishers(w, r, s.streamConnsOf(userOf(r), vhost), stream)
}

func (s *Server) getStreamConsumers(w http.ResponseWriter, r *http.Request) {
	vhost := vhostParam(r)
	if vhost != "" && !s.vhostAccess(w, r, vhost) {
		return
	}
	s.listStreamConsumers(w, r, s.streamConnsOf(userOf(r), vhost))
}
