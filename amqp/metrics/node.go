package metrics

import (
	"bytes"
	"os"
	"strconv"
	"syscall"

	"github.com/warrenmq/warren/alarm"
)

// nodeReading is what the node metrics read from the operating system at
// scrape time (Linux's /proc; zero where it cannot be read).
type nodeReading struct {
	residentBytes int64 // resident set size
	openFDs       int64
	maxFDs        int64 // RLIMIT_NOFILE, soft
	memTotal      int64 // physical memory
}

func readNode() nodeReading {
	var r nodeReading
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		// size resident shared text lib data dt, in pages
		if f := bytes.Fields(b); len(f) > 1 {
			pages, _ := strconv.ParseInt(string(f[1]), 10, 64)
			r.residentBytes = pages * int64(os.Getpagesize())
		}
	}
	if d, err := os.Open("/proc/self/fd"); err == nil {
		names, _ := d.Readdirnames(-1)
		d.Close()
		r.openFDs = int64(len(names)) - 1 // not the one reading it
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		r.maxFDs = int64(lim.Cur)
	}
	r.memTotal = alarm.MemTotal()
	return r
}

// diskFree is the space available to an unprivileged writer in the file
// system of dir (0 if unknown).
func diskFree(dir string) int64 {
	var st syscall.Statfs_t
	if dir == "" || syscall.Statfs(dir, &st) != nil {
		return 0
	}
	return int64(st.Bavail) * int64(st.Bsize)
}
