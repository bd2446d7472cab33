package main

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// alarmBroker is a spawned warren with its AMQP, API and metrics
// addresses.
type alarmBroker struct {
	p                  *warrenProc
	amqp, api, metrics string
}

func startAlarmBroker(t *testing.T) *alarmBroker {
	t.Helper()
	p := startWarren(t, []string{"WARREN_LOG_FORMAT=json"}, "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(),
		"--management-listen", "127.0.0.1:0", "--prometheus-listen", "127.0.0.1:0")
	return &alarmBroker{p: p, amqp: logAddr(t, p, "Warren listening"),
		api: "http://" + logAddr(t, p, "management API listening"), metrics: logAddr(t, p, "Prometheus metrics listening")}
}

// node is /api/nodes' only node.
func (b *alarmBroker) node(t *testing.T) map[string]any {
	t.Helper()
	var ns []map[string]any
	if code := apiJSON(t, "GET", b.api+"/api/nodes", "guest", "", &ns); code != 200 || len(ns) != 1 {
		t.Fatalf("GET /api/nodes: %d, %d nodes", code, len(ns))
	}
	return ns[0]
}

// metric is the value of an unlabelled series of /metrics.
func (b *alarmBroker) metric(t *testing.T, name string) float64 {
	t.Helper()
	res, err := http.Get("http://" + b.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	for _, l := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == name {
			v, _ := strconv.ParseFloat(f[1], 64)
			return v
		}
	}
	t.Fatalf("no series %s in /metrics", name)
	return 0
}

// apiJSON sends body (JSON, or "") as user (password = user, guest's
// guest) and decodes the answer into out (if not nil); it returns the
// status.
func apiJSON(t *testing.T, method, url, user, body string, out any) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, user)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, raw)
		}
	}
	if m, ok := out.(*map[string]any); ok && res.StatusCode >= 300 {
		json.Unmarshal(raw, m)
	}
	return res.StatusCode
}

// waitBlocking waits for a connection.blocked (active) or unblocked.
func waitBlocking(t *testing.T, c <-chan amqp091.Blocking, active bool, reason string) {
	t.Helper()
	select {
	case b := <-c:
		if b.Active != active || (active && b.Reason != reason) {
			t.Fatalf("got %+v, want active=%v reason %q", b, active, reason)
		}
	case <-time.After(startWait):
		t.Fatalf("no connection.blocked (active=%v) within %v", active, startWait)
	}
}

// The alarm setters of `warren ctl` (rabbitmqctl set_vm_memory_high_watermark,
// set_disk_free_limit) act at once: a watermark below the memory in use
// blocks a publishing connection (connection.blocked "low on memory"),
// raising it unblocks it; a disk limit above the free space blocks with
// "low on disk". /api/nodes, the alarms health check and the metrics show
// each change.
func TestCtlAlarmSetters(t *testing.T) {
	b := startAlarmBroker(t)
	conn, err := amqp091.Dial("amqp://guest:guest@" + b.amqp + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	blocked := conn.NotifyBlocked(make(chan amqp091.Blocking, 4))
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Publish("", "nowhere", false, false, amqp091.Publishing{Body: []byte("x")}); err != nil {
		t.Fatal(err) // a publishing connection: blocked by an alarm
	}

	ctlOK(t, b.api, "set-memory-high-watermark", "absolute", "1MiB")
	waitBlocking(t, blocked, true, "low on memory")
	n := b.node(t)
	if n["mem_limit"] != float64(1<<20) || n["mem_alarm"] != true {
		t.Errorf("/api/nodes after set-memory-high-watermark absolute 1MiB: mem_limit %v mem_alarm %v, want 1048576 true", n["mem_limit"], n["mem_alarm"])
	}
	var health map[string]any
	if code := apiJSON(t, "GET", b.api+"/api/health/checks/alarms", "guest", "", &health); code != 503 ||
		!strings.Contains(toJSON(health["alarms"]), `"resource":"memory"`) {
		t.Errorf("alarms health check under the memory alarm: %d %v", code, health)
	}
	if v := b.metric(t, "rabbitmq_alarms_memory_used_watermark"); v != 1 {
		t.Errorf("rabbitmq_alarms_memory_used_watermark = %v, want 1", v)
	}
	if v := b.metric(t, "rabbitmq_resident_memory_limit_bytes"); v != 1<<20 {
		t.Errorf("rabbitmq_resident_memory_limit_bytes = %v, want 1048576", v)
	}

	ctlOK(t, b.api, "set-memory-high-watermark", "0.9")
	waitBlocking(t, blocked, false, "")
	n = b.node(t)
	memLimit, _ := n["mem_limit"].(float64)
	if n["mem_alarm"] != false || memLimit < 1<<26 {
		t.Errorf("/api/nodes after set-memory-high-watermark 0.9: mem_limit %v mem_alarm %v", n["mem_limit"], n["mem_alarm"])
	}
	if v := b.metric(t, "rabbitmq_alarms_memory_used_watermark"); v != 0 {
		t.Errorf("rabbitmq_alarms_memory_used_watermark = %v after the watermark was raised, want 0", v)
	}

	ctlOK(t, b.api, "set-disk-free-limit", "1000TB")
	waitBlocking(t, blocked, true, "low on disk")
	n = b.node(t)
	if n["disk_free_limit"] != 1e15 || n["disk_free_alarm"] != true {
		t.Errorf("/api/nodes after set-disk-free-limit 1000TB: disk_free_limit %v disk_free_alarm %v", n["disk_free_limit"], n["disk_free_alarm"])
	}
	if v := b.metric(t, "rabbitmq_alarms_free_disk_space_watermark"); v != 1 {
		t.Errorf("rabbitmq_alarms_free_disk_space_watermark = %v, want 1", v)
	}
	if v := b.metric(t, "rabbitmq_disk_space_available_limit_bytes"); v != 1e15 {
		t.Errorf("rabbitmq_disk_space_available_limit_bytes = %v, want 1e15", v)
	}

	// mem_relative: a factor of the memory the fractional watermark is
	// taken of (mem_limit / 0.9).
	ctlOK(t, b.api, "set-disk-free-limit", "mem_relative", "0.001")
	waitBlocking(t, blocked, false, "")
	n = b.node(t)
	want := memLimit / 0.9 * 0.001
	if got, _ := n["disk_free_limit"].(float64); math.Abs(got-want) > want/100 || n["disk_free_alarm"] != false {
		t.Errorf("/api/nodes after set-disk-free-limit mem_relative 0.001: disk_free_limit %v (want ~%.0f) disk_free_alarm %v", got, want, n["disk_free_alarm"])
	}
	if code := apiJSON(t, "GET", b.api+"/api/health/checks/alarms", "guest", "", nil); code != 200 {
		t.Errorf("alarms health check with no alarm: %d", code)
	}

	// Bad usage exits 2 before any request; bad bodies are 400; the
	// setters are for administrators.
	for _, args := range [][]string{
		{"set-memory-high-watermark", "1.5"}, {"set-memory-high-watermark"}, {"set-memory-high-watermark", "absolute", "lots"},
		{"set-disk-free-limit", "-5"}, {"set-disk-free-limit", "mem_relative", "x"}, {"set-disk-free-limit", "50XB"},
	} {
		if r := runCtlIn(t, b.api, "", args...); r.code != exitUsage {
			t.Errorf("warren ctl %s: exit %d, want %d\n%s", strings.Join(args, " "), r.code, exitUsage, r.stderr)
		}
	}
	for _, c := range []struct{ path, body string }{
		{"memory-high-watermark", `{"relative": 2}`}, {"memory-high-watermark", `{"relative": "x"}`},
		{"memory-high-watermark", `{"absolute": -1}`}, {"memory-high-watermark", `{}`},
		{"memory-high-watermark", `{"relative": 0.5, "absolute": 100}`}, {"memory-high-watermark", `[`},
		{"disk-free-limit", `{"limit": "50XB"}`}, {"disk-free-limit", `{"mem_relative": -1}`}, {"disk-free-limit", `{}`},
	} {
		var e map[string]any
		if code := apiJSON(t, "PUT", b.api+"/api/warren/"+c.path, "guest", c.body, &e); code != 400 || e["reason"] == "" {
			t.Errorf("PUT /api/warren/%s %s: %d %v, want 400 with a reason", c.path, c.body, code, e)
		}
	}
	ctlOK(t, b.api, "add", "user", "mon", "mon", "--tags", "monitoring")
	var e map[string]any
	if code := apiJSON(t, "PUT", b.api+"/api/warren/memory-high-watermark", "mon", `{"relative": 0.1}`, &e); code != 401 || e["reason"] != "Not administrator user" {
		t.Errorf("a monitoring user sets the watermark: %d %v, want 401 Not administrator user", code, e)
	}
	var wm map[string]any
	if code := apiJSON(t, "GET", b.api+"/api/warren/memory-high-watermark", "guest", "", &wm); code != 200 || wm["relative"] != 0.9 {
		t.Errorf("GET /api/warren/memory-high-watermark: %d %v, want relative 0.9", code, wm)
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
