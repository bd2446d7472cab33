package alarm

import (
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Resource is what an alarm is about.
type Resource uint8

const (
	Memory Resource = 1 << iota
	Disk
)

func (r Resource) String() string {
	switch r {
	case Memory:
		return "memory"
	case Disk:
		return "disk"
	}
	return "unknown"
}

// Set is the set of raised alarms.
type Set uint8

// Has reports whether r's alarm is raised.
func (s Set) Has(r Resource) bool { return s&Set(r) != 0 }

// Resources lists the raised alarms, memory first.
func (s Set) Resources() []Resource {
	var rs []Resource
	for _, r := range []Resource{Memory, Disk} {
		if s.Has(r) {
			rs = append(rs, r)
		}
	}
	return rs
}

// Reason is connection.blocked's reason for s, as RabbitMQ words it:
// "low on memory", "low on disk", "low on memory & disk".
func (s Set) Reason() string {
	var names []string
	for _, r := range s.Resources() {
		names = append(names, r.String())
	}
	return "low on " + strings.Join(names, " & ")
}

// DiskSource gives the free disk space and the limit below which the disk
// alarm is raised. storage.Store implements it.
type DiskSource interface {
	DiskFree() int64     // bytes; <0 while unknown
	MinFreeBytes() int64 // bytes; <0: no limit
	SetMinFreeBytes(n int64)
}

// Config configures a Monitor.
type Config struct {
	Logger *zap.Logger // nil: no logging
	// MemoryHighWatermark; zero: DefaultWatermark (0.6).
	MemoryHighWatermark Watermark
	// MemoryLimit is the memory a fractional watermark is a fraction of;
	// 0: MemoryLimit() (the machine's or the cgroup's).
	MemoryLimit int64
	// MemoryUsed reads the memory the watermark is compared with; nil:
	// ProcessMemory.
	MemoryUsed func() int64
	// Disk gives the free space and the limit; nil: no disk alarm.
	Disk DiskSource
	// Interval between two checks near a threshold; 0: 10ms (a read of
	// /proc/self/statm costs a few microseconds; a flooding publisher can
	// add 100 MiB a second, and the alarm must stop it close to the
	// watermark: 5 MiB in 50ms, 8% of a 64 MiB watermark). Far from both
	// thresholds the monitor checks less often, down to once a second
	// (see next).
	Interval time.Duration
	// Reclaim, if set, is called while the memory alarm is raised, at most
	// once a second, to give freed memory back to the system (cmd/warren
	// passes debug.FreeOSMemory: the Go runtime returns freed pages only
	// slowly on its own, and the alarm would outlast the backlog that
	// raised it by minutes).
	Reclaim func()
	// WatermarkSet, if set, is called with the watermark in bytes by New
	// and on every SetMemoryHighWatermark (cmd/warren sets the Go
	// runtime's soft memory limit a little above it, so that garbage does
	// not pile up past the watermark between two checks).
	WatermarkSet func(bytes int64)
}

// Status is the alarm state with the figures behind it, named as
// RabbitMQ's /api/nodes fields.
type Status struct {
	MemUsed       int64 `json:"mem_used"`
	MemLimit      int64 `json:"mem_limit"` // the watermark in bytes
	MemAlarm      bool  `json:"mem_alarm"`
	DiskFree      int64 `json:"disk_free"`
	DiskFreeLimit int64 `json:"disk_free_limit"`
	DiskFreeAlarm bool  `json:"disk_free_alarm"`
	// MemTotal is the memory a fractional watermark is taken of.
	MemTotal  int64     `json:"-"`
	Watermark Watermark `json:"-"`
}

// Monitor raises and clears the memory and disk alarms.
type Monitor struct {
	cfg  Config
	log  *zap.Logger
	stop chan struct{}
	done chan struct{}

	mu struct {
		sync.Mutex
		watermark Watermark
		status    Status
		alarms    Set
		subs      []func(Set)
		started   bool
	}
	// notifyMu orders the notifications: two checks racing (the loop and
	// a setter's Check) deliver their changes in order. It also guards
	// lastReclaim.
	notifyMu    sync.Mutex
	lastReclaim time.Time
}

// New returns a Monitor for cfg; Start starts its goroutine.
func New(cfg Config) *Monitor {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.MemoryHighWatermark == (Watermark{}) {
		cfg.MemoryHighWatermark = DefaultWatermark
	}
	if cfg.MemoryLimit == 0 {
		cfg.MemoryLimit = MemoryLimit()
	}
	if cfg.MemoryUsed == nil {
		cfg.MemoryUsed = ProcessMemory
	}
	if cfg.Interval == 0 {
		cfg.Interval = 10 * time.Millisecond
	}
	m := &Monitor{cfg: cfg, log: cfg.Logger, stop: make(chan struct{}), done: make(chan struct{})}
	m.mu.watermark = cfg.MemoryHighWatermark
	if cfg.WatermarkSet != nil {
		cfg.WatermarkSet(cfg.MemoryHighWatermark.Bytes(cfg.MemoryLimit))
	}
	return m
}

// Subscribe calls fn with the raised alarms on every change (and at once,
// with the current set). fn runs on the monitor's goroutine and must not
// block.
func (m *Monitor) Subscribe(fn func(Set)) {
	m.notifyMu.Lock()
	defer m.notifyMu.Unlock()
	m.mu.Lock()
	m.mu.subs = append(m.mu.subs, fn)
	a := m.mu.alarms
	m.mu.Unlock()
	fn(a)
}

// Start checks once, then every Interval until Stop.
func (m *Monitor) Start() {
	m.mu.Lock()
	if m.mu.started {
		m.mu.Unlock()
		return
	}
	m.mu.started = true
	m.mu.Unlock()
	m.Check()
	go m.loop()
}

// Stop ends the goroutine Start started.
func (m *Monitor) Stop() {
	m.mu.Lock()
	started := m.mu.started
	m.mu.Unlock()
	if !started {
		return
	}
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	<-m.done
}

func (m *Monitor) loop() {
	defer close(m.done)
	t := time.NewTimer(m.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.Check()
			t.Reset(m.next())
		}
	}
}

// fastestGrowth is the rate, in bytes a second, at which next assumes
// memory use can grow and free disk shrink: a publisher flooding a local
// socket with large messages.
const fastestGrowth = 256 << 20

// maxInterval bounds next: an alarm threshold changed by a setter is
// checked by the setter itself, so only growth needs watching.
const maxInterval = time.Second

// CheckNear is Check when memory or disk was, at the last check, near
// enough to a threshold that the monitor checks more often than once a
// second (see next); otherwise it does nothing. A publishing connection
// calls it every MiB it reads: far from both thresholds that costs no
// read of /proc on the publish path.
func (m *Monitor) CheckNear() {
	if m.next() < max(maxInterval, m.cfg.Interval) {
		m.Check()
	}
}

// next is the wait before the next check: Interval near a threshold, and
// up to maxInterval when memory or disk is so far from it that growth at
// fastestGrowth could not cross it sooner. An idle broker with the
// default watermark checks once a second instead of twenty times.
func (m *Monitor) next() time.Duration {
	m.mu.Lock()
	st := m.mu.status
	m.mu.Unlock()
	margin, known := int64(0), false
	if st.MemLimit > 0 {
		margin, known = st.MemLimit-st.MemUsed, true
	}
	if st.DiskFree >= 0 && st.DiskFreeLimit >= 0 {
		if d := st.DiskFree - st.DiskFreeLimit; !known || d < margin {
			margin, known = d, true
		}
	}
	if margin <= 0 {
		return m.cfg.Interval
	}
	wait := time.Duration(float64(margin) / fastestGrowth * float64(time.Second))
	return min(max(wait, m.cfg.Interval), max(maxInterval, m.cfg.Interval))
}

// Check reads memory and disk now, raises or clears the alarms, and
// notifies the subscribers of a change before it returns.
func (m *Monitor) Check() {
	m.notifyMu.Lock()
	defer m.notifyMu.Unlock()
	used := m.cfg.MemoryUsed()
	free, limit := int64(-1), int64(-1)
	if m.cfg.Disk != nil {
		free, limit = m.cfg.Disk.DiskFree(), m.cfg.Disk.MinFreeBytes()
	}
	m.mu.Lock()
	w := m.mu.watermark
	st := Status{MemUsed: used, MemLimit: w.Bytes(m.cfg.MemoryLimit), MemTotal: m.cfg.MemoryLimit, Watermark: w,
		DiskFree: free, DiskFreeLimit: limit}
	// rabbitmq vm_memory_monitor: the alarm is raised above the watermark
	// and cleared at or below it.
	st.MemAlarm = st.MemLimit > 0 && used > st.MemLimit
	st.DiskFreeAlarm = free >= 0 && limit >= 0 && free < limit
	var a Set
	if st.MemAlarm {
		a |= Set(Memory)
	}
	if st.DiskFreeAlarm {
		a |= Set(Disk)
	}
	prev := m.mu.alarms
	m.mu.status = st
	m.mu.alarms = a
	subs := m.mu.subs
	m.mu.Unlock()
	if st.MemAlarm && m.cfg.Reclaim != nil && time.Since(m.lastReclaim) >= time.Second {
		m.lastReclaim = time.Now()
		m.cfg.Reclaim()
	}
	if a == prev {
		return
	}
	m.logChange(prev, a, st)
	for _, fn := range subs {
		fn(a)
	}
}

func (m *Monitor) logChange(prev, a Set, st Status) {
	if a.Has(Memory) != prev.Has(Memory) {
		if a.Has(Memory) {
			m.log.Warn("memory resource limit alarm set: publishers will be blocked until this alarm clears",
				zap.Int64("used", st.MemUsed), zap.Int64("allowed", st.MemLimit), zap.Stringer("watermark", st.Watermark))
		} else {
			m.log.Info("memory resource limit alarm cleared", zap.Int64("used", st.MemUsed), zap.Int64("allowed", st.MemLimit))
		}
	}
	if a.Has(Disk) != prev.Has(Disk) {
		if a.Has(Disk) {
			m.log.Warn("disk resource limit alarm set: publishers will be blocked until this alarm clears",
				zap.Int64("free", st.DiskFree), zap.Int64("limit", st.DiskFreeLimit))
		} else {
			m.log.Info("disk resource limit alarm cleared", zap.Int64("free", st.DiskFree), zap.Int64("limit", st.DiskFreeLimit))
		}
	}
}

// Alarms is the set of raised alarms.
func (m *Monitor) Alarms() Set {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.alarms
}

// Status is the state of the last check.
func (m *Monitor) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.status
}

// SetMemoryHighWatermark changes the watermark at run time (rabbitmqctl
// set_vm_memory_high_watermark) and checks at once.
func (m *Monitor) SetMemoryHighWatermark(w Watermark) {
	m.mu.Lock()
	m.mu.watermark = w
	m.mu.Unlock()
	if m.cfg.WatermarkSet != nil {
		m.cfg.WatermarkSet(w.Bytes(m.cfg.MemoryLimit))
	}
	m.log.Info("memory high watermark set", zap.Stringer("watermark", w), zap.Int64("bytes", w.Bytes(m.cfg.MemoryLimit)))
	m.Check()
}

// WatchesDisk reports whether the monitor has a disk to watch
// (Config.Disk), so that SetDiskFreeLimit takes effect.
func (m *Monitor) WatchesDisk() bool { return m.cfg.Disk != nil }

// SetDiskFreeLimit changes the disk free limit at run time (rabbitmqctl
// set_disk_free_limit) and checks at once. No-op without a Disk.
func (m *Monitor) SetDiskFreeLimit(n int64) {
	if m.cfg.Disk == nil {
		return
	}
	m.cfg.Disk.SetMinFreeBytes(n)
	m.log.Info("disk free limit set", zap.Int64("bytes", n))
	m.Check()
}
