package metrics_test

import (
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/warrenmq/warren/alarm"
	"github.com/warrenmq/warren/amqp/metrics"
	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
)

// rabbitmq_alarms_memory_used_watermark follows the server's memory alarm,
// and rabbitmq_resident_memory_limit_bytes is the watermark in bytes.
func TestMemoryAlarmMetric(t *testing.T) {
	var used atomic.Int64
	mon := alarm.New(alarm.Config{MemoryHighWatermark: alarm.Watermark{Absolute: 5 << 20}, MemoryUsed: used.Load})
	srv, _ := servertest.StartServer(t, server.Config{Alarms: mon})
	hs := httptest.NewServer(metrics.New(metrics.Config{Server: srv, DataDir: t.TempDir()}))
	t.Cleanup(hs.Close)
	e := &env{srv: srv, httpURL: hs.URL}
	check := func(want float64) {
		t.Helper()
		fams := e.scrape(t, "/metrics")
		if v, ok := value(fams, "rabbitmq_alarms_memory_used_watermark"); !ok || v != want {
			t.Fatalf("rabbitmq_alarms_memory_used_watermark = %v (found %v), want %v", v, ok, want)
		}
		if v, _ := value(fams, "rabbitmq_resident_memory_limit_bytes"); v != 5<<20 {
			t.Fatalf("rabbitmq_resident_memory_limit_bytes = %v, want %d", v, 5<<20)
		}
	}
	mon.Check()
	check(0)
	used.Store(6 << 20)
	mon.Check()
	check(1)
	used.Store(1 << 20)
	mon.Check()
	check(0)
}
