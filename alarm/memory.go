package alarm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Watermark is the memory high watermark: a fraction of the memory limit
// (RabbitMQ's vm_memory_high_watermark.relative, default 0.6) or an
// absolute number of bytes (vm_memory_high_watermark.absolute).
type Watermark struct {
	Fraction float64 // used when Absolute is 0
	Absolute int64   // bytes
}

// DefaultWatermark is RabbitMQ's default: 0.6 of the memory limit.
var DefaultWatermark = Watermark{Fraction: 0.6}

// Bytes is the watermark in bytes for a memory limit of total bytes.
func (w Watermark) Bytes(total int64) int64 {
	if w.Absolute > 0 {
		return w.Absolute
	}
	return int64(w.Fraction * float64(total))
}

func (w Watermark) String() string {
	if w.Absolute > 0 {
		return strconv.FormatInt(w.Absolute, 10)
	}
	return strconv.FormatFloat(w.Fraction, 'g', -1, 64)
}

// ParseWatermark reads a fraction ("0.4", at most 1; RabbitMQ warns above
// 0.7 but allows up to 1) or an absolute size ("2GiB", "512MB", "1073741824",
// with the units of RabbitMQ's vm_memory_high_watermark.absolute).
func ParseWatermark(s string) (Watermark, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil && (strings.ContainsAny(s, ".eE") || f <= 1) {
		if f <= 0 || f > 1 {
			return Watermark{}, fmt.Errorf("memory high watermark %s: a fraction must be in (0, 1]", s)
		}
		return Watermark{Fraction: f}, nil
	}
	n, err := ParseSize(s)
	if err != nil {
		return Watermark{}, fmt.Errorf("memory high watermark %q: want a fraction such as 0.6 or a size such as 2GiB", s)
	}
	if n <= 0 {
		return Watermark{}, fmt.Errorf("memory high watermark %q: must be above 0", s)
	}
	return Watermark{Absolute: n}, nil
}

// ParseSize reads a byte count with an optional unit: k, KiB, KB, M, MiB,
// MB, G, GiB, GB (the single letters and the IEC names are powers of 1024,
// the SI names powers of 1000, as RabbitMQ's configuration reads them).
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, errors.New("no number")
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, err
	}
	var mul int64
	switch strings.ToLower(strings.TrimSpace(s[i:])) {
	case "", "b":
		mul = 1
	case "k", "kib":
		mul = 1 << 10
	case "kb":
		mul = 1000
	case "m", "mib":
		mul = 1 << 20
	case "mb":
		mul = 1000 * 1000
	case "g", "gib":
		mul = 1 << 30
	case "gb":
		mul = 1000 * 1000 * 1000
	case "t", "tib":
		mul = 1 << 40
	case "tb":
		mul = 1000 * 1000 * 1000 * 1000
	default:
		return 0, fmt.Errorf("unknown unit %q", s[i:])
	}
	if n > (1<<62)/mul {
		return 0, errors.New("too large")
	}
	return n * mul, nil
}

// ProcessMemory is the process's resident memory that is not
// file-backed, in bytes (0 if unknown): resident minus shared pages of
// /proc/self/statm (see the package doc).
func ProcessMemory() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	// size resident shared text lib data dt, in pages
	f := bytes.Fields(b)
	if len(f) < 3 {
		return 0
	}
	res, _ := strconv.ParseInt(string(f[1]), 10, 64)
	shared, _ := strconv.ParseInt(string(f[2]), 10, 64)
	return (res - shared) * int64(os.Getpagesize())
}

// MemoryLimit is the memory the process may use, in bytes: the machine's
// memory (MemTotal), or the limit of the process's cgroup (v2 memory.max,
// v1 memory.limit_in_bytes) if lower. 0 if unknown.
func MemoryLimit() int64 {
	total := MemTotal()
	if l := cgroupLimit(); l > 0 && (total == 0 || l < total) {
		return l
	}
	return total
}

// MemTotal is MemTotal of /proc/meminfo in bytes (0 if unknown): the
// machine's memory, whatever the cgroup allows.
func MemTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("MemTotal:")); ok {
			if fs := bytes.Fields(rest); len(fs) > 0 { // "16318480 kB"
				kb, _ := strconv.ParseInt(string(fs[0]), 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// cgroupLimit is the memory limit of the process's cgroup (0: none or
// unknown). cgroup v2 puts it in memory.max of the group's directory
// (read from /proc/self/cgroup's "0::/path"); v1 in the memory
// controller's memory.limit_in_bytes, a huge number when unlimited.
func cgroupLimit() int64 {
	const root = "/sys/fs/cgroup"
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if path, ok := strings.CutPrefix(line, "0::"); ok {
				for dir := filepath.Join(root, path); strings.HasPrefix(dir, root); dir = filepath.Dir(dir) {
					if n := readLimit(filepath.Join(dir, "memory.max")); n > 0 {
						return n
					}
					if dir == root {
						break
					}
				}
			}
		}
	}
	if n := readLimit(filepath.Join(root, "memory.max")); n > 0 {
		return n
	}
	if n := readLimit(filepath.Join(root, "memory", "memory.limit_in_bytes")); n > 0 && n < 1<<60 {
		return n
	}
	return 0
}

func readLimit(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil { // "max"
		return 0
	}
	return n
}
