package server

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/amqp/broker"
)

// The connection registry: what the management API lists of connections
// and channels, and how it closes a connection. A listing copies the
// server's set of connections under Server.mu, releases it, then reads
// each connection on its own: what the handshake settled (published once,
// atomically, as connInfo), byte counters (atomics the reader and the
// writer add to once per read and per written batch) and the channel
// table (conn.reg, a leaf lock, since the reader's own table is its
// goroutine's alone). A channel's figures are read under its dmu.

// ConnectionInfo is one client connection.
type ConnectionInfo struct {
	ID uint64
	// Name is RabbitMQ's: "127.0.0.1:54321 -> 127.0.0.1:5672".
	Name        string
	Peer, Local string // host:port
	User        string // "" until the handshake is through
	Vhost       string
	// ClientProperties as the client sent them in connection.start-ok
	// (product, version, platform, capabilities, connection_name...).
	// Shared: read only.
	ClientProperties amqp.Table
	Channels         int
	ChannelMax       uint16
	FrameMax         uint32
	Heartbeat        uint16 // seconds; 0: none
	ConnectedAt      time.Time
	BytesIn          uint64 // read from the socket (recv_oct)
	BytesOut         uint64 // written to it (send_oct)
	// State is "starting" during the handshake, then "running",
	// "blocked" while a resource alarm holds it, and "closing" once
	// connection.close is sent or received.
	State string
}

// ChannelInfo is one open channel.
type ChannelInfo struct {
	Conn     uint64
	ConnName string
	// Name is RabbitMQ's: the connection's name and "(number)".
	Name           string
	Number         uint16
	User, Vhost    string
	Confirm, Tx    bool // publisher confirms, or transactions
	GlobalPrefetch int  // basic.qos global=true (0: none)
	// ConsumerPrefetch is basic.qos global=false: the limit of the
	// channel's next consumers (0: none).
	ConsumerPrefetch int
	Unacked          int // deliveries and gets not yet settled
	Unconfirmed      int // publishes in confirm mode not yet confirmed
	Consumers        int

	// Counters since the channel opened, in total, by exchange published
	// to and by queue consumed from (stats.go). The publish counts lag by
	// at most the reader's current batch.
	Counters  ChannelCounters
	Exchanges []ChannelExchangeCounters
	Queues    []ChannelQueueCounters
}

// connInfo is what the handshake settled, published once it is through.
type connInfo struct {
	user, vhost string
	props       amqp.Table
	channelMax  uint16
	frameMax    uint32
	heartbeat   uint16
}

// registry is a connection's part of the registry (conn.reg).
type registry struct {
	connectedAt time.Time
	name        string
	info        atomic.Pointer[connInfo]
	bytesIn     atomic.Uint64
	bytesOut    atomic.Uint64

	mu struct {
		sync.Mutex
		channels map[uint16]*channel // open channels, for listings
	}
}

// Channel modes, in channel.mode, for listings.
const (
	modeConfirm uint32 = 1 + iota
	modeTx
)

func (r *registry) init(c *conn) {
	r.connectedAt = time.Now()
	r.name = c.nc.RemoteAddr().String() + " -> " + c.nc.LocalAddr().String()
	r.mu.channels = map[uint16]*channel{}
}

// opened publishes what the handshake settled; the reader calls it once
// the vhost is open.
func (c *conn) opened(props amqp.Table) {
	c.reg.info.Store(&connInfo{user: c.user, vhost: c.vhost.name, props: props,
		channelMax: c.channelMax, frameMax: c.frameMax, heartbeat: c.heartbeat})
	c.srv.stats.connsOpened.Add(1)
}

func (c *conn) registerChannel(ch *channel) {
	c.reg.mu.Lock()
	c.reg.mu.channels[ch.id] = ch
	c.reg.mu.Unlock()
}

// registered copies the connection's open channels, by number.
func (c *conn) registered() []*channel {
	c.reg.mu.Lock()
	chs := make([]*channel, 0, len(c.reg.mu.channels))
	for _, ch := range c.reg.mu.channels {
		chs = append(chs, ch)
	}
	c.reg.mu.Unlock()
	slices.SortFunc(chs, func(a, b *channel) int { return cmp.Compare(a.id, b.id) })
	return chs
}

func (c *conn) unregisterChannel(ch *channel) {
	c.reg.mu.Lock()
	if c.reg.mu.channels[ch.id] == ch {
		delete(c.reg.mu.channels, ch.id)
	}
	c.reg.mu.Unlock()
}

// batchLen is the bytes of a batch taken from outbound, counted before it
// is written (writing consumes segs).
func batchLen(batch []byte, segs [][]byte) uint64 {
	if segs == nil {
		return uint64(len(batch))
	}
	n := 0
	for _, s := range segs {
		n += len(s)
	}
	return uint64(n)
}

// ConsumerChannel implements broker.ConsumerDetails, for the core's
// consumer listing.
func (cs *consumer) ConsumerChannel() (channel uint16, prefetch int) { return cs.ch.id, cs.prefetch }

var _ broker.ConsumerDetails = (*consumer)(nil)

// Broker is the server's broker core, for its read side (listings) and
// for other front ends.
func (s *Server) Broker() *broker.Broker { return s.core }

// conns copies the server's connections, by id.
func (s *Server) conns() []*conn {
	s.mu.Lock()
	cs := make([]*conn, 0, len(s.mu.conns))
	for c := range s.mu.conns {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	slices.SortFunc(cs, func(a, b *conn) int { return cmp.Compare(a.id, b.id) })
	return cs
}

// Connections lists the client connections, by id.
func (s *Server) Connections() []ConnectionInfo {
	cs := s.conns()
	out := make([]ConnectionInfo, len(cs))
	for i, c := range cs {
		out[i] = c.snapshot()
	}
	return out
}

func (c *conn) snapshot() ConnectionInfo {
	r := &c.reg
	ci := ConnectionInfo{
		ID: c.id, Name: r.name, Peer: c.nc.RemoteAddr().String(), Local: c.nc.LocalAddr().String(),
		ConnectedAt: r.connectedAt, BytesIn: r.bytesIn.Load(), BytesOut: r.bytesOut.Load(), State: "starting",
	}
	if h := r.info.Load(); h != nil {
		ci.User, ci.Vhost, ci.ClientProperties = h.user, h.vhost, h.props
		ci.ChannelMax, ci.FrameMax, ci.Heartbeat = h.channelMax, h.frameMax, h.heartbeat
		ci.State = "running"
	}
	if c.blocked.Load() {
		ci.State = "blocked" // rabbitmq: held by a resource alarm (alarm.go)
	}
	if c.closing.Load() {
		ci.State = "closing"
	}
	r.mu.Lock()
	ci.Channels = len(r.mu.channels)
	r.mu.Unlock()
	return ci
}

// Channels lists the open channels, by connection and number.
func (s *Server) Channels() []ChannelInfo {
	var out []ChannelInfo
	for _, c := range s.conns() {
		h := c.reg.info.Load()
		if h == nil {
			continue
		}
		for _, ch := range c.registered() {
			mode := ch.mode.Load()
			info := ChannelInfo{Conn: c.id, ConnName: c.reg.name, Name: c.reg.name + " (" + strconv.Itoa(int(ch.id)) + ")",
				Number: ch.id, User: h.user, Vhost: h.vhost, Confirm: mode == modeConfirm, Tx: mode == modeTx}
			ch.dmu.Lock()
			info.GlobalPrefetch = ch.dmu.globalPrefetch
			info.Unacked = ch.dmu.unacked.live
			info.Consumers = len(ch.dmu.consumers)
			ch.dmu.Unlock()
			info.ConsumerPrefetch = int(ch.consumerPrefetchA.Load())
			if mode == modeConfirm {
				info.Unconfirmed = ch.conf.unconfirmed()
			}
			info.Counters, info.Exchanges, info.Queues = ch.counters(true)
			out = append(out, info)
		}
	}
	return out
}

// ErrNoConnection: CloseConnection found no connection with that id.
var ErrNoConnection = errors.New("server: no such connection")

// CloseConnection closes the connection id with 320 CONNECTION_FORCED and
// the reason, as RabbitMQ's management API does (its default reason is
// "Closed via management plugin"). The close is sent at once; the
// connection ends when the client answers, or after 3 s.
func (s *Server) CloseConnection(id uint64, reason string) error {
	for _, c := range s.conns() {
		if c.id == id {
			c.log.Info("closing connection on request", zap.String("reason", reason))
			// rabbitmq: "CONNECTION_FORCED - <reason>".
			c.forceClose(amqp.Errorf(amqp.ConnectionForced, "%s", reason))
			return nil
		}
	}
	return ErrNoConnection
}
