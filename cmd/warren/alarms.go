package main

import (
	"os"
	"runtime/debug"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/alarm"
	"github.com/warrenmq/warren/storage"
)

// watermarkValue is --memory-high-watermark: a fraction of the machine's
// or the cgroup's memory (0.6, RabbitMQ's default) or an absolute size
// (2GiB), read by alarm.ParseWatermark.
type watermarkValue struct{ w alarm.Watermark }

func (v *watermarkValue) Set(s string) error {
	w, err := alarm.ParseWatermark(s)
	if err != nil {
		return err
	}
	v.w = w
	return nil
}

func (v *watermarkValue) String() string { return v.w.String() }
func (v *watermarkValue) Type() string   { return "watermark" }

// newMonitor is the resource monitor: the memory watermark, and the disk
// alarm on the store's free space and --disk-free-limit.
func newMonitor(c *config, store *storage.Store, log *zap.Logger) *alarm.Monitor {
	cfg := alarm.Config{Logger: log, MemoryHighWatermark: c.memoryWatermark.w, Reclaim: debug.FreeOSMemory}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		// The runtime collects harder 5% above the watermark instead of
		// at twice the live heap: garbage does not carry the memory far
		// past the watermark between two checks. GOMEMLIMIT, if set, wins.
		cfg.WatermarkSet = func(n int64) { debug.SetMemoryLimit(n + n/20) }
	}
	if store != nil && store.MinFreeBytes() >= 0 {
		cfg.Disk = store
	}
	m := alarm.New(cfg)
	log.Info("resource alarms", zap.Stringer("memory_high_watermark", c.memoryWatermark.w),
		zap.Int64("memory_limit", alarm.MemoryLimit()), zap.Int64("disk_free_limit", int64(c.diskFreeLimit)))
	return m
}
