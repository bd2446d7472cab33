package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketBounds(t *testing.T) {
	vals := []uint64{0, 1, 127, 128, 129, 255, 256, 257, 1000, 1 << 20, 1<<20 + 12345, 1<<40 + 7, math.MaxUint64}
	for range 10000 {
		vals = append(vals, rand.Uint64()>>rand.IntN(64))
	}
	for _, v := range vals {
		i := bucketOf(v)
		if i < 0 || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d, out of [0, %d)", v, i, numBuckets)
		}
		hi := bucketHigh(i)
		if hi < v {
			t.Fatalf("bucketHigh(bucketOf(%d)) = %d, below the value", v, hi)
		}
		if i > 0 && bucketHigh(i-1) >= v {
			t.Fatalf("value %d also fits bucket %d (high %d)", v, i-1, bucketHigh(i-1))
		}
		if v >= subCount && float64(hi-v) > float64(v)/subCount {
			t.Fatalf("bucket of %d reports %d: error over 1/%d", v, hi, subCount)
		}
	}
	if bucketOf(math.MaxUint64) != numBuckets-1 {
		t.Fatalf("the largest value is in bucket %d, want the last (%d)", bucketOf(math.MaxUint64), numBuckets-1)
	}
}

func TestQuantiles(t *testing.T) {
	var h Histogram
	for i := 1; i <= 10000; i++ { // 1 µs .. 10 ms
		h.Record(time.Duration(i) * time.Microsecond)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0, time.Microsecond},
		{0.5, 5 * time.Millisecond},
		{0.95, 9500 * time.Microsecond},
		{0.99, 9900 * time.Microsecond},
		{1, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		got := h.Quantile(tt.q)
		if d := math.Abs(float64(got-tt.want)) / float64(tt.want); d > 1.0/subCount {
			t.Errorf("Quantile(%v) = %v, want %v within %.2f%%", tt.q, got, tt.want, 100.0/subCount)
		}
	}
	if h.Count() != 10000 || h.Max() != 10*time.Millisecond {
		t.Errorf("Count, Max = %d, %v", h.Count(), h.Max())
	}
}

// TestQuantileAgainstSort checks random data against exact quantiles.
func TestQuantileAgainstSort(t *testing.T) {
	var h Histogram
	var all []time.Duration
	for range 50000 {
		d := time.Duration(rand.ExpFloat64() * float64(2*time.Millisecond))
		h.Record(d)
		all = append(all, d)
	}
	slices.Sort(all)
	for _, q := range []float64{0.1, 0.5, 0.9, 0.99, 0.999} {
		exact := all[int(math.Ceil(q*float64(len(all))))-1]
		got := h.Quantile(q)
		if got < exact || float64(got-exact) > float64(exact)/subCount+1 {
			t.Errorf("Quantile(%v) = %v, exact %v", q, got, exact)
		}
	}
}

func TestHistogramEdges(t *testing.T) {
	var h Histogram
	if h.Quantile(0.99) != 0 || h.Max() != 0 || h.Count() != 0 {
		t.Fatal("an empty histogram reports non-zero")
	}
	h.Record(-5) // clock step: counted as 0
	h.Record(3 * time.Second)
	if got := h.Quantile(1); got != 3*time.Second {
		t.Errorf("Quantile(1) = %v, want the exact max 3s", got)
	}
	if got := h.Quantile(0.5); got != 0 {
		t.Errorf("Quantile(0.5) = %v, want 0", got)
	}
	var single Histogram
	single.Record(1234567)
	if got := single.Quantile(0.5); got != 1234567 {
		t.Errorf("one value: Quantile = %v, want it exactly (clamped to min and max)", got)
	}
}

func TestMergeReset(t *testing.T) {
	var a, b, sum Histogram
	for i := range 100 {
		a.Record(time.Duration(i) * time.Millisecond)
		b.Record(time.Duration(100+i) * time.Millisecond)
	}
	sum.Merge(&a)
	sum.Merge(&b)
	sum.Merge(&Histogram{}) // empty: no effect
	if sum.Count() != 200 || sum.Max() != 199*time.Millisecond {
		t.Fatalf("merged Count, Max = %d, %v", sum.Count(), sum.Max())
	}
	if got := sum.Quantile(0.5); got < 99*time.Millisecond || got > 100*time.Millisecond {
		t.Errorf("merged median %v, want about 99-100ms", got)
	}
	sum.Reset()
	if sum.Count() != 0 || sum.Quantile(0.5) != 0 {
		t.Error("Reset left values behind")
	}
	sum.Record(time.Second)
	if sum.Quantile(0) != time.Second {
		t.Errorf("after Reset the min is %v, want 1s", sum.Quantile(0))
	}
}

func TestRecorderDrain(t *testing.T) {
	var r recorder
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 1000 {
			r.Record(time.Duration(i))
		}
	}()
	var total Histogram
	for {
		r.drainInto(&total)
		select {
		case <-done:
			r.drainInto(&total)
			if total.Count() != 1000 {
				t.Fatalf("drained %d values, want 1000", total.Count())
			}
			return
		default:
		}
	}
}

func BenchmarkRecord(b *testing.B) {
	var h Histogram
	h.Record(0)
	b.ReportAllocs()
	v := time.Duration(1)
	for b.Loop() {
		h.Record(v)
		v = v*7 + 13&(1<<40-1)
	}
}
