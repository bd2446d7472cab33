//go:build linux

package storage

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// releaseMappings drops from this process's page tables the pages of
// Badger's memory-mapped files (value logs and tables) under dir.
//
// Badger writes value logs and tables through shared mmaps and keeps them
// mapped for reading, so every page written stays resident and counts in
// the broker's RSS: gigabytes for a long backlog, though they are clean page
// cache the kernel could reclaim. MADV_DONTNEED on a shared file mapping
// only unmaps: the data stays in the page cache and on disk, and a later
// read faults it back in. It returns the bytes released from the mappings.
func releaseMappings(dir string) (int64, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return 0, err
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var released int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		// 7f2a4c000000-7f2a50000000 rw-s 00000000 fd:01 1234 /data/db/000001.vlog
		i := bytes.IndexByte(line, '/')
		if i < 0 {
			continue
		}
		path := string(line[i:])
		if !strings.HasPrefix(path, dir) || !(strings.HasSuffix(path, ".vlog") || strings.HasSuffix(path, ".sst")) {
			continue
		}
		fields := strings.Fields(string(line[:i]))
		if len(fields) < 2 || !strings.Contains(fields[1], "s") {
			continue // only shared mappings: their pages live on in the page cache
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		// The region is another allocator's mapping, so no Go slice over it:
		// the raw system call takes the addresses as they are.
		_, _, errno := syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), syscall.MADV_DONTNEED)
		if errno == 0 {
			released += int64(end - start)
		}
	}
	return released, sc.Err()
}
