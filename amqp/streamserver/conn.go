package streamserver

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/amqp/rawsock"
	"github.com/warrenmq/warren/storage/streamlog"
)

// Connection states, in handshake order.
const (
	statePeerProperties = iota
	stateSasl
	stateTune
	stateOpen
	stateOpened
)

// conn is one stream protocol connection: a reader goroutine (serve)
// that owns the protocol state and dispatches frames inline, a writer
// goroutine that owns the socket's writes, a heartbeat goroutine, and a
// delivery goroutine per active subscription.
type conn struct {
	s   *Server
	nc  net.Conn
	log *zap.Logger

	// Owned by the reader goroutine.
	state     int
	user      User
	vhost     *broker.Vhost
	heartbeat time.Duration
	frameMax  uint32
	pubs      map[uint8]*publisher

	mu struct { // subscriptions (SAC reaches them from other connections) and server requests
		sync.Mutex
		subs    map[uint8]*subscription
		pending map[uint32]func(d *decoder)
		vhost   string // once open
		// For the management API (info.go), set by the reader.
		opened      bool
		name        string
		user, mech  string
		heartbeat   int
		frameMax    uint32
		clientProps map[string]string
		pubs        map[uint8]*publisher // a copy of the reader's pubs
	}
	connectedAt       time.Time
	bytesIn, bytesOut atomic.Int64
	corr              atomic.Uint32 // server-initiated requests (consumer update)

	out struct { // the writer's queue
		sync.Mutex
		bufs     [][]byte
		regions  []queuedRegion // records to send from the files (sendfile.go)
		spent    []spent        // deliveries' buffers to hand back once written
		bytes    int
		confirms map[uint8][]uint64
		closing  bool // write what is queued, then close
	}
	room     *sync.Cond // on out: the queue is below MaxOutbound again
	wake     chan struct{}
	quit     chan struct{} // closed when the connection ends
	quitOnce sync.Once
	lastRead atomic.Int64 // Unix ns
	wg       sync.WaitGroup
	counted  bool // the vhost counts this connection
	// minFile is the size from which a chunk's records are sent from
	// the file (sendfile.go); -1: never (TLS, not a TCP socket).
	minFile int
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, log: s.log.With(zap.String("remote", nc.RemoteAddr().String())),
		pubs: map[uint8]*publisher{}, wake: make(chan struct{}, 1), quit: make(chan struct{}), frameMax: s.cfg.FrameMax}
	c.mu.subs = map[uint8]*subscription{}
	c.mu.pending = map[uint32]func(*decoder){}
	c.mu.pubs = map[uint8]*publisher{}
	c.mu.name = nc.RemoteAddr().String() + " -> " + nc.LocalAddr().String() // rabbitmq: the connection's name
	c.connectedAt = s.cfg.Now()
	c.out.confirms = map[uint8][]uint64{}
	c.room = sync.NewCond(&c.out.Mutex)
	c.minFile = -1
	if _, ok := nc.(*net.TCPConn); ok {
		c.minFile = s.cfg.SendfileMin
	}
	return c
}

// serve runs the reader until the connection ends, then cleans up.
func (c *conn) serve() {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("stream connection panicked", zap.Any("panic", r), zap.Stack("stack"))
		}
		c.shutdown()
	}()
	c.wg.Add(1)
	go c.writer()
	c.nc.SetReadDeadline(c.s.cfg.Now().Add(c.s.cfg.HandshakeTimeout))
	br := bufio.NewReaderSize(countingReader{r: c.nc, n: &c.bytesIn, rs: rawsock.Of(c.nc)}, 64<<10)
	var buf []byte
	for {
		f, err := readFrame(br, buf, c.frameMax)
		if err != nil {
			if errors.Is(err, errTooLarge) {
				c.closeWith(codeFrameTooLarge, "frame too large")
			} else if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.log.Debug("stream connection read", zap.Error(err))
			}
			return
		}
		c.lastRead.Store(c.s.cfg.Now().UnixNano())
		if !c.dispatch(f) {
			return
		}
		if cap(f) <= 64<<10 && binary.BigEndian.Uint16(f) != keyPublish {
			buf = f // reused: handlers copy what they keep, but publish's records stay in it
		} else {
			buf = nil
		}
	}
}

// shutdown ends the connection: subscriptions stop and leave their
// groups, the writer finishes, the socket closes.
func (c *conn) shutdown() {
	c.quitOnce.Do(func() { close(c.quit) })
	c.mu.Lock()
	subs := make([]*subscription, 0, len(c.mu.subs))
	for _, sub := range c.mu.subs {
		subs = append(subs, sub)
	}
	c.mu.subs = map[uint8]*subscription{}
	c.mu.Unlock()
	for _, sub := range subs {
		c.endSubscription(sub)
	}
	c.out.Lock()
	c.out.closing = true
	c.room.Broadcast()
	c.out.Unlock()
	c.signal()
	c.wg.Wait()
	c.nc.Close()
	if c.counted {
		c.s.closed.Add(1)
		c.vhost.CloseConnection()
		c.s.cfg.Broker.CloseUserConnection(c.user.Name)
	}
}

// closeWith sends a close request and ends the connection once it is
// written.
func (c *conn) closeWith(code uint16, reason string) {
	f := newFrame(keyClose, 1, 8+len(reason))
	f.u32(c.corr.Add(1))
	f.u16(code)
	f.str(reason)
	c.send(f.done())
	c.out.Lock()
	c.out.closing = true
	c.room.Broadcast()
	c.out.Unlock()
	c.signal()
	c.quitOnce.Do(func() { close(c.quit) })
	c.nc.SetReadDeadline(time.Now()) // the reader stops
}

func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// send queues a frame; it never waits.
func (c *conn) send(b []byte) {
	c.out.Lock()
	if !c.out.closing {
		c.out.bufs = append(c.out.bufs, b)
		c.out.bytes += len(b)
	}
	c.out.Unlock()
	c.signal()
}

// spent is a delivery's buffer, handed back to its subscription's free
// list once written.
type spent struct {
	b    []byte
	free chan []byte
}

// sendWait queues a frame, b and then rg's bytes from its file (rg may
// be empty), waiting while the queue is over MaxOutbound; false if the
// connection or quit ended first. rg is the writer's to release from
// then on (released here on false). With free, b goes back to it once
// written.
func (c *conn) sendWait(b []byte, rg streamlog.Region, quit <-chan struct{}, free chan []byte) bool {
	c.out.Lock()
	for c.out.bytes > c.s.cfg.MaxOutbound && !c.out.closing {
		select {
		case <-quit:
			c.out.Unlock()
			rg.Release()
			return false
		default:
		}
		c.room.Wait()
	}
	if c.out.closing {
		c.out.Unlock()
		rg.Release()
		return false
	}
	c.out.bufs = append(c.out.bufs, b)
	c.out.bytes += len(b) + int(rg.Len)
	if rg.Len > 0 {
		c.out.regions = append(c.out.regions, queuedRegion{at: len(c.out.bufs), rg: rg})
	}
	if free != nil {
		c.out.spent = append(c.out.spent, spent{b, free})
	}
	c.out.Unlock()
	c.signal()
	return true
}

// confirm queues publisher pid's publishing id for the next confirm
// frame (any goroutine: the log's writer runs it).
func (c *conn) confirm(pid uint8, id uint64) {
	c.out.Lock()
	c.out.confirms[pid] = append(c.out.confirms[pid], id)
	c.out.Unlock()
	c.signal()
}

// confirmAll queues several publishing ids of publisher pid.
func (c *conn) confirmAll(pid uint8, ids []uint64) {
	c.out.Lock()
	c.out.confirms[pid] = append(c.out.confirms[pid], ids...)
	c.out.Unlock()
	c.signal()
}

// writer writes the queued frames, confirms last, with one writev per
// batch, until the connection closes.
func (c *conn) writer() {
	defer c.wg.Done()
	var bufs net.Buffers
	var regs []queuedRegion
	var done []spent
	var w io.Writer = c.nc
	var bw *bufio.Writer // TLS: frames gathered into records (no writev)
	if _, ok := c.nc.(*tls.Conn); ok {
		bw = bufio.NewWriterSize(c.nc, 64<<10)
		w = bw
	}
	rs := rawsock.Of(c.nc) // raw writes; nil: TLS
	for {
		c.out.Lock()
		for len(c.out.bufs) == 0 && len(c.out.confirms) == 0 && !c.out.closing {
			c.out.Unlock()
			<-c.wake
			c.out.Lock()
		}
		bufs = append(bufs[:0], c.out.bufs...)
		clear(c.out.bufs)
		c.out.bufs = c.out.bufs[:0]
		regs = append(regs[:0], c.out.regions...)
		clear(c.out.regions)
		c.out.regions = c.out.regions[:0]
		done = append(done[:0], c.out.spent...)
		clear(c.out.spent)
		c.out.spent = c.out.spent[:0]
		c.out.bytes = 0
		for pid, ids := range c.out.confirms {
			f := newFrame(keyPublishConfirm, 1, 5+8*len(ids))
			f.u8(pid)
			f.u32(uint32(len(ids)))
			for _, id := range ids {
				f.u64(id)
			}
			bufs = append(bufs, f.done())
			delete(c.out.confirms, pid)
		}
		closing := c.out.closing
		c.room.Broadcast()
		c.out.Unlock()
		if len(bufs) > 0 {
			err := c.writeOut(w, rs, bufs, regs) // sendfile.go
			clear(regs)
			if err == nil && bw != nil {
				err = bw.Flush()
			}
			for i, sp := range done {
				select {
				case sp.free <- sp.b[:cap(sp.b)]:
				default:
				}
				done[i] = spent{}
			}
			if err != nil {
				c.out.Lock()
				c.out.closing = true
				for i := range c.out.regions {
					c.out.regions[i].rg.Release() // queued since; nothing is queued from now on
				}
				c.out.regions = nil
				c.room.Broadcast()
				c.out.Unlock()
				c.quitOnce.Do(func() { close(c.quit) })
				c.nc.Close()
				return
			}
		}
		if closing {
			c.nc.Close()
			return
		}
	}
}

// heartbeats sends a heartbeat every interval and closes a connection
// silent for two.
func (c *conn) heartbeats(every time.Duration) {
	defer c.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	hb := newFrame(keyHeartbeat, 1, 0).done()
	for {
		select {
		case <-c.quit:
			return
		case now := <-t.C:
			if now.Sub(time.Unix(0, c.lastRead.Load())) > 2*every {
				c.log.Info("stream connection missed heartbeats: closing", zap.Duration("heartbeat", every))
				c.closeWith(codeOK, "heartbeat timeout")
				return
			}
			c.send(hb)
		}
	}
}

// dispatch handles one frame; false ends the connection.
func (c *conn) dispatch(f []byte) bool {
	d := &decoder{b: f}
	key, version := d.u16(), d.u16()
	if c.state < stateOpened {
		return c.handshake(key, d)
	}
	switch key {
	case keyPublish:
		c.publish(d, version)
	case keyCredit:
		c.credit(d)
	case keyStoreOffset:
		c.storeOffset(d)
	case keyHeartbeat:
	case keyDeclarePublisher:
		c.declarePublisher(d)
	case keyQueryPublisherSequence:
		c.queryPublisherSequence(d)
	case keyDeletePublisher:
		c.deletePublisher(d)
	case keySubscribe:
		c.subscribe(d)
	case keyQueryOffset:
		c.queryOffset(d)
	case keyUnsubscribe:
		c.unsubscribe(d)
	case keyCreate:
		c.createStream(d)
	case keyDelete:
		c.deleteStream(d)
	case keyMetadata:
		c.metadata(d)
	case keyStreamStats:
		c.streamStats(d)
	case keyExchangeVersions:
		c.exchangeVersions(d)
	case keyRoute:
		c.route(d)
	case keyPartitions:
		c.partitions(d)
	case keyCreateSuperStream:
		c.createSuperStream(d)
	case keyDeleteSuperStream:
		c.deleteSuperStream(d)
	case keyConsumerUpdate | responseBit:
		c.reply(d)
	case keyClose:
		corr := d.u32()
		c.send(response(keyClose, corr, codeOK).done())
		c.closeQuietly()
		return false
	case keyClose | responseBit:
		return false
	default:
		c.log.Info("stream connection: unknown command", zap.Uint16("key", key))
		c.closeWith(codeUnknownFrame, "unknown frame")
		return false
	}
	if d.err != nil {
		c.log.Info("stream connection: malformed frame", zap.Uint16("key", key))
		c.closeWith(codeUnknownFrame, "malformed frame")
		return false
	}
	return true
}

// closeQuietly ends the connection after what is queued is written.
func (c *conn) closeQuietly() {
	c.out.Lock()
	c.out.closing = true
	c.room.Broadcast()
	c.out.Unlock()
	c.signal()
}

// handshake handles the frames before open: peer properties, SASL, tune,
// open (and close, heartbeat, exchange command versions).
func (c *conn) handshake(key uint16, d *decoder) bool {
	switch {
	case key == keyPeerProperties && c.state == statePeerProperties:
		corr := d.u32()
		client := d.strMap()
		c.mu.Lock()
		c.mu.clientProps = client
		c.mu.Unlock()
		props := [][2]string{
			{"product", "Warren"}, {"version", Version}, {"platform", "Go"},
			{"copyright", "Warren authors"}, {"information", "Warren, an AMQP 0-9-1 and stream broker"},
			{"cluster_name", "warren"},
		}
		f := response(keyPeerProperties, corr, codeOK)
		f.u32(uint32(len(props)))
		for _, p := range props {
			f.str(p[0])
			f.str(p[1])
		}
		c.send(f.done())
		c.state = stateSasl
		return d.err == nil
	case key == keySaslHandshake && c.state == stateSasl:
		corr := d.u32()
		mechs := c.mechanisms()
		f := response(keySaslHandshake, corr, codeOK)
		f.u32(uint32(len(mechs)))
		for _, m := range mechs {
			f.str(m)
		}
		c.send(f.done())
		return d.err == nil
	case key == keySaslAuthenticate && c.state == stateSasl:
		corr := d.u32()
		mech := d.str()
		data := d.bytes()
		if d.err != nil {
			return false
		}
		if !slices.Contains(c.mechanisms(), mech) {
			c.send(response(keySaslAuthenticate, corr, codeSaslMechanismUnsupported).done())
			return true
		}
		var u User
		var err error
		if mech == "EXTERNAL" {
			// rabbitmq: EXTERNAL ignores the response; the certificate names the user.
			u, err = c.s.cfg.External(c.nc.(*tls.Conn).ConnectionState(), c.nc.RemoteAddr())
		} else {
			// RFC 4616: [authzid] NUL authcid NUL passwd
			parts := bytes.Split(data, []byte{0})
			if len(parts) != 3 {
				c.send(response(keySaslAuthenticate, corr, codeSaslError).done())
				return true
			}
			u, err = c.s.cfg.Auth(string(parts[1]), string(parts[2]), c.nc.RemoteAddr())
		}
		if err != nil {
			c.log.Info("stream connection: login refused", zap.Error(err))
			c.send(response(keySaslAuthenticate, corr, codeAuthenticationFailure).done())
			c.closeQuietly()
			return false
		}
		c.user = u
		c.mu.Lock()
		c.mu.user, c.mu.mech = u.Name, mech
		c.mu.Unlock()
		c.send(response(keySaslAuthenticate, corr, codeOK).done())
		tune := newFrame(keyTune, 1, 8)
		tune.u32(c.s.cfg.FrameMax)
		hb := uint32(0)
		if c.s.cfg.Heartbeat > 0 {
			hb = uint32(c.s.cfg.Heartbeat / time.Second)
		}
		tune.u32(hb)
		c.send(tune.done())
		c.state = stateTune
		return true
	case key == keyTune|responseBit && c.state == stateTune, key == keyTune && c.state == stateTune:
		fm, hb := d.u32(), d.u32()
		if fm > 0 && fm < c.s.cfg.FrameMax {
			c.frameMax = fm
		}
		c.heartbeat = time.Duration(hb) * time.Second
		c.state = stateOpen
		return d.err == nil
	case key == keyOpen && c.state == stateOpen:
		corr := d.u32()
		name := d.str()
		if d.err != nil {
			return false
		}
		v := c.s.cfg.Broker.Vhost(name)
		if v == nil || c.user.Vhosts != nil && !slices.Contains(c.user.Vhosts, name) {
			c.log.Info("stream connection: vhost refused", zap.String("vhost", name), zap.String("user", c.user.Name))
			c.send(response(keyOpen, corr, codeVirtualHostAccessFailure).done())
			c.closeQuietly()
			return false
		}
		// rabbitmq (3.11+; 3.10 has a FIXME there): the vhost's and the
		// user's max-connections count stream connections with AMQP ones;
		// past either, open fails with VIRTUAL_HOST_ACCESS_FAILURE.
		if err := v.OpenConnection(c.user.Name); err != nil {
			c.log.Info("stream connection refused", zap.Error(err))
			c.send(response(keyOpen, corr, codeVirtualHostAccessFailure).done())
			c.closeQuietly()
			return false
		}
		if err := c.s.cfg.Broker.OpenUserConnection(c.user.Name); err != nil {
			v.CloseConnection()
			c.log.Info("stream connection refused", zap.Error(err))
			c.send(response(keyOpen, corr, codeVirtualHostAccessFailure).done())
			c.closeQuietly()
			return false
		}
		c.vhost, c.counted = v, true
		c.s.opened.Add(1)
		c.mu.Lock()
		c.mu.vhost = name
		c.mu.opened = true
		c.mu.heartbeat, c.mu.frameMax = int(c.heartbeat/time.Second), c.frameMax
		c.mu.Unlock()
		host, port := c.advertised()
		f := response(keyOpen, corr, codeOK)
		f.u32(2)
		f.str("advertised_host")
		f.str(host)
		f.str("advertised_port")
		f.str(strconv.Itoa(port))
		c.send(f.done())
		c.state = stateOpened
		c.nc.SetReadDeadline(time.Time{})
		if c.heartbeat > 0 {
			c.wg.Add(1)
			go c.heartbeats(c.heartbeat)
		}
		c.log.Debug("stream connection opened", zap.String("user", c.user.Name), zap.String("vhost", name))
		return true
	case key == keyHeartbeat:
		return true
	case key == keyClose:
		corr := d.u32()
		c.send(response(keyClose, corr, codeOK).done())
		c.closeQuietly()
		return false
	}
	c.log.Info("stream connection: frame out of order in the handshake", zap.Uint16("key", key), zap.Int("state", c.state))
	c.closeQuietly()
	return false
}

// mechanisms are the SASL mechanisms offered: PLAIN, and EXTERNAL on a
// TLS connection when the server takes it.
func (c *conn) mechanisms() []string {
	if _, ok := c.nc.(*tls.Conn); ok && c.s.cfg.External != nil {
		return []string{"PLAIN", "EXTERNAL"}
	}
	return []string{"PLAIN"}
}

// advertised is the host and port clients are told to connect to.
func (c *conn) advertised() (string, int) {
	host, port := c.s.cfg.AdvertisedHost, c.s.cfg.AdvertisedPort
	if la, ok := c.nc.LocalAddr().(*net.TCPAddr); ok {
		if host == "" {
			host = la.IP.String()
		}
		if port == 0 {
			port = la.Port
		}
	}
	return host, port
}

// request sends a server request (consumer update); onReply runs on the
// reader goroutine with the reply's fields after its correlation id.
func (c *conn) request(build func(corr uint32) []byte, onReply func(d *decoder)) {
	corr := c.corr.Add(1)
	c.mu.Lock()
	c.mu.pending[corr] = onReply
	c.mu.Unlock()
	c.send(build(corr))
}

func (c *conn) reply(d *decoder) {
	corr := d.u32()
	c.mu.Lock()
	fn := c.mu.pending[corr]
	delete(c.mu.pending, corr)
	c.mu.Unlock()
	if fn != nil {
		fn(d)
	}
}
