package streamlog

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestPageCachedAndReadAt: a file just written is in the page cache and
// readAt reads it raw; once its pages are dropped, pageCached says so
// and readAt reads it the ordinary way. Both give the same bytes.
func TestPageCachedAndReadAt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seg")
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sf, err := openSegFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer sf.release()
	if err := sf.f.Sync(); err != nil { // clean pages, which the drop below can drop
		t.Fatal(err)
	}
	cached := func(off, n int64) bool { return pageCached(sf.fd, off, n) }
	if noCachestat.Load() || !cached(0, int64(len(data))) {
		if noCachestat.Load() {
			t.Fatal("cachestat(2) is not available on this kernel: every read goes the ordinary way")
		}
		t.Fatal("a file just written is not reported cached")
	}
	read := func(off int64, n int) []byte {
		b := make([]byte, n)
		if m, err := sf.readAt(b, off); err != nil || m != n {
			t.Fatalf("readAt(%d, %d): %d, %v", off, n, m, err)
		}
		return b
	}
	if got := read(4093, 10000); !bytes.Equal(got, data[4093:14093]) {
		t.Fatal("raw readAt read the wrong bytes")
	}
	// Past the end: a short read, io.EOF, either way.
	if _, err := sf.readAt(make([]byte, 100), int64(len(data))-50); err == nil {
		t.Fatal("readAt past the end: no error")
	}

	// POSIX_FADV_DONTNEED (4) drops the file's clean pages.
	if _, _, e := syscall.Syscall6(syscall.SYS_FADVISE64, sf.f.Fd(), 0, 0, 4, 0, 0); e != 0 {
		t.Fatal(e)
	}
	if cached(0, int64(len(data))) {
		t.Fatal("the dropped file is still reported cached")
	}
	if got := read(500_000, 70_000); !bytes.Equal(got, data[500_000:570_000]) {
		t.Fatal("readAt of uncached pages read the wrong bytes")
	}
	rg := Region{sf: sf, Off: 900_000, Len: 100_000}
	if rg.Cached() {
		t.Fatal("a region of dropped pages is reported cached")
	}
	if !cached(500_000, 70_000) {
		t.Fatal("pages just read are not reported cached")
	}
	if (&Region{}).Cached() {
		t.Fatal("the zero region is reported cached")
	}
}
