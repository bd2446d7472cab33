package server

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// Admission at accept, before any AMQP is spoken: a global cap on
// connections (Config.MaxConnections, rabbitmq's connection_max) and a
// rate of new connections per source address (Config.HandshakeRate, a
// token bucket of HandshakeBurst), so that a flood of connections from
// one address cannot starve the clients already logged in of handshake
// work. A refused connection is closed at once and logged.

// admission holds the token buckets of the source addresses.
type admission struct {
	mu struct {
		sync.Mutex
		buckets map[netip.Addr]*bucket
		pruned  time.Time
	}
}

type bucket struct {
	tokens float64
	at     time.Time
}

// admitConn reports why nc is refused, or "" to accept it. Called by the
// accept loop only.
func (s *Server) admitConn(nc net.Conn) string {
	if max := s.cfg.MaxConnections; max > 0 {
		s.mu.Lock()
		n := len(s.mu.conns)
		s.mu.Unlock()
		if n >= max {
			return "the connection limit is reached"
		}
	}
	rate := s.cfg.HandshakeRate
	if rate <= 0 {
		return ""
	}
	ap, err := netip.ParseAddrPort(nc.RemoteAddr().String())
	if err != nil {
		return ""
	}
	return s.adm.take(ap.Addr().Unmap(), rate, float64(max(s.cfg.HandshakeBurst, 1)), time.Now())
}

// take spends a token of addr's bucket, refilled at rate per second up to
// burst.
func (a *admission) take(addr netip.Addr, rate, burst float64, now time.Time) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mu.buckets == nil {
		a.mu.buckets = map[netip.Addr]*bucket{}
	}
	if len(a.mu.buckets) > 4096 && now.Sub(a.mu.pruned) > time.Second {
		// Full buckets are as good as none: forget them.
		a.mu.pruned = now
		for k, b := range a.mu.buckets {
			if b.tokens+now.Sub(b.at).Seconds()*rate >= burst {
				delete(a.mu.buckets, k)
			}
		}
	}
	b := a.mu.buckets[addr]
	if b == nil {
		b = &bucket{tokens: burst, at: now}
		a.mu.buckets[addr] = b
	}
	b.tokens = min(burst, b.tokens+now.Sub(b.at).Seconds()*rate)
	b.at = now
	if b.tokens < 1 {
		return "too many new connections from " + addr.String()
	}
	b.tokens--
	return ""
}
