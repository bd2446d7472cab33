package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/amqp/rawsock"
	"github.com/warrenmq/warren/queue"
)

// conn is one client connection. The reader goroutine (serve) owns the
// protocol state: the handshake, the channel table and every channel's
// reader-side state. The writer goroutine owns the socket's write side.
type conn struct {
	srv *Server
	nc  net.Conn
	id  uint64
	log *zap.Logger
	out *outbound

	br *bufio.Reader
	fr *amqp.FrameReader
	// readTimeout is applied before every read: the handshake timeout, then
	// two heartbeat intervals (0: none).
	readTimeout atomic.Int64
	// handshakeDeadline, while the handshake runs, bounds every read: the
	// handshake timeout counts from the connection's start, so a client
	// that sends a byte at a time cannot hold it open (the reader's own).
	handshakeDeadline time.Time
	// ackCheck asks the reader to check acknowledgement timeouts (see
	// wakeReader).
	ackCheck atomic.Bool

	frameMax        uint32
	channelMax      uint16
	heartbeat       uint16
	user            string
	vhost           *vhost
	capCancelNotify bool
	capBlocked      bool // the client takes connection.blocked (alarm.go)
	published       bool // a basic.publish was read: blocked under an alarm
	readSinceCheck  int  // bytes read since this reader's last memory check (alarm.go)
	blockedSent     bool // connection.blocked went out, unblocked is due
	blocked         atomic.Bool
	blockWake       chan struct{} // wakes a reader held by an alarm
	// capAuthFailureClose: the client wants connection.close on a failed login.
	capAuthFailureClose bool
	closedByClient      bool  // the client sent connection.close
	uncounted           bool  // the vhost no longer counts the connection (teardown)
	impersonator        bool  // the user may publish with another's user_id
	heartbeatNanos      int64 // set once tuning completes; the writer reads it atomically

	channels  map[uint16]*channel
	exclusive map[*queue.Queue]struct{} // exclusive queues this connection owns
	closing   atomic.Bool               // connection.close sent, awaiting close-ok

	consumersMu sync.Mutex
	consumers   map[*consumer]struct{} // every consumer, for waking after backpressure

	flushMu      sync.Mutex
	flushPending []*confirmTracker // trackers the writer is to flush

	writerDone chan struct{}

	// rsock is the socket for the reader's raw reads, wsock for inline
	// writes by whoever holds out.mu.writing (amqp/rawsock; nil when the
	// connection is not a plain TCP socket: reads go through nc, and
	// inline writes are off). deferred are the connections whose output
	// this reader's deliveries left for it to write before it blocks
	// (inline.go); deferred is the reader's own.
	rsock, wsock *rawsock.Sock
	deferred     []*conn

	dirtyStats []*exStats // publish counters to flush (stats.go), the reader's
	pruneStats []*channel // channels with queue counters to prune, the reader's

	reg registry // for listings and CloseConnection (registry.go)
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{
		srv:        s,
		nc:         nc,
		id:         s.nextConnID.Add(1),
		out:        newOutbound(s.cfg.MaxOutboundBytes),
		channels:   map[uint16]*channel{},
		exclusive:  map[*queue.Queue]struct{}{},
		consumers:  map[*consumer]struct{}{},
		writerDone: make(chan struct{}),
		blockWake:  make(chan struct{}, 1),
		frameMax:   amqp.FrameMinSize,
	}
	c.reg.init(c)
	c.rsock, c.wsock = rawsock.Of(nc), rawsock.Of(nc)
	c.log = s.log.With(zap.Uint64("conn", c.id), zap.String("peer", nc.RemoteAddr().String()))
	c.br = bufio.NewReaderSize(deadlineReader{c}, smallReadBuf)
	c.fr = amqp.NewFrameReader(c.br, amqp.FrameMinSize)
	c.fr.BodyDst = c.bodyDst
	c.fr.Direct = deadlineReader{c} // large body frames skip the bufio copy
	return c
}

// deadlineReader sets the read deadline before each read of the socket.
type deadlineReader struct{ c *conn }

func (r deadlineReader) Read(p []byte) (int, error) {
	// The reader may block on the socket now, even with part of a frame
	// buffered: first write out what its deliveries left (inline.go).
	r.c.Flush()
	n, err := r.c.read(p)
	r.c.reg.bytesIn.Add(uint64(n))
	return n, err
}

// errClosed ends the reader loop after a clean close.
var errClosed = errors.New("connection closed")

func (c *conn) serve() {
	defer c.srv.removeConn(c)
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic in connection; closing it", zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
			c.teardown()
			c.nc.Close()
		}
	}()
	go c.writeLoop()
	c.readTimeout.Store(int64(c.srv.cfg.HandshakeTimeout))
	c.handshakeDeadline = time.Now().Add(c.srv.cfg.HandshakeTimeout)
	err := c.tlsHandshake() // auth_external.go; none on a plain connection
	if err == nil {
		err = c.handshake()
	}
	c.handshakeDeadline = time.Time{}
	if err != nil {
		var he *handshakeError
		if errors.As(err, &he) {
			c.log.Info(he.msg, zap.String("reason", he.reason))
		} else {
			c.log.Debug("handshake failed", zap.Error(err))
		}
		c.finish()
		return
	}
	c.log.Info("connection opened", zap.String("user", c.user), zap.String("vhost", c.vhost.name))
	err = c.readLoop()
	c.finish()
	if err != nil && !errors.Is(err, errClosed) {
		c.log.Info("connection closed", zap.String("user", c.user), zap.Error(err))
	} else {
		c.log.Info("connection closed", zap.String("user", c.user))
	}
}

// finish releases everything the connection holds, lets the writer flush
// what is queued, and closes the socket.
func (c *conn) finish() {
	c.Flush() // what this reader delivered to others
	c.teardown()
	c.out.close()
	select {
	case <-c.writerDone:
	case <-time.After(5 * time.Second):
	}
	if c.closedByClient {
		// Let the client close the socket first after reading close-ok, so
		// that it never sees an EOF before it.
		c.nc.SetReadDeadline(time.Now().Add(time.Second))
		io.Copy(io.Discard, c.nc)
	}
	c.nc.Close()
}

// teardown closes every channel (requeueing unacknowledged messages) and
// deletes the exclusive queues. It runs once, on the reader goroutine.
func (c *conn) teardown() {
	for id, ch := range c.channels {
		ch.release()
		delete(c.channels, id)
	}
	if c.vhost != nil {
		for q := range c.exclusive {
			c.vhost.deleteQueue(q, false, false)
		}
		if !c.uncounted {
			c.uncounted = true
			c.vhost.core.CloseConnection()
			c.srv.core.CloseUserConnection(c.user)
		}
	}
	c.exclusive = nil
}

// writeLoop is the writer goroutine. With heartbeats it checks four times
// an interval and sends a heartbeat when nothing went out for about half
// an interval: an idle connection sees one every half interval, and no
// gap between frames exceeds 5/8 of an interval, so a client may read
// with the interval as its timeout. A busy connection gets none, and the
// write path pays no timer, only the time it already reads per batch.
func (c *conn) writeLoop() {
	defer close(c.writerDone)
	var tick <-chan time.Time
	var silent time.Duration // a heartbeat is due after this long without a write
	var last time.Time       // when the last bytes went out
	var prevTick time.Time
	var lastOut uint64 // bytes out at the previous check
	for {
		select {
		case <-c.out.wake:
		case now := <-tick:
			// Inline writes (inline.go) show only in the byte count: they
			// went out after the previous check, so count them from it.
			if out := c.reg.bytesOut.Load(); out != lastOut {
				lastOut = out
				if last.Before(prevTick) {
					last = prevTick
				}
			}
			prevTick = now
			// rabbitmq: a heartbeat when nothing was sent for half an
			// interval. The threshold is half a check early, so that the
			// heartbeat of one check (written a little after it) does not
			// push the next one back a whole check.
			if now.Sub(last) < silent {
				continue
			}
			c.out.mu.Lock()
			idle := c.out.pendingLocked() == 0 // else a wake is pending
			if idle {
				c.out.mu.buf = amqp.AppendHeartbeat(c.out.mu.buf)
			}
			c.out.mu.Unlock()
			if !idle {
				continue
			}
		}
		c.flushRequestedConfirms()
		if tick == nil && c.heartbeatInterval() > 0 {
			hb := c.heartbeatInterval()
			silent = hb/2 - hb/8
			ticker := time.NewTicker(hb / 4)
			defer ticker.Stop()
			tick = ticker.C
		}
		batch, segs, closed, busy := c.out.take()
		if busy {
			continue // an inline flush is writing; it wakes the writer after
		}
		if carry := c.out.carry; carry != nil {
			c.out.carry = nil
			c.nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if _, err := c.nc.Write(carry); err != nil {
				c.out.close()
				c.nc.Close() // wake the reader
				c.kickBlocked()
				return
			}
			c.reg.bytesOut.Add(uint64(len(carry)))
		}
		if len(batch) > 0 || segs != nil {
			n := batchLen(batch, segs)
			c.nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if err := writeTo(c.nc, batch, segs); err != nil {
				c.out.close()
				c.nc.Close() // wake the reader
				c.kickBlocked()
				return
			}
			c.reg.bytesOut.Add(n)
			last = time.Now()
		}
		if unblocked, _ := c.out.done(batch, segs, false); unblocked {
			c.wakeConsumers()
		}
		if closed {
			return
		}
	}
}

func (c *conn) heartbeatInterval() time.Duration {
	return time.Duration(atomic.LoadInt64(&c.heartbeatNanos))
}

// send appends one method frame on channel ch.
func (c *conn) send(ch uint16, m amqp.Method) {
	c.out.write(func(b []byte) []byte { return appendMethod(c, b, ch, m) })
}

func appendMethod(c *conn, b []byte, ch uint16, m amqp.Method) []byte {
	b, err := amqp.AppendMethodFrame(b, ch, m)
	if err != nil {
		c.log.Error("cannot encode method", zap.Stringer("method", m), zap.Error(err))
	}
	return b
}

// forceClose is Shutdown's request: send connection.close and let the
// reader finish when the client answers (or the socket closes).
func (c *conn) forceClose(e *amqp.Error) {
	if c.closing.Swap(true) {
		return
	}
	c.send(0, &amqp.ConnectionClose{ReplyCode: e.Code, ReplyText: replyText(e.Text)})
	c.readTimeout.Store(int64(3 * time.Second))
	c.nc.SetReadDeadline(time.Now().Add(3 * time.Second))
	c.kickBlocked()
}

// closeWith sends connection.close for a hard error and waits for close-ok.
func (c *conn) closeWith(e *amqp.Error) error {
	if !c.closing.Swap(true) {
		c.log.Warn("closing connection on error", zap.Uint16("code", uint16(e.Code)), zap.String("text", e.Text))
		c.send(0, &amqp.ConnectionClose{ReplyCode: e.Code, ReplyText: replyText(e.Text), ClassID: e.ClassID, MethodID: e.MethodID})
	}
	// spec 0-9-1 connection.close: after sending close, discard frames until close-ok.
	c.handshakeDeadline = time.Time{} // a close in the handshake waits as long as any
	c.readTimeout.Store(int64(3 * time.Second))
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			var ae *amqp.Error
			if errors.As(err, &ae) {
				// Malformed input: read what the client sent after it (up
				// to 1 MiB, until it pauses for 100 ms), so that closing
				// the socket with bytes unread does not reset it before
				// the client reads our close.
				c.readTimeout.Store(int64(100 * time.Millisecond))
				io.CopyN(io.Discard, c.br, 1<<20)
			}
			return errClosed
		}
		if f.Type == amqp.FrameMethod && f.Channel == 0 {
			m, err := amqp.DecodeMethod(f.Payload)
			if err != nil {
				continue
			}
			switch m.(type) {
			case *amqp.ConnectionCloseOk:
				return errClosed
			case *amqp.ConnectionClose:
				c.send(0, &amqp.ConnectionCloseOk{})
				return errClosed
			}
		}
	}
}

// handshakeError is a handshake failure that the log reports at info
// level, with the peer: a rejected protocol header or a silent client.
// Other failures (a client gone, a refused login) are logged as they are.
type handshakeError struct {
	msg    string // the log message
	reason string
}

func (e *handshakeError) Error() string { return e.msg + ": " + e.reason }

// handshakeReadError names a timeout while the handshake waited for
// what (a method name or "protocol header").
func (c *conn) handshakeReadError(what string, err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return &handshakeError{msg: "handshake timed out", reason: fmt.Sprintf("no %s within %v", what, c.srv.cfg.HandshakeTimeout)}
	}
	return err
}

// headerRejection says why a protocol header h was rejected, with a hint
// at the common mistakes.
func headerRejection(h []byte) string {
	hint := ""
	switch s := string(h); {
	case strings.HasPrefix(s, "AMQP"):
		hint = ": another AMQP version"
	case strings.HasPrefix(s, "HTTP/"), strings.HasPrefix(s, "GET "), strings.HasPrefix(s, "POST "),
		strings.HasPrefix(s, "PUT "), strings.HasPrefix(s, "HEAD "), strings.HasPrefix(s, "OPTIONS "):
		hint = ": HTTP, on the AMQP port"
	case h[0] == 0x16 && h[1] == 0x03:
		hint = ": a TLS handshake, on a plain AMQP port"
	}
	return fmt.Sprintf("got %q, want AMQP 0-9-1's %q%s", h, amqp.ProtocolHeader, hint)
}

func (c *conn) handshake() error {
	h, err := c.br.Peek(len(amqp.ProtocolHeader))
	if err != nil {
		return c.handshakeReadError("protocol header", err)
	}
	if string(h) != amqp.ProtocolHeader {
		// spec 0-9-1 section 4.2.2: answer a bad header with ours, then close.
		c.out.write(func(b []byte) []byte { return append(b, amqp.ProtocolHeader...) })
		return &handshakeError{msg: "protocol header rejected", reason: headerRejection(h)}
	}
	c.br.Discard(len(h))
	cfg := &c.srv.cfg
	// Encoded once per server: the same for every connection, and its
	// nested tables would grow every reader goroutine's stack.
	start := c.srv.startFrameFor(c) // with EXTERNAL on TLS (auth_external.go)
	c.out.write(func(b []byte) []byte { return append(b, start...) })
	startOk, err := readHandshakeMethod[*amqp.ConnectionStartOk](c)
	if err != nil {
		return err
	}
	if caps, ok := startOk.ClientProperties["capabilities"].(amqp.Table); ok {
		c.capCancelNotify, _ = caps["consumer_cancel_notify"].(bool)
		c.capAuthFailureClose, _ = caps["authentication_failure_close"].(bool)
		c.capBlocked, _ = caps["connection.blocked"].(bool)
	}
	var user, pass string
	external := startOk.Mechanism == "EXTERNAL"
	if external {
		user, err = c.externalUser() // the certificate's name, no password
	} else {
		user, pass, err = parseCredentials(startOk.Mechanism, startOk.Response)
	}
	if err != nil {
		return c.refuse(amqp.Errorf(amqp.AccessRefused, "Login was refused using authentication mechanism %s. For details see the broker logfile.", startOk.Mechanism), err)
	}
	u, ok := c.srv.core.User(user)
	if !ok || !external && !u.CheckPassword(pass) {
		return c.refuse(amqp.Errorf(amqp.AccessRefused, "Login was refused using authentication mechanism %s. For details see the broker logfile.", startOk.Mechanism),
			fmt.Errorf("user '%s': invalid credentials", user))
	}
	for _, lu := range cfg.LoopbackUsers {
		if lu == user && !isLoopback(c.nc.RemoteAddr()) {
			return c.refuse(amqp.Errorf(amqp.AccessRefused, "Login was refused using authentication mechanism %s. For details see the broker logfile.", startOk.Mechanism),
				fmt.Errorf("user '%s' can only connect via localhost", user))
		}
	}
	c.user = user
	c.impersonator = u.HasTag("impersonator")

	c.send(0, &amqp.ConnectionTune{ChannelMax: cfg.ChannelMax, FrameMax: cfg.FrameMax, Heartbeat: cfg.Heartbeat})
	tuneOk, err := readHandshakeMethod[*amqp.ConnectionTuneOk](c)
	if err != nil {
		return err
	}
	// spec 0-9-1 connection.tune-ok: the client may lower each value; 0 means no limit.
	c.channelMax = cfg.ChannelMax
	if tuneOk.ChannelMax != 0 && tuneOk.ChannelMax < c.channelMax {
		c.channelMax = tuneOk.ChannelMax
	}
	switch fm := tuneOk.FrameMax; {
	case fm != 0 && fm < amqp.FrameMinSize:
		return c.closeWith(amqp.Errorf(amqp.NotAllowed, "frame_max=%d < %d min size", fm, amqp.FrameMinSize))
	case fm != 0 && fm > cfg.FrameMax:
		return c.closeWith(amqp.Errorf(amqp.NotAllowed, "frame_max=%d > %d max size", fm, cfg.FrameMax))
	case fm == 0:
		c.frameMax = cfg.FrameMax
	default:
		c.frameMax = fm
	}
	c.fr.SetFrameMax(c.frameMax)
	c.heartbeat = tuneOk.Heartbeat
	atomic.StoreInt64(&c.heartbeatNanos, int64(time.Duration(c.heartbeat)*time.Second))

	open, err := readHandshakeMethod[*amqp.ConnectionOpen](c)
	if err != nil {
		return err
	}
	v := c.srv.vhost(open.VirtualHost)
	if v == nil {
		return c.closeWith(amqp.Errorf(amqp.NotAllowed, "vhost %s not found", open.VirtualHost))
	}
	// rabbitmq: a user with no permissions in the vhost may not open it.
	if _, ok := c.srv.core.Permission(open.VirtualHost, user); !ok {
		return c.closeWith(amqp.Errorf(amqp.NotAllowed, "access to vhost '%s' refused for user '%s'", open.VirtualHost, user))
	}
	if err := v.core.OpenConnection(user); err != nil {
		return c.closeWith(err.(*amqp.Error))
	}
	if err := c.srv.core.OpenUserConnection(user); err != nil {
		v.core.CloseConnection()
		return c.closeWith(err.(*amqp.Error))
	}
	c.vhost = v
	c.opened(startOk.ClientProperties)
	c.send(0, &amqp.ConnectionOpenOk{})
	// rabbitmq: a peer silent for two heartbeat intervals is disconnected.
	c.readTimeout.Store(int64(2 * time.Duration(c.heartbeat) * time.Second))
	c.out.signal() // let the writer start its heartbeat ticker
	return nil
}

// refuse closes the connection during the handshake with ACCESS_REFUSED,
// as RabbitMQ does when the client has authentication_failure_close.
func (c *conn) refuse(e *amqp.Error, cause error) error {
	c.log.Warn("login refused", zap.Error(cause))
	// rabbitmq: without authentication_failure_close the socket just closes.
	if c.capAuthFailureClose {
		c.closeWith(e)
	}
	return cause
}

// readHandshakeMethod reads the next frame and requires the method M on
// channel 0.
func readHandshakeMethod[M amqp.Method](c *conn) (M, error) {
	var zero M
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			var ae *amqp.Error
			if errors.As(err, &ae) {
				return zero, c.closeWith(ae)
			}
			return zero, c.handshakeReadError(zero.Name(), err)
		}
		if f.Type == amqp.FrameHeartbeat {
			continue
		}
		if f.Type != amqp.FrameMethod || f.Channel != 0 {
			return zero, c.closeWith(amqp.Errorf(amqp.CommandInvalid, "unexpected frame type %d on channel %d during the handshake", f.Type, f.Channel))
		}
		m, err := amqp.DecodeMethod(f.Payload)
		if err != nil {
			var ae *amqp.Error
			errors.As(err, &ae)
			return zero, c.closeWith(ae)
		}
		if cl, ok := m.(*amqp.ConnectionClose); ok {
			c.send(0, &amqp.ConnectionCloseOk{})
			return zero, fmt.Errorf("client closed during handshake: %d %s", cl.ReplyCode, cl.ReplyText)
		}
		mm, ok := m.(M)
		if !ok {
			return zero, c.closeWith(amqp.Errorf(amqp.CommandInvalid, "expected %s, got %s", zero.Name(), m.Name()).On(m.ID()))
		}
		return mm, nil
	}
}

// A connection reads through a small buffer until it has shown some
// traffic (busyFrames frames), then through a large one: an idle
// connection costs 512 bytes there instead of 64 KiB (which the runtime
// zeroes, so makes resident, whenever it reuses freed memory).
const (
	smallReadBuf = 512
	bigReadBuf   = 64 << 10
	busyFrames   = 64
)

// growReadBuffer replaces the small read buffer with a large one in place
// (the frame reader holds c.br), carrying over what is buffered.
func (c *conn) growReadBuffer() {
	rest := make([]byte, c.br.Buffered())
	io.ReadFull(c.br, rest) // from the buffer: no read from the socket
	pr := &prefixReader{rest: rest, r: deadlineReader{c}}
	*c.br = *bufio.NewReaderSize(pr, bigReadBuf)
	c.fr.Direct = pr
}

// prefixReader reads rest, then from r.
type prefixReader struct {
	rest []byte
	r    io.Reader
}

func (p *prefixReader) Read(b []byte) (int, error) {
	if len(p.rest) > 0 {
		n := copy(b, p.rest)
		p.rest = p.rest[n:]
		return n, nil
	}
	return p.r.Read(b)
}

func (c *conn) readLoop() error {
	frames := 0
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			var ae *amqp.Error
			if errors.As(err, &ae) {
				return c.closeWith(ae)
			}
			if c.closing.Load() {
				return errClosed
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return fmt.Errorf("missed heartbeats from client, timeout: %ds", c.heartbeat*2)
			}
			if err == io.EOF {
				return fmt.Errorf("client closed the TCP connection without connection.close")
			}
			return err
		}
		if err := c.handleFrame(f); err != nil {
			var ae *amqp.Error
			if errors.As(err, &ae) {
				return c.closeWith(ae)
			}
			return err
		}
		if frames++; frames == busyFrames {
			c.growReadBuffer()
		}
		if c.br.Buffered() == 0 {
			// About to block on the socket: publish the counters for
			// readers, and acknowledge confirms in one go (written out,
			// with the deliveries, before the read: Flush).
			if len(c.dirtyStats) > 0 {
				c.flushStats()
			}
			if len(c.pruneStats) > 0 {
				c.pruneQueueStats()
			}
			c.flushConfirms()
		}
	}
}

// bodyDst is where a body frame's payload is read: straight into the
// message being published on channel chID when it expects that much body
// (the copy from the frame buffer is saved); nil otherwise, and
// contentBody then copies, or reports the overflow.
func (c *conn) bodyDst(chID uint16, size int) []byte {
	if chID == 0 || c.closing.Load() {
		return nil
	}
	ch := c.channels[chID]
	if ch == nil || ch.pubState != pubBody {
		return nil
	}
	b := ch.pubBody
	if n := len(b); size > 0 && n+size <= cap(b) {
		return b[n : n+size]
	}
	return nil
}

func (c *conn) handleFrame(f amqp.Frame) error {
	if f.Type == amqp.FrameHeartbeat {
		if f.Channel != 0 {
			return amqp.Errorf(amqp.FrameError, "heartbeat frame on channel %d", f.Channel)
		}
		return nil
	}
	if f.Channel == 0 {
		if f.Type != amqp.FrameMethod {
			return amqp.Errorf(amqp.CommandInvalid, "unexpected frame type %d on channel 0", f.Type)
		}
		m, err := amqp.DecodeMethod(f.Payload)
		if err != nil {
			return err
		}
		return c.handleConnectionMethod(m)
	}
	if c.closing.Load() {
		return nil // discard everything until close-ok
	}
	ch := c.channels[f.Channel]
	if ch == nil {
		return c.handleNewChannel(f)
	}
	return ch.handleFrame(f)
}

func (c *conn) handleConnectionMethod(m amqp.Method) error {
	switch m := m.(type) {
	case *amqp.ConnectionClose:
		c.send(0, &amqp.ConnectionCloseOk{})
		c.closedByClient = true
		return errClosed
	case *amqp.ConnectionCloseOk:
		if c.closing.Load() {
			return errClosed
		}
		return amqp.Errorf(amqp.CommandInvalid, "unexpected connection.close-ok").On(m.ID())
	case *amqp.ConnectionBlocked, *amqp.ConnectionUnblocked:
		return nil
	case *amqp.ConnectionUpdateSecret:
		c.send(0, &amqp.ConnectionUpdateSecretOk{})
		return nil
	}
	return amqp.Errorf(amqp.CommandInvalid, "unexpected method %s on channel 0", m.Name()).On(m.ID())
}

func (c *conn) handleNewChannel(f amqp.Frame) error {
	if f.Type != amqp.FrameMethod {
		return amqp.Errorf(amqp.ChannelError, "expected 'channel.open'")
	}
	m, err := amqp.DecodeMethod(f.Payload)
	if err != nil {
		return err
	}
	if _, ok := m.(*amqp.ChannelOpen); !ok {
		return amqp.Errorf(amqp.ChannelError, "expected 'channel.open'").On(m.ID())
	}
	if f.Channel > c.channelMax || len(c.channels) >= int(c.channelMax) {
		return amqp.Errorf(amqp.NotAllowed, "number of channels opened (%d) has reached the negotiated channel_max (%d)", len(c.channels), c.channelMax).On(m.ID())
	}
	// rabbitmq: a user's max-channels counts over all its connections; past
	// it the connection is closed (530).
	if err := c.srv.core.OpenUserChannel(c.user); err != nil {
		return err.(*amqp.Error).On(m.ID())
	}
	ch := newChannel(c, f.Channel)
	c.channels[f.Channel] = ch
	c.registerChannel(ch)
	c.srv.stats.chansOpened.Add(1)
	c.send(f.Channel, &amqp.ChannelOpenOk{})
	return nil
}

func (c *conn) flushConfirms() {
	for _, ch := range c.channels {
		if ch.confirmDirty {
			ch.flushConfirms()
		}
	}
}

// requestConfirmFlush asks the writer to send t's ready confirms.
func (c *conn) requestConfirmFlush(t *confirmTracker) {
	c.flushMu.Lock()
	if !slices.Contains(c.flushPending, t) {
		c.flushPending = append(c.flushPending, t)
	}
	c.flushMu.Unlock()
	c.out.signal()
}

func (c *conn) flushRequestedConfirms() {
	c.flushMu.Lock()
	ts := c.flushPending
	c.flushPending = nil
	c.flushMu.Unlock()
	for _, t := range ts {
		t.flush()
	}
}

func (c *conn) addConsumer(cs *consumer) {
	c.consumersMu.Lock()
	c.consumers[cs] = struct{}{}
	c.consumersMu.Unlock()
}

func (c *conn) removeConsumer(cs *consumer) {
	c.consumersMu.Lock()
	delete(c.consumers, cs)
	c.consumersMu.Unlock()
}

// wakeConsumers asks the queues of every consumer to deliver again, after
// the connection's output drained below its cap.
func (c *conn) wakeConsumers() {
	c.consumersMu.Lock()
	qs := make([]*queue.Queue, 0, len(c.consumers))
	for cs := range c.consumers {
		qs = append(qs, cs.q)
	}
	c.consumersMu.Unlock()
	for _, q := range qs {
		q.Dispatch()
	}
}
