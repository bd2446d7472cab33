package streamlog

import (
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// Reads of pages in the page cache cannot block, so they are made as raw
// system calls (syscall.RawSyscall6), which skip the Go scheduler's
// system call bookkeeping: a call made through it, by a process whose
// goroutines were all idle, wakes the runtime's monitor thread, which
// then polls every 20 µs for as long as the process stays busy. A
// consumer replaying a stream wakes the broker once per chunk it gives
// credit for, and that monitor took about a fifth of the broker's CPU
// (perf). A read of pages not in the cache may wait for the disk, and
// goes the ordinary way, so that the scheduler runs other goroutines
// meanwhile.

// sysCachestat is cachestat(2)'s number (Linux 6.5; the same on every
// architecture, being above 403).
const sysCachestat = 451

// noCachestat is set once cachestat(2) failed as not implemented or not
// permitted: from then on nothing is known to be cached.
var noCachestat atomic.Bool

var pageSize = int64(os.Getpagesize())

// pageCached reports whether the n bytes at off of the file behind fd
// are all in the page cache; false where it cannot tell.
func pageCached(fd uintptr, off, n int64) bool {
	if n <= 0 || noCachestat.Load() {
		return n <= 0
	}
	rng := struct{ off, len uint64 }{uint64(off), uint64(n)}
	var st struct{ cache, dirty, writeback, evicted, recentlyEvicted uint64 }
	_, _, e := syscall.RawSyscall6(sysCachestat, fd, uintptr(unsafe.Pointer(&rng)), uintptr(unsafe.Pointer(&st)), 0, 0, 0)
	if e != 0 {
		if e == syscall.ENOSYS || e == syscall.EPERM {
			noCachestat.Store(true)
		}
		return false
	}
	pages := (off+n-1)/pageSize - off/pageSize + 1
	return st.cache >= uint64(pages)
}

// readAt is sf.f.ReadAt, with a raw pread(2) where the range is cached.
func (sf *segFile) readAt(b []byte, off int64) (int, error) {
	if !pageCached(sf.fd, off, int64(len(b))) {
		return sf.f.ReadAt(b, off)
	}
	n := 0
	for n < len(b) {
		r, _, e := syscall.RawSyscall6(syscall.SYS_PREAD64, sf.fd, uintptr(unsafe.Pointer(&b[n])), uintptr(len(b)-n), uintptr(off+int64(n)), 0, 0)
		switch {
		case e == syscall.EINTR:
			continue
		case e != 0:
			return n, &os.PathError{Op: "read", Path: sf.f.Name(), Err: e}
		case r == 0:
			return n, io.EOF
		}
		n += int(r)
	}
	return n, nil
}

// Cached reports whether the range is all in the page cache, so that
// sending it cannot wait for the disk.
func (rg *Region) Cached() bool {
	return rg.sf != nil && pageCached(rg.sf.fd, rg.Off, rg.Len)
}
