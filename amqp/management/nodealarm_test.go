package management_test

import (
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warrenmq/warren/alarm"
	"github.com/warrenmq/warren/amqp/management/managementtest"
	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
)

// /api/nodes shows the memory alarm's figures as RabbitMQ does:
// mem_used, mem_limit (the watermark in bytes), mem_alarm.
func TestNodeMemoryAlarm(t *testing.T) {
	var used atomic.Int64
	used.Store(1 << 20)
	mon := alarm.New(alarm.Config{MemoryHighWatermark: alarm.Watermark{Absolute: 5 << 20}, MemoryUsed: used.Load})
	users := []server.User{{Name: "guest", PasswordHash: server.HashPassword("guest"), Tags: []string{"administrator"}}}
	srv, amqpURL := servertest.StartServer(t, server.Config{Users: users, Alarms: mon})
	_, url := managementtest.Start(t, srv, amqpURL, time.Second)
	a := &api{tb: t, url: url}
	node := func() map[string]any {
		t.Helper()
		code, body := a.do("guest", "guest", "GET", "/api/nodes", "")
		var ns []map[string]any
		if code != 200 || json.Unmarshal(body, &ns) != nil || len(ns) != 1 {
			t.Fatalf("GET /api/nodes = %d %s", code, body)
		}
		return ns[0]
	}
	mon.Check()
	n := node()
	if n["mem_limit"] != float64(5<<20) || n["mem_alarm"] != false || n["mem_used"] != float64(1<<20) {
		t.Fatalf("mem_used %v mem_limit %v mem_alarm %v: want %d, %d, false", n["mem_used"], n["mem_limit"], n["mem_alarm"], 1<<20, 5<<20)
	}
	used.Store(6 << 20)
	mon.Check()
	if n := node(); n["mem_alarm"] != true {
		t.Fatalf("mem_alarm %v over the watermark, want true", n["mem_alarm"])
	}
}
