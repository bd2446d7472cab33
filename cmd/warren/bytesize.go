package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// byteSize is a pflag.Value for a count of bytes: a plain number, or one
// with a unit, case-insensitive, a space allowed before it: B; kB, MB, GB,
// TB, PB, EB (powers of 1000); KiB, MiB, GiB, TiB, PiB, EiB (powers of
// 1024). Whole numbers only; never negative.
type byteSize int64

// byteUnits, largest first within each kind; String picks the largest
// that divides the count exactly.
var byteUnits = []struct {
	name string
	n    int64
}{
	{"EiB", 1 << 60}, {"EB", 1e18}, {"PiB", 1 << 50}, {"PB", 1e15}, {"TiB", 1 << 40}, {"TB", 1e12},
	{"GiB", 1 << 30}, {"GB", 1e9}, {"MiB", 1 << 20}, {"MB", 1e6}, {"KiB", 1 << 10}, {"kB", 1e3},
}

func (b *byteSize) Set(s string) error {
	s = strings.TrimSpace(s)
	digits := strings.TrimRight(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ ")
	unit := strings.TrimSpace(s[len(digits):])
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n < 0 || strings.HasPrefix(digits, "+") {
		return fmt.Errorf("want a byte count such as 134217728, 200MB or 1GiB, got %q", s)
	}
	mult := int64(1)
	if unit != "" && !strings.EqualFold(unit, "B") {
		mult = 0
		for _, u := range byteUnits {
			if strings.EqualFold(unit, u.name) {
				mult = u.n
			}
		}
		if mult == 0 {
			return fmt.Errorf("unknown unit %q in %q (B, kB, MB, GB, TB, PB, EB, KiB, MiB, GiB, TiB, PiB, EiB)", unit, s)
		}
	}
	if n > math.MaxInt64/mult {
		return fmt.Errorf("%q is more bytes than an int64 holds", s)
	}
	*b = byteSize(n * mult)
	return nil
}

func (b byteSize) String() string {
	for _, u := range byteUnits {
		if b != 0 && int64(b)%u.n == 0 {
			return strconv.FormatInt(int64(b)/u.n, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

func (b byteSize) Type() string { return "bytes" }
