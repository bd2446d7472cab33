package cluster

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

// The peer link (doc.go: Wire format): one outbound TCP connection per
// peer, written by that peer's sender goroutine; inbound connections read
// by one goroutine each.

const (
	linkMagic    = "WRNR"
	linkVersion  = 1
	maxFrame     = 256 << 20 // a snapshot of the definitions fits
	maxQueued    = 8192      // messages waiting for one peer; more are dropped (raft resends)
	dialTimeout  = time.Second
	writeTimeout = 5 * time.Second
	// pingInterval: a sender with nothing to send for this long sends an
	// empty frame, so that every node hears from every other (followers
	// exchange no raft messages) and can tell which are running.
	pingInterval = 250 * time.Millisecond
)

// envelope of one raft message on the link: the group it belongs to.
type groupMsg struct {
	group uint64
	msg   *pb.Message
}

// transport sends raft messages to peers and hands those it receives to
// deliver.
type transport struct {
	self uint64
	log  *zap.Logger
	// peers are read and changed by the Raft loop's goroutine only
	// (addPeer when a conf change names a new node), and by start and
	// close, which run when the loop does not.
	peers   map[uint64]*peer
	started bool
	deliver func(groupMsg) bool
	// report tells the Raft loop about a peer it could not reach and the
	// fate of a snapshot sent.
	report func(r report)

	// drop, if set (tests), loses the messages it returns true for, as
	// a broken link would (transport_drop.go).
	drop atomic.Pointer[func(group uint64, m *pb.Message) bool]
	fail atomic.Pointer[func(group uint64, m *pb.Message) bool] // transport_drop.go
	brk  atomic.Pointer[func(to uint64, batch []groupMsg) bool] // transport_drop.go

	wg   sync.WaitGroup
	stop chan struct{}
	mu   struct {
		sync.Mutex
		inbound map[net.Conn]struct{}
		closed  bool
		heard   map[uint64]time.Time // a frame's arrival, by sender
	}
}

type report struct {
	to       uint64
	group    uint64 // of a snapshot message
	snapshot bool   // a snapshot message: ok tells whether it went
	ok       bool
	lost     bool // the inbound link from to ended: probe it (failover.go)
	down     bool // a dial to to was refused: it is down (failover.go)
}

type peer struct {
	t    *transport
	id   uint64
	wake chan struct{}
	mu   struct {
		sync.Mutex
		queue []groupMsg
		addr  string
		probe bool // a probe runs (failover.go)
	}
}

func newTransport(self uint64, peers map[uint64]string, log *zap.Logger, deliver func(groupMsg) bool, report func(report)) *transport {
	t := &transport{self: self, log: log, peers: map[uint64]*peer{}, deliver: deliver, report: report, stop: make(chan struct{})}
	t.mu.inbound = map[net.Conn]struct{}{}
	t.mu.heard = map[uint64]time.Time{}
	for id, addr := range peers {
		t.addPeer(id, addr)
	}
	return t
}

// start runs the senders and accepts on ln.
func (t *transport) start(ln net.Listener) {
	t.started = true
	for _, p := range t.peers {
		t.wg.Add(1)
		go p.run()
	}
	t.wg.Add(1)
	go t.accept(ln)
}

// addPeer makes id reachable at addr (a new member, or a member's new
// address); its sender starts at once if the transport runs. Called by
// the Raft loop's goroutine (or before start).
func (t *transport) addPeer(id uint64, addr string) {
	if id == t.self {
		return
	}
	if p := t.peers[id]; p != nil {
		p.mu.Lock()
		p.mu.addr = addr
		p.mu.Unlock()
		return
	}
	p := &peer{t: t, id: id, wake: make(chan struct{}, 1)}
	p.mu.addr = addr
	t.peers[id] = p
	if t.started {
		t.wg.Add(1)
		go p.run()
	}
}

// heardWithin reports whether a frame (a raft message or a ping) came
// from id within d.
func (t *transport) heardWithin(id uint64, d time.Duration) bool {
	t.mu.Lock()
	at, ok := t.mu.heard[id]
	t.mu.Unlock()
	return ok && time.Since(at) < d
}

// close stops the senders and readers and closes ln; it waits for every
// goroutine of the transport.
func (t *transport) close(ln net.Listener) {
	t.mu.Lock()
	t.mu.closed = true
	for c := range t.mu.inbound {
		c.Close()
	}
	t.mu.Unlock()
	close(t.stop)
	ln.Close()
	t.wg.Wait()
}

// send queues msgs for their peers; it never blocks.
func (t *transport) send(group uint64, msgs []*pb.Message) {
	for _, m := range msgs {
		p := t.peers[m.GetTo()]
		if p == nil || t.dropped(group, m) {
			continue
		}
		if t.failing(group, m) {
			t.failed(p.id, []groupMsg{{group, m}})
			continue
		}
		p.mu.Lock()
		full := len(p.mu.queue) >= maxQueued
		if !full {
			p.mu.queue = append(p.mu.queue, groupMsg{group, m})
		}
		p.mu.Unlock()
		if full {
			t.failed(p.id, []groupMsg{{group, m}})
			continue
		}
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// failed reports messages that did not reach peer id (none: a ping).
func (t *transport) failed(id uint64, msgs []groupMsg) {
	if len(msgs) == 0 {
		return
	}
	t.broke(id, msgs)
}

// broke reports a connection to peer id that failed under a write, with
// the messages of that write: even a ping's failure (no messages) is
// reported, for the frames written before it on that connection, which
// the kernel took and the peer may never have read (a remote consumer's
// deliveries among them: qremote.go feedLinkFailed).
func (t *transport) broke(id uint64, msgs []groupMsg) {
	t.report(report{to: id})
	for _, m := range msgs {
		if m.msg.GetType() == pb.MessageType_MsgSnap {
			t.report(report{to: id, group: m.group, snapshot: true})
		}
	}
}

// run is the peer's sender: it takes the queue whole, writes it as one
// batch and flushes; a connection that fails is dropped with the batch,
// and redialled for the next one (raft retries on its own schedule).
func (p *peer) run() {
	defer p.t.wg.Done()
	var conn net.Conn
	var w *bufio.Writer
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	ping := time.NewTicker(pingInterval)
	defer ping.Stop()
	sent := false // a frame went since the last ping tick
	for {
		pinging := false
		select {
		case <-p.t.stop:
			return
		case <-p.wake:
		case <-ping.C:
			if sent {
				sent = false
				continue
			}
			pinging = true // idle for a whole interval: an empty frame
		}
		p.mu.Lock()
		batch := p.mu.queue
		p.mu.queue = nil
		addr := p.mu.addr
		p.mu.Unlock()
		if len(batch) == 0 && !pinging {
			continue
		}
		sent = true
		if conn == nil {
			c, err := net.DialTimeout("tcp", addr, dialTimeout)
			if err != nil {
				p.t.log.Debug("cluster: peer unreachable", zap.String("addr", addr), zap.Error(err))
				p.dialFailed(err) // failover.go
				p.t.failed(p.id, batch)
				continue
			}
			conn, w = c, bufio.NewWriterSize(c, 64<<10)
			w.WriteString(linkMagic)
			w.WriteByte(linkVersion)
			w.Write(binary.BigEndian.AppendUint64(nil, p.t.self))
		}
		conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		err := p.t.breaking(p.id, batch) // transport_drop.go
		if err == nil {
			err = writeBatch(w, batch)
		}
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			p.t.log.Debug("cluster: peer link failed", zap.String("addr", addr), zap.Error(err))
			conn.Close()
			conn, w = nil, nil
			p.t.broke(p.id, batch)
			continue
		}
		for _, m := range batch {
			if m.msg.GetType() == pb.MessageType_MsgSnap {
				p.t.report(report{to: p.id, group: m.group, snapshot: true, ok: true})
			}
		}
	}
}

// writeBatch writes one frame: length u32 | count uvarint | (group u64 |
// size uvarint | raftpb.Message)*.
func writeBatch(w *bufio.Writer, batch []groupMsg) error {
	body := binary.AppendUvarint(nil, uint64(len(batch)))
	for _, m := range batch {
		raw, err := proto.Marshal(m.msg)
		if err != nil {
			return err
		}
		body = binary.BigEndian.AppendUint64(body, m.group)
		body = binary.AppendUvarint(body, uint64(len(raw)))
		body = append(body, raw...)
	}
	if len(body) > maxFrame {
		return fmt.Errorf("cluster: a batch of %d bytes is over the frame limit", len(body))
	}
	w.Write(binary.BigEndian.AppendUint32(nil, uint32(len(body))))
	_, err := w.Write(body)
	return err
}

func (t *transport) accept(ln net.Listener) {
	defer t.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		t.mu.Lock()
		if t.mu.closed {
			t.mu.Unlock()
			c.Close()
			return
		}
		t.mu.inbound[c] = struct{}{}
		t.mu.Unlock()
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			from, err := t.read(c)
			if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				t.log.Debug("cluster: inbound peer link closed", zap.Stringer("remote", c.RemoteAddr()), zap.Error(err))
			}
			c.Close()
			t.mu.Lock()
			delete(t.mu.inbound, c)
			closed := t.mu.closed
			t.mu.Unlock()
			if !closed && !errors.Is(err, net.ErrClosed) {
				t.linkLost(from) // failover.go
			}
		}()
	}
}

// read reads one inbound connection: the hello, then batches.
func (t *transport) read(c net.Conn) (from uint64, err error) {
	r := bufio.NewReaderSize(c, 64<<10)
	var hello [len(linkMagic) + 1 + 8]byte
	if _, err := io.ReadFull(r, hello[:]); err != nil {
		return 0, err
	}
	if string(hello[:4]) != linkMagic || hello[4] != linkVersion {
		return 0, fmt.Errorf("cluster: not a Warren peer link (or version %d)", hello[4])
	}
	from = binary.BigEndian.Uint64(hello[5:])
	var lenb [4]byte
	for {
		if _, err := io.ReadFull(r, lenb[:]); err != nil {
			return from, err
		}
		n := binary.BigEndian.Uint32(lenb[:])
		if n > maxFrame {
			return from, fmt.Errorf("cluster: a frame of %d bytes is over the limit", n)
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return from, err
		}
		msgs, err := decodeBatch(body)
		if err != nil {
			return from, err
		}
		t.mu.Lock()
		t.mu.heard[from] = time.Now()
		t.mu.Unlock()
		for _, m := range msgs {
			if !t.deliver(m) {
				return from, net.ErrClosed
			}
		}
	}
}

func decodeBatch(b []byte) ([]groupMsg, error) {
	count, k := binary.Uvarint(b)
	if k <= 0 || count > uint64(len(b)) {
		return nil, errors.New("cluster: bad batch count")
	}
	b = b[k:]
	out := make([]groupMsg, 0, count)
	for range count {
		if len(b) < 8 {
			return nil, errors.New("cluster: truncated batch")
		}
		group := binary.BigEndian.Uint64(b)
		b = b[8:]
		size, k := binary.Uvarint(b)
		if k <= 0 || size > uint64(len(b)-k) {
			return nil, errors.New("cluster: truncated message")
		}
		m := &pb.Message{}
		if err := proto.Unmarshal(b[k:k+int(size)], m); err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		b = b[k+int(size):]
		out = append(out, groupMsg{group, m})
	}
	if len(b) != 0 {
		return nil, errors.New("cluster: trailing bytes in a batch")
	}
	return out, nil
}
