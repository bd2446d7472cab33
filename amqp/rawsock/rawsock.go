// Package rawsock makes a TCP connection's reads and writes as raw system
// calls (syscall.RawSyscall), which skip the Go scheduler's system call
// bookkeeping. A call made through it, by a process whose goroutines were
// all idle, wakes the runtime's monitor thread (sysmon), which then polls
// every 20 µs for as long as the process stays busy, and takes the
// processor from a call that lasts over 20 µs, starting another thread
// to run the rest. A broker at a moderate rate is woken for each few
// messages, and each wake-up paid that: at 1,000 msg/s over AMQP it was
// 1.2 of 2.9 context switches a message (perf, sched:sched_switch), and
// in a stream replay, where a consumer wakes the broker once per chunk
// it gives credit for, about a fifth of the broker's CPU.
//
// Only calls that cannot wait are made raw: on the connection's socket,
// which the net package made non-blocking, and sendfile from pages in
// the page cache (the caller says which). A socket that is full or empty
// still waits in the network poller (syscall.RawConn.Read and Write),
// with the connection's deadlines.
//
// A Sock is used by one goroutine at a time (a connection's reader, or
// whoever writes): the call in progress is in its fields and its steps
// are bound once, so that a call allocates nothing.
package rawsock

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// Sock is a connection's socket for raw calls.
type Sock struct {
	rc            syscall.RawConn
	local, remote net.Addr // for errors (Of)

	// The call in progress.
	p           []byte      // read: the buffer
	bufs        net.Buffers // writev: what is left to write
	iov         [64]syscall.Iovec
	src         uintptr // sendfile: the file
	off, remain int64   // sendfile: the range left
	raw         bool    // sendfile: raw (the range is cached)
	n           int64
	errno       syscall.Errno
	short       bool // sendfile: the file ended before the range

	readStep, writevStep, sendfileStep, writeOnceStep func(fd uintptr) bool
	corkOn, corkOff                                   func(fd uintptr)
}

// Of returns a Sock for nc, or nil when nc is not a plain TCP
// connection (TLS, a pipe in tests): its reads and writes then go
// through nc.
func Of(nc net.Conn) *Sock {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	s := New(rc)
	s.local, s.remote = nc.LocalAddr(), nc.RemoteAddr()
	return s
}

// New returns a Sock for the socket behind rc.
func New(rc syscall.RawConn) *Sock {
	s := &Sock{rc: rc}
	s.readStep, s.writevStep, s.sendfileStep, s.writeOnceStep = s.readOnce, s.writevAll, s.sendfileAll, s.writeOnce
	s.corkOn = func(fd uintptr) { setCork(fd, 1) }
	s.corkOff = func(fd uintptr) { setCork(fd, 0) }
	return s
}

// Read reads from the socket with a raw read(2), waiting for data as a
// read does (deadlines included).
func (s *Sock) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.p, s.n, s.errno = p, 0, 0
	err := s.rc.Read(s.readStep)
	s.p = nil
	switch {
	case err != nil:
		return 0, err
	case s.errno != 0:
		return 0, s.opError("read", s.errno)
	case s.n == 0:
		return 0, io.EOF
	}
	return int(s.n), nil
}

func (s *Sock) readOnce(fd uintptr) bool {
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&s.p[0])), uintptr(len(s.p)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		s.n, s.errno = int64(r), e
		return true
	}
}

// Writev writes bufs with raw writev(2) calls, waiting for room as a
// write does.
func (s *Sock) Writev(bufs net.Buffers) (int64, error) {
	s.bufs, s.n, s.errno = bufs, 0, 0
	err := s.rc.Write(s.writevStep)
	s.bufs = nil
	clear(s.iov[:])
	if err == nil && s.errno != 0 {
		err = s.opError("writev", s.errno)
	}
	return s.n, err
}

func (s *Sock) writevAll(fd uintptr) bool {
	for len(s.bufs) > 0 {
		k := 0
		for _, b := range s.bufs {
			if k == len(s.iov) {
				break
			}
			if len(b) > 0 {
				s.iov[k].Base = &b[0]
				s.iov[k].SetLen(len(b))
				k++
			}
		}
		if k == 0 {
			break
		}
		r, _, e := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&s.iov[0])), uintptr(k))
		switch e {
		case 0:
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			s.errno = e
			return true
		}
		s.n += int64(r)
		for n := int(r); n > 0; {
			if n < len(s.bufs[0]) {
				s.bufs[0] = s.bufs[0][n:]
				break
			}
			n -= len(s.bufs[0])
			s.bufs = s.bufs[1:]
		}
	}
	return true
}

// Sendfile sends n bytes at off of the file src with sendfile(2), raw if
// raw, waiting for room as a write does.
func (s *Sock) Sendfile(src uintptr, off, n int64, raw bool) (int64, error) {
	s.src, s.off, s.remain, s.raw, s.n, s.errno, s.short = src, off, n, raw, 0, 0, false
	err := s.rc.Write(s.sendfileStep)
	switch {
	case err != nil:
	case s.errno != 0:
		err = s.errno
	case s.short:
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return s.n, s.opError("sendfile", err)
	}
	return s.n, nil
}

func (s *Sock) sendfileAll(dst uintptr) bool {
	for s.remain > 0 {
		var r uintptr
		var e syscall.Errno
		n := uintptr(min(s.remain, 1<<30))
		if s.raw {
			r, _, e = syscall.RawSyscall6(syscall.SYS_SENDFILE, dst, s.src, uintptr(unsafe.Pointer(&s.off)), n, 0, 0)
		} else {
			r, _, e = syscall.Syscall6(syscall.SYS_SENDFILE, dst, s.src, uintptr(unsafe.Pointer(&s.off)), n, 0, 0)
		}
		switch {
		case e == syscall.EAGAIN:
			return false // the socket's buffer is full: wait until writable
		case e == syscall.EINTR:
		case e != 0:
			s.errno = e
			return true
		case r == 0:
			s.short = true
			return true
		default:
			s.n += int64(r)
			s.remain -= int64(r)
		}
	}
	return true
}

// Cork sets TCP_CORK on the socket.
func (s *Sock) Cork(on bool) {
	if on {
		s.rc.Control(s.corkOn)
	} else {
		s.rc.Control(s.corkOff)
	}
}

func setCork(fd uintptr, v int32) {
	syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_CORK, uintptr(unsafe.Pointer(&v)), 4, 0)
}

// WriteOnce makes one raw write(2) of b and never waits: it returns what
// the socket took (0 when its buffer is full, or on an error, which the
// next write that waits meets again).
func (s *Sock) WriteOnce(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	s.p, s.n = b, 0
	s.rc.Write(s.writeOnceStep)
	s.p = nil
	return int(s.n)
}

func (s *Sock) writeOnce(fd uintptr) bool {
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&s.p[0])), uintptr(len(s.p)))
		if e == syscall.EINTR {
			continue
		}
		if e == 0 {
			s.n = int64(r)
		}
		return true // never wait: what is left is the caller's
	}
}

func (s *Sock) opError(op string, err error) error {
	if errno, ok := err.(syscall.Errno); ok {
		err = os.NewSyscallError(op, errno)
	}
	return &net.OpError{Op: op, Net: "tcp", Source: s.local, Addr: s.remote, Err: err}
}
