package chaos

import (
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// LinkState is what a Proxy does to the bytes of its link.
type LinkState struct {
	Cut   bool          // no connection: open ones are closed, new ones closed at accept
	Delay time.Duration // every chunk is held this long before it is forwarded
	// Drop is the probability, per chunk forwarded, that the connection is
	// reset instead (the chunk and everything after it on that connection
	// lost; the sender reconnects).
	Drop float64
}

// Proxy is the fault-injecting TCP proxy of one directed peer link a->b:
// node a dials Addr() for b, and the proxy dials b's current address.
// The peer link carries traffic in one direction only (a's messages to
// b), so cutting the proxy of a->b cuts that direction alone.
type Proxy struct {
	ln   net.Listener
	rng  func() float64
	wg   sync.WaitGroup
	quit chan struct{}
	mu   struct {
		sync.Mutex
		target string // "" while b is down
		state  LinkState
		conns  map[net.Conn]struct{}
		closed bool
	}
}

// NewProxy listens on a loopback port for a link to target; seed drives
// its drop decisions.
func NewProxy(target string, seed uint64) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var rmu sync.Mutex
	p := &Proxy{ln: ln, quit: make(chan struct{}), rng: func() float64 {
		rmu.Lock()
		defer rmu.Unlock()
		return r.Float64()
	}}
	p.mu.target = target
	p.mu.conns = map[net.Conn]struct{}{}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address the link's sender dials.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetTarget points the proxy at b's address (after a restart on a new
// port); connections to the old address are closed.
func (p *Proxy) SetTarget(addr string) {
	p.mu.Lock()
	changed := p.mu.target != addr
	p.mu.target = addr
	p.mu.Unlock()
	if changed {
		p.closeConns()
	}
}

// Set changes the link's state; a cut closes the open connections.
func (p *Proxy) Set(s LinkState) {
	p.mu.Lock()
	p.mu.state = s
	p.mu.Unlock()
	if s.Cut {
		p.closeConns()
	}
}

// State is the link's state.
func (p *Proxy) State() LinkState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.state
}

// Heal clears every fault.
func (p *Proxy) Heal() { p.Set(LinkState{}) }

// Close stops the proxy and waits for its goroutines; again, it does
// nothing.
func (p *Proxy) Close() {
	p.mu.Lock()
	was := p.mu.closed
	p.mu.closed = true
	p.mu.Unlock()
	if was {
		return
	}
	close(p.quit)
	p.ln.Close()
	p.closeConns()
	p.wg.Wait()
}

func (p *Proxy) closeConns() {
	p.mu.Lock()
	conns := make([]net.Conn, 0, len(p.mu.conns))
	for c := range p.mu.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// track registers c; false when the proxy is closed (c is then closed).
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.closed {
		c.Close()
		return false
	}
	p.mu.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.mu.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		target, cut := p.mu.target, p.mu.state.Cut
		p.mu.Unlock()
		if cut || target == "" {
			c.Close()
			continue
		}
		p.wg.Add(1)
		go p.serve(c, target)
	}
}

// serve forwards one connection both ways until either side closes, the
// link is cut or a drop strikes.
func (p *Proxy) serve(in net.Conn, target string) {
	defer p.wg.Done()
	if !p.track(in) {
		return
	}
	defer p.untrack(in)
	out, err := net.DialTimeout("tcp", target, time.Second)
	if err != nil {
		return
	}
	if !p.track(out) {
		return
	}
	defer p.untrack(out)
	done := make(chan struct{}, 2)
	go func() { p.pipe(out, in); done <- struct{}{} }()
	go func() { p.pipe(in, out); done <- struct{}{} }()
	<-done
	in.Close()
	out.Close()
	<-done
}

type chunk struct {
	at   time.Time
	data []byte
}

// pipe copies src to dst chunk by chunk, each held for the link's delay
// (the delay read when the chunk arrived) in a queue of its own, so a
// delayed link keeps its bytes in order and its throughput.
func (p *Proxy) pipe(dst, src net.Conn) {
	q := make(chan chunk, 1024)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{time.Now(), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		src.Close()
		for range q { // let the reader finish
		}
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for c := range q {
		st := p.State()
		if st.Cut {
			return
		}
		if wait := time.Until(c.at.Add(st.Delay)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-p.quit:
				return
			}
		}
		if st.Drop > 0 && p.rng() < st.Drop {
			if tc, ok := dst.(*net.TCPConn); ok {
				tc.SetLinger(0) // a reset, as a lossy link gives up
			}
			return
		}
		if _, err := dst.Write(c.data); err != nil {
			return
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}
