package main

import (
	"os"
	"runtime/debug"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/alarm"
	"github.com/warrenmq/warren/amqp/server"
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
// alarm on the store's free space and --disk-free-limit. It also starts
// the GC tuner (gctune.go), whose floor follows the watermark, and the
// processor tuner (proctune.go); stop ends them.
func newMonitor(c *config, store *storage.Store, log *zap.Logger) (m *alarm.Monitor, stop func()) {
	cfg := alarm.Config{Logger: log, MemoryHighWatermark: c.memoryWatermark.w, Reclaim: debug.FreeOSMemory}
	gc := startGCTuner(c.memoryWatermark.w.Bytes(alarm.MemoryLimit()))
	procs := startProcTuner()
	_, limitSet := os.LookupEnv("GOMEMLIMIT")
	cfg.WatermarkSet = func(n int64) {
		if !limitSet {
			// The runtime collects harder 5% above the watermark instead of
			// at twice the live heap: garbage does not carry the memory far
			// past the watermark between two checks. GOMEMLIMIT, if set, wins.
			debug.SetMemoryLimit(n)
		}
		gc.SetWatermark(n)
	}
	if store != nil && store.MinFreeBytes() >= 0 {
		cfg.Disk = store
	}
	m = alarm.New(cfg)
	log.Info("resource alarms", zap.Stringer("memory_high_watermark", c.memoryWatermark.w),
		zap.Int64("memory_limit", alarm.MemoryLimit()), zap.Int64("disk_free_limit", int64(c.diskFreeLimit)))
	return m, func() { procs.Stop(); gc.Stop() }
}

// sizeForWatermark sizes what the server keeps in memory by the memory
// high watermark at start, so that a small watermark is not overshot by
// buffers sized for a large machine:
//
//   - the queues' memory budget (ready messages kept in memory; beyond it
//     bodies live on disk only), unless --memory-budget is given: half the
//     watermark, at most 128 MiB (rabbitmq: vm_memory_high_watermark_paging_ratio
//     0.5, queues page messages out at half the watermark);
//   - the cap on a connection's pending outbound bytes: 1/64 of the
//     watermark, between 256 KiB and 4 MiB (the writer double-buffers, so
//     a consumer's connection holds up to twice that).
//
// A watermark changed at run time leaves both as they are.
func sizeForWatermark(c *config, cfg *server.Config) {
	wm := c.memoryWatermark.w.Bytes(alarm.MemoryLimit())
	if wm <= 0 {
		return
	}
	if c.fs == nil || !c.fs.Changed("memory-budget") {
		cfg.MemoryBudget = min(cfg.MemoryBudget, wm/2)
	}
	cfg.MaxOutboundBytes = int(min(max(wm/64, 256<<10), 4<<20))
}
