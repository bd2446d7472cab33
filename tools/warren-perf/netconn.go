package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// checkLoopback refuses a URL whose host is not a loopback address: this
// tool generates load, and load goes only to this machine.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("url %q: %w", raw, err)
	}
	// amqps: TLS, set up by amqp091-go from RabbitMQ's URI query
	// parameters (cacertfile, certfile, keyfile, server_name_indication).
	if u.Scheme != "amqp" && u.Scheme != "amqps" {
		return fmt.Errorf("url %q: only amqp:// and amqps:// URLs are supported", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("url %q: the host must be a loopback address (127.0.0.0/8, ::1 or localhost), not %q", raw, host)
}

// brokerConn is an AMQP connection and the socket under it, which closeNow
// closes when the broker does not answer.
type brokerConn struct {
	*amqp.Connection
	raw net.Conn
}

// dial opens an AMQP connection. With coalesce, the socket is wrapped in a
// coalescingConn, so the many small flushes amqp091-go makes (one per
// publish and per ack) leave as few large writes.
func dial(rawURL string, coalesce bool) (*brokerConn, error) {
	bc := &brokerConn{}
	cfg := amqp.Config{
		Heartbeat: 10 * time.Second,
		Locale:    "en_US",
		Dial: func(network, addr string) (net.Conn, error) {
			c, err := net.DialTimeout(network, addr, 5*time.Second)
			if err != nil {
				return nil, err
			}
			if coalesce {
				c = newCoalescingConn(c)
			}
			bc.raw = c
			return c, nil
		},
		Properties: amqp.Table{"connection_name": "warren-perf"},
	}
	c, err := amqp.DialConfig(rawURL, cfg)
	if err != nil {
		if bc.raw != nil {
			bc.raw.Close()
		}
		return nil, err
	}
	bc.Connection = c
	return bc, nil
}

// close closes the connection, bounded: a broker that does not answer
// connection.close within d gets its socket closed under it.
func (c *brokerConn) close(d time.Duration) {
	if c == nil || c.Connection == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Connection.Close()
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		c.raw.Close() // the reader fails, which ends the pending Close
		<-done
	}
}

// maxPendingWrite bounds the bytes a coalescingConn holds: a writer past it
// waits for the flusher (backpressure instead of an unbounded buffer).
const maxPendingWrite = 1 << 20

// coalescingConn is a net.Conn whose Write copies into a buffer that one
// flusher goroutine writes out: it swaps the whole batch out and writes it
// with no lock held, so writes made while a write is in progress go out
// together in the next one (nats-server's flushOutbound). Reads pass
// through.
type coalescingConn struct {
	net.Conn
	wake chan struct{} // capacity 1: there is something to flush
	done chan struct{} // closed by Close
	once sync.Once

	mu struct {
		sync.Mutex
		cond   sync.Cond // signalled when pending shrinks or err is set
		buf    []byte    // pending bytes
		spare  []byte    // the other buffer, empty
		err    error     // sticky write error
		closed bool
	}
}

func newCoalescingConn(c net.Conn) *coalescingConn {
	cc := &coalescingConn{Conn: c, wake: make(chan struct{}, 1), done: make(chan struct{})}
	cc.mu.cond.L = &cc.mu.Mutex
	go cc.flushLoop()
	return cc
}

func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	for len(c.mu.buf) >= maxPendingWrite && c.mu.err == nil && !c.mu.closed {
		c.mu.cond.Wait()
	}
	if c.mu.err != nil || c.mu.closed {
		err := c.mu.err
		c.mu.Unlock()
		if err == nil {
			err = net.ErrClosed
		}
		return 0, err
	}
	c.mu.buf = append(c.mu.buf, p...)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (c *coalescingConn) flushLoop() {
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		}
		c.mu.Lock()
		for len(c.mu.buf) > 0 && c.mu.err == nil {
			out := c.mu.buf
			c.mu.buf, c.mu.spare = c.mu.spare[:0], nil
			c.mu.Unlock()
			_, err := c.Conn.Write(out)
			c.mu.Lock()
			c.mu.spare = out[:0]
			if err != nil {
				c.mu.err = err
			}
			c.mu.cond.Broadcast()
		}
		c.mu.Unlock()
	}
}

// Close stops the flusher and closes the socket. Bytes not yet written are
// dropped; amqp091-go closes only after connection.close-ok has arrived, by
// when everything it wrote has been flushed.
func (c *coalescingConn) Close() error {
	c.once.Do(func() {
		c.mu.Lock()
		c.mu.closed = true
		c.mu.cond.Broadcast()
		c.mu.Unlock()
		close(c.done)
	})
	return c.Conn.Close()
}

// isClosedErr reports whether err only says the connection or channel was
// already closed (expected when a run stops).
func isClosedErr(err error) bool {
	var ae *amqp.Error
	return errors.Is(err, amqp.ErrClosed) || errors.Is(err, net.ErrClosed) ||
		(errors.As(err, &ae) && strings.Contains(ae.Reason, "closed"))
}
