package main

import (
	"math"
	"math/bits"
	"sync"
	"time"
)

// Histogram counts durations in log-linear buckets, HDR style: below
// 2^subBits ns every nanosecond has its own bucket; above, each power of two
// is split into 2^subBits equal buckets, so a reported value is within
// 1/2^subBits (under 0.8%) of the true one. Recording is an index
// computation and an increment: no allocation, no lock. It is not safe for
// concurrent use; see recorder.
type Histogram struct {
	counts []uint64 // allocated on first Record
	n      uint64
	min    uint64
	max    uint64
}

const (
	subBits    = 7
	subCount   = 1 << subBits
	numBuckets = (64-subBits)*subCount + subCount // the last index is bucketOf(MaxUint64)
)

// bucketOf returns the bucket index of v.
//
//	v < 128:            index v
//	v in [2^k, 2^(k+1)): shift = k-7, index = shift*128 + v>>shift  (v>>shift in [128, 256))
func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	return shift*subCount + int(v>>uint(shift))
}

// bucketHigh returns the largest value that falls in bucket i.
func bucketHigh(i int) uint64 {
	if i < 2*subCount {
		return uint64(i)
	}
	shift := i/subCount - 1
	top := uint64(i%subCount + subCount)
	return top<<uint(shift) + (1<<uint(shift) - 1)
}

// Record adds one value.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	if h.counts == nil {
		h.counts = make([]uint64, numBuckets)
	}
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
}

// Count is the number of values recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest value recorded, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Quantile returns the value at quantile q in [0, 1]: the upper edge of the
// bucket holding the ceil(q*n)-th smallest value, clamped to the recorded
// min and max. It is 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(max(bucketHigh(i), h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

// Merge adds o's counts to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint64, numBuckets)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
}

// Reset empties h, keeping its buckets.
func (h *Histogram) Reset() {
	if h.n == 0 {
		return
	}
	clear(h.counts)
	h.n, h.min, h.max = 0, 0, 0
}

// recorder is a Histogram one goroutine records into while another drains it
// once a second. Each worker has its own, so the lock is uncontended.
type recorder struct {
	mu struct {
		sync.Mutex
		h Histogram
	}
}

func (r *recorder) Record(d time.Duration) {
	r.mu.Lock()
	r.mu.h.Record(d)
	r.mu.Unlock()
}

// drainInto merges what was recorded since the last drain into dst and
// resets it.
func (r *recorder) drainInto(dst *Histogram) {
	r.mu.Lock()
	dst.Merge(&r.mu.h)
	r.mu.h.Reset()
	r.mu.Unlock()
}
