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

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

// rawRead reads from the non-blocking socket behind rc with a raw
// read(2), waiting for data as a read does.
func rawRead(rc syscall.RawConn, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := rc.Read(func(fd uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false
			}
			n, errno = int(r), e
			return true
		}
	})
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: errno}
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// writeBufs writes bufs to w, with raw writev calls on rc if not nil.
func writeBufs(w io.Writer, rc syscall.RawConn, bufs net.Buffers) (int64, error) {
	if rc != nil {
		return rawWritev(rc, bufs)
	}
	return bufs.WriteTo(w)
}

// rawWritev writes bufs to the non-blocking socket behind rc with raw
// writev(2) calls, waiting for room as a write does.
func rawWritev(rc syscall.RawConn, bufs net.Buffers) (int64, error) {
	var iov [64]syscall.Iovec
	var total int64
	var errno syscall.Errno
	err := rc.Write(func(fd uintptr) bool {
		for len(bufs) > 0 {
			k := 0
			for _, b := range bufs {
				if k == len(iov) {
					break
				}
				if len(b) == 0 {
					continue
				}
				iov[k].Base = &b[0]
				iov[k].SetLen(len(b))
				k++
			}
			if k == 0 {
				bufs = nil
				return true
			}
			r, _, e := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(k))
			if e == syscall.EINTR {
				continue
			}
			if e == syscall.EAGAIN {
				return false
			}
			if e != 0 {
				errno = e
				return true
			}
			total += int64(r)
			for n := int(r); n > 0 && len(bufs) > 0; {
				if len(bufs[0]) > n {
					bufs[0] = bufs[0][n:]
					break
				}
				n -= len(bufs[0])
				bufs = bufs[1:]
			}
			for len(bufs) > 0 && len(bufs[0]) == 0 {
				bufs = bufs[1:]
			}
		}
		return true
	})
	clear(iov[:])
	if err == nil && errno != 0 {
		err = &net.OpError{Op: "writev", Net: "tcp", Err: errno}
	}
	return total, err
}

// sendfile is sendfile(2), raw if raw.
func sendfile(dst, src int, off *int64, n int, raw bool) (int, error) {
	if !raw {
		return syscall.Sendfile(dst, src, off, n)
	}
	r, _, e := syscall.RawSyscall6(syscall.SYS_SENDFILE, uintptr(dst), uintptr(src), uintptr(unsafe.Pointer(off)), uintptr(n), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// cork sets TCP_CORK on the socket behind rc.
func cork(rc syscall.RawConn, on bool) {
	var v int32
	if on {
		v = 1
	}
	rc.Control(func(fd uintptr) {
		syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_CORK, uintptr(unsafe.Pointer(&v)), 4, 0)
	})
}
