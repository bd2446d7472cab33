package server

import "fmt"

// BudgetUsed is what the memory budget counts now (0 without a store),
// for the tests of package server_test.
func (s *Server) BudgetUsed() int64 {
	return s.core.BudgetUsed()
}

// InlineWrites sums, over the open connections, the writes made inline by
// a publishing reader (inline.go) and those the socket took only in part.
func (s *Server) InlineWrites() (whole, short uint64) {
	for _, c := range s.conns() {
		c.out.mu.Lock()
		whole += c.out.mu.inlined
		short += c.out.mu.inlinedShort
		c.out.mu.Unlock()
	}
	return whole, short
}

// DebugOutbounds describes every connection's output state (debugging).
func (s *Server) DebugOutbounds() string {
	out := ""
	for _, c := range s.conns() {
		c.out.mu.Lock()
		out += fmt.Sprintf("conn %d: pending %d writing %v deferred %v carrying %v full %v closed %v segs %d\n", c.id, c.out.pendingLocked(), c.out.mu.writing, c.out.mu.deferred, c.out.mu.carrying, c.out.mu.full, c.out.mu.closed, len(c.out.mu.segs))
		c.out.mu.Unlock()
	}
	return out
}
