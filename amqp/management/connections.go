package management

import (
	"net"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/streamserver"
)

// Connections, channels and consumers: /api/connections[/{name}[/channels]]
// (DELETE closes with the X-Reason header's reason), /api/channels[/{name}],
// /api/vhosts/{v}/connections and /channels, /api/consumers[/{v}]. A
// monitor sees every connection; other users their own.

func splitHostPort(addr string) (string, int) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0
	}
	port, _ := strconv.Atoi(p)
	return h, port
}

func (s *Server) connectionJSON(c *server.ConnectionInfo, smp *samples) map[string]any {
	var val vec
	val[statRecvOct], val[statSendOct] = float64(c.BytesIn), float64(c.BytesOut)
	rs := smp.conn(c.ID)
	host, port := splitHostPort(c.Local)
	peerHost, peerPort := splitHostPort(c.Peer)
	m := map[string]any{
		"name":                      c.Name,
		"node":                      s.cfg.NodeName,
		"vhost":                     c.Vhost,
		"user":                      c.User,
		"user_who_performed_action": c.User,
		"state":                     c.State,
		"channels":                  c.Channels,
		"channel_max":               c.ChannelMax,
		"frame_max":                 c.FrameMax,
		"timeout":                   c.Heartbeat,
		"connected_at":              c.ConnectedAt.UnixMilli(),
		"client_properties":         tableToJSON(c.ClientProperties),
		"host":                      host,
		"port":                      port,
		"peer_host":                 peerHost,
		"peer_port":                 peerPort,
		"protocol":                  "AMQP 0-9-1",
		"type":                      "network",
		"ssl":                       false,
		"peer_cert_issuer":          nil,
		"peer_cert_subject":         nil,
		"peer_cert_validity":        nil,
	}
	if n, ok := c.ClientProperties["connection_name"].(string); ok {
		m["user_provided_name"] = n
	}
	putOctets(m, &val, &rs.rate)
	return m
}

// connItem is an AMQP or a stream connection, for one listing.
type connItem struct {
	amqp   *server.ConnectionInfo
	stream *streamserver.ConnectionInfo
}

func (it *connItem) name() string {
	if it.stream != nil {
		return it.stream.Name
	}
	return it.amqp.Name
}

// rabbitmq: /api/connections lists the stream protocol's connections too
// (protocol "stream").
func (s *Server) listConnections(w http.ResponseWriter, r *http.Request, vhost string) {
	u := userOf(r)
	cs := s.connectionsOf(u, vhost)
	ss := s.streamConnsOf(u, vhost)
	items := make([]connItem, 0, len(cs)+len(ss))
	for i := range cs {
		items = append(items, connItem{amqp: &cs[i]})
	}
	for i := range ss {
		items = append(items, connItem{stream: &ss[i]})
	}
	smp := s.stats.current()
	list(w, r, items, (*connItem).name, func(it *connItem) map[string]any {
		if it.stream != nil {
			return s.streamConnJSON(it.stream)
		}
		return s.connectionJSON(it.amqp, smp)
	})
}

func (s *Server) getConnections(w http.ResponseWriter, r *http.Request) {
	s.listConnections(w, r, "")
}

func (s *Server) getVhostConnections(w http.ResponseWriter, r *http.Request) {
	name := vhostParam(r)
	if !s.vhostAccess(w, r, name) {
		return
	}
	s.listConnections(w, r, name)
}

// theConnection finds the path's connection among those r's user sees.
func (s *Server) theConnection(w http.ResponseWriter, r *http.Request) (server.ConnectionInfo, bool) {
	name := pathValue(r, "name")
	for _, c := range s.connectionsOf(userOf(r), "") {
		// A closing connection is as good as gone (rabbitmq removes it
		// at once).
		if c.Name == name && c.State != "closing" {
			return c, true
		}
	}
	notFound(w)
	return server.ConnectionInfo{}, false
}

// theStreamConnectionNamed is the path's connection when it is a stream
// connection r's user sees.
func (s *Server) theStreamConnectionNamed(r *http.Request) (streamserver.ConnectionInfo, bool) {
	name := pathValue(r, "name")
	for _, c := range s.streamConnsOf(userOf(r), "") {
		if c.Name == name {
			return c, true
		}
	}
	return streamserver.ConnectionInfo{}, false
}

func (s *Server) getConnection(w http.ResponseWriter, r *http.Request) {
	if c, ok := s.theStreamConnectionNamed(r); ok {
		one(w, r, s.streamConnJSON(&c))
		return
	}
	if c, ok := s.theConnection(w, r); ok {
		one(w, r, s.connectionJSON(&c, s.stats.current()))
	}
}

// deleteConnection closes a connection with 320 CONNECTION_FORCED and
// the X-Reason header's text (rabbitmq: "Closed via management plugin"
// without one). A user may close their own; an administrator any.
func (s *Server) deleteConnection(w http.ResponseWriter, r *http.Request) {
	if sc, ok := s.theStreamConnectionNamed(r); ok {
		s.closeStream(w, r, &sc)
		return
	}
	c, ok := s.theConnection(w, r)
	if !ok {
		return
	}
	reason, ok := closeReason(w, r, c.User)
	if !ok {
		return
	}
	// The reply text is a shortstr (255 bytes) that starts with
	// "CONNECTION_FORCED - ": keep the reason within it, whole runes.
	for len(reason) > 200 {
		_, size := utf8.DecodeLastRuneInString(reason)
		reason = reason[:len(reason)-size]
	}
	if err := s.reg.CloseConnection(c.ID, reason); err != nil {
		notFound(w)
		return
	}
	noContent(w, false)
}

func channelJSON(c *server.ChannelInfo, conns map[uint64]server.ConnectionInfo, node string) map[string]any {
	peerHost, peerPort := "", 0
	if ci, ok := conns[c.Conn]; ok {
		peerHost, peerPort = splitHostPort(ci.Peer)
	}
	return map[string]any{
		"name":   c.Name,
		"node":   node,
		"number": c.Number,
		"user":   c.User,
		"vhost":  c.Vhost,
		"connection_details": map[string]any{
			"name": c.ConnName, "peer_host": peerHost, "peer_port": peerPort,
		},
		"confirm":                   c.Confirm,
		"transactional":             c.Tx,
		"consumer_count":            c.Consumers,
		"messages_unacknowledged":   c.Unacked,
		"messages_unconfirmed":      0,
		"messages_uncommitted":      0,
		"acks_uncommitted":          0,
		"global_prefetch_count":     c.GlobalPrefetch,
		"prefetch_count":            c.ConsumerPrefetch, // rabbitmq: basic.qos global=false
		"state":                     "running",
		"user_who_performed_action": c.User,
	}
}

// connsByID indexes the connections by id.
func (s *Server) connsByID() map[uint64]server.ConnectionInfo {
	m := map[uint64]server.ConnectionInfo{}
	for _, c := range s.reg.Connections() {
		m[c.ID] = c
	}
	return m
}

// listChannels lists the channels r's user sees that keep accepts.
func (s *Server) listChannels(w http.ResponseWriter, r *http.Request, keep func(*server.ChannelInfo) bool) {
	u := userOf(r)
	conns := s.connsByID()
	var out []server.ChannelInfo
	for _, c := range s.reg.Channels() {
		if s.seesConnection(u, c.User, c.Vhost) && keep(&c) {
			out = append(out, c)
		}
	}
	list(w, r, out, func(c *server.ChannelInfo) string { return c.Name },
		func(c *server.ChannelInfo) map[string]any { return channelJSON(c, conns, s.cfg.NodeName) })
}

func (s *Server) getChannels(w http.ResponseWriter, r *http.Request) {
	s.listChannels(w, r, func(*server.ChannelInfo) bool { return true })
}

func (s *Server) getVhostChannels(w http.ResponseWriter, r *http.Request) {
	name := vhostParam(r)
	if !s.vhostAccess(w, r, name) {
		return
	}
	s.listChannels(w, r, func(c *server.ChannelInfo) bool { return c.Vhost == name })
}

func (s *Server) getConnectionChannels(w http.ResponseWriter, r *http.Request) {
	c, ok := s.theConnection(w, r)
	if !ok {
		return
	}
	s.listChannels(w, r, func(ch *server.ChannelInfo) bool { return ch.Conn == c.ID })
}

func (s *Server) getChannel(w http.ResponseWriter, r *http.Request) {
	name := pathValue(r, "name")
	u := userOf(r)
	for _, c := range s.reg.Channels() {
		if c.Name == name && s.seesConnection(u, c.User, c.Vhost) {
			one(w, r, channelJSON(&c, s.connsByID(), s.cfg.NodeName))
			return
		}
	}
	notFound(w)
}

func (s *Server) consumerJSON(c *broker.ConsumerInfo, conns map[uint64]server.ConnectionInfo) map[string]any {
	ch := map[string]any{"number": c.Channel, "node": s.cfg.NodeName}
	if ci, ok := conns[c.Conn]; ok {
		host, port := splitHostPort(ci.Peer)
		ch["connection_name"], ch["name"] = ci.Name, ci.Name+" ("+strconv.Itoa(int(c.Channel))+")"
		ch["peer_host"], ch["peer_port"], ch["user"] = host, port, ci.User
	}
	args := map[string]any{}
	if c.Priority != 0 {
		args["x-priority"] = c.Priority
	}
	status := "up"
	if !c.Active {
		status = "waiting"
	}
	return map[string]any{
		"consumer_tag":    c.Tag,
		"queue":           map[string]any{"name": c.Queue, "vhost": c.Vhost},
		"channel_details": ch,
		"ack_required":    !c.NoAck,
		"exclusive":       c.Exclusive,
		"prefetch_count":  c.Prefetch,
		"arguments":       args,
		"active":          c.Active,
		"activity_status": status,
	}
}

func (s *Server) getConsumers(w http.ResponseWriter, r *http.Request) {
	cs, ok := fromVhosts(s, w, r, (*broker.Vhost).Consumers)
	if !ok {
		return
	}
	conns := s.connsByID()
	sc := s.newStreamConsumers()
	list(w, r, cs, func(c *broker.ConsumerInfo) string { return c.Tag },
		func(c *broker.ConsumerInfo) map[string]any {
			m := s.consumerJSON(c, conns)
			sc.add(m, c)
			return m
		})
}

// closeReason is the reason a DELETE of a connection owned by owner gives
// (its X-Reason header, RabbitMQ's default text without one); ok false
// when the user may not close it (answered 401: only its owner or an
// administrator may).
func closeReason(w http.ResponseWriter, r *http.Request, owner string) (reason string, ok bool) {
	u := userOf(r)
	if owner != u.Name && levelOf(u) < levelAdministrator {
		writeError(w, http.StatusUnauthorized, "not_authorised", "Not administrator user")
		return "", false
	}
	reason = r.Header.Get("X-Reason")
	if reason == "" {
		reason = "Closed via management plugin"
	}
	return reason, true
}
