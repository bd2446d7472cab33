package server

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// Socket reads and inline writes on the raw descriptor. A read(2) or
// write(2) made through the net package or syscall.Write enters the
// scheduler's syscall state, and the first one after the process was idle
// wakes the runtime's sysmon thread, which then polls every 20 µs while
// any goroutine runs: at 1,000 msg/s that was 1.2 of the 2.9 context
// switches a message (perf, sched:sched_switch), and CPU taken from the
// two cores the broker shares. The socket is non-blocking (the net
// package made it so), so read(2) and write(2) return at once, and
// syscall.RawSyscall makes them without that state; waiting for a
// readable socket still goes through the netpoller (RawConn.Read), with
// the read deadline.

// rawIO is a connection's raw read, owned by its reader goroutine.
type rawIO struct {
	p     []byte
	n     int
	errno syscall.Errno
}

// readSocket reads into p from the socket: with a raw read when the
// connection is a plain TCP socket, else with the net.Conn. Errors are
// those of net.Conn.Read (deadlines, a closed connection, io.EOF).
func (c *conn) readSocket(p []byte) (int, error) {
	if c.raw == nil || len(p) == 0 {
		return c.nc.Read(p)
	}
	c.rd.p, c.rd.n, c.rd.errno = p, 0, 0
	err := c.raw.Read(c.rawRead)
	n, errno := c.rd.n, c.rd.errno
	c.rd.p = nil
	switch {
	case err != nil:
		return 0, err // a deadline or a closed connection, from the poller
	case errno != 0:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.nc.LocalAddr(), Addr: c.nc.RemoteAddr(), Err: os.NewSyscallError("read", errno)}
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// readRaw is readSocket's read(2); false (wait until readable) on EAGAIN.
func (c *conn) readRaw(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&c.rd.p[0])), uintptr(len(c.rd.p)))
		switch e {
		case 0:
			c.rd.n = int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		c.rd.errno = e
		return true
	}
}

// writeRaw is the inline write on the socket's descriptor (inline.go): one
// write(2) of out.inlineBatch, never waiting (what is left goes to the
// writer). Only who is writing calls it.
func (c *conn) writeRaw(fd uintptr) bool {
	b := c.out.inlineBatch
	c.out.inlineN = 0
	for len(b) > 0 {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		if e == syscall.EINTR {
			continue
		}
		if e == 0 {
			c.out.inlineN = int(n)
		}
		break
	}
	return true
}
