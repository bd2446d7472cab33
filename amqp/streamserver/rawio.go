package streamserver

// The delivery path's socket calls are raw system calls
// (syscall.RawSyscall), which skip the Go scheduler's system call
// bookkeeping. A call made through it, by a process whose goroutines were
// all idle, wakes the runtime's monitor thread (sysmon), which then polls
// every 20 µs for as long as the process stays busy, and takes the
// processor from a call that lasts over 20 µs, starting another thread
// to run the rest. A consumer replaying a stream wakes the broker once
// per chunk it gives credit for: read the credit, send the chunk, sleep.
// In a perf profile of such a replay the monitor's wake-ups and polls
// were about a fifth of the broker's CPU; with these calls raw, the
// replay's broker CPU fell by about a fifth. Only calls that cannot wait
// are made raw: on the connection's non-blocking socket, and sendfile
// from pages in the page cache (streamlog.Region.Cached); the socket
// waits (EAGAIN) go to the network poller as before.
//
// A rawSock is the socket as one goroutine (the reader, or the writer)
// uses it: the call in progress is in its fields and its steps are bound
// once, so that a call allocates nothing.

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

type rawSock struct {
	rc syscall.RawConn

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

	readStep, writevStep, sendfileStep func(fd uintptr) bool
	corkOn, corkOff                    func(fd uintptr)
}

func newRawSock(rc syscall.RawConn) *rawSock {
	s := &rawSock{rc: rc}
	s.readStep, s.writevStep, s.sendfileStep = s.readOnce, s.writevAll, s.sendfileAll
	s.corkOn = func(fd uintptr) { setCork(fd, 1) }
	s.corkOff = func(fd uintptr) { setCork(fd, 0) }
	return s
}

// read reads from the socket with a raw read(2), waiting for data as a
// read does (deadlines included).
func (s *rawSock) read(p []byte) (int, error) {
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
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: s.errno}
	case s.n == 0:
		return 0, io.EOF
	}
	return int(s.n), nil
}

func (s *rawSock) readOnce(fd uintptr) bool {
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

// writev writes bufs with raw writev(2) calls, waiting for room as a
// write does.
func (s *rawSock) writev(bufs net.Buffers) (int64, error) {
	s.bufs, s.n, s.errno = bufs, 0, 0
	err := s.rc.Write(s.writevStep)
	s.bufs = nil
	clear(s.iov[:])
	if err == nil && s.errno != 0 {
		err = &net.OpError{Op: "writev", Net: "tcp", Err: s.errno}
	}
	return s.n, err
}

func (s *rawSock) writevAll(fd uintptr) bool {
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

// sendfile sends n bytes at off of the file src with sendfile(2), raw if
// raw, waiting for room as a write does.
func (s *rawSock) sendfile(src uintptr, off, n int64, raw bool) (int64, error) {
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
		return s.n, &net.OpError{Op: "sendfile", Net: "tcp", Err: err}
	}
	return s.n, nil
}

func (s *rawSock) sendfileAll(dst uintptr) bool {
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

// cork sets TCP_CORK on the socket.
func (s *rawSock) cork(on bool) {
	if on {
		s.rc.Control(s.corkOn)
	} else {
		s.rc.Control(s.corkOff)
	}
}

func setCork(fd uintptr, v int32) {
	syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_CORK, uintptr(unsafe.Pointer(&v)), 4, 0)
}
