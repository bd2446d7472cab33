package management

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/alarm"
)

// The resource alarms' figures and their runtime setters.
//
// RabbitMQ changes the memory high watermark and the free disk limit
// with rabbitmqctl set_vm_memory_high_watermark and set_disk_free_limit,
// over Erlang distribution; its HTTP API has no path for them. Warren's
// `warren ctl` speaks HTTP only, so these are Warren's own paths
// (administrator only), under /api/warren/ so that they never collide
// with one of RabbitMQ's:
//
//	GET /api/warren/memory-high-watermark
//	PUT /api/warren/memory-high-watermark  {"relative": 0.4} | {"absolute": "256MiB"}
//	GET /api/warren/disk-free-limit
//	PUT /api/warren/disk-free-limit        {"limit": "50MB"} | {"mem_relative": 1.5}
//
// A PUT takes effect at once: the alarm is raised or cleared before the
// answer (204). Sizes are bytes (a JSON number) or a string with a unit
// (alarm.ParseSize: 512MB, 2GiB).

// alarmRoutes registers the paths above.
func (s *Server) alarmRoutes(h func(string, level, http.HandlerFunc)) {
	h("GET /api/warren/memory-high-watermark", levelAdministrator, s.getWatermark)
	h("PUT /api/warren/memory-high-watermark", levelAdministrator, s.putWatermark)
	h("GET /api/warren/disk-free-limit", levelAdministrator, s.getDiskLimit)
	h("PUT /api/warren/disk-free-limit", levelAdministrator, s.putDiskLimit)
}

// putNodeAlarms sets /api/nodes' memory and disk figures from the
// monitor's last check.
func (s *Server) putNodeAlarms(n map[string]any) {
	m := s.monitor()
	if m == nil {
		return
	}
	st := m.Status()
	n["mem_used"], n["mem_limit"], n["mem_alarm"] = st.MemUsed, st.MemLimit, st.MemAlarm
	if m.WatchesDisk() {
		n["disk_free"], n["disk_free_limit"], n["disk_free_alarm"] = st.DiskFree, st.DiskFreeLimit, st.DiskFreeAlarm
	}
}

// raisedAlarms lists the monitor's raised alarms as the alarms health
// check names them (memory, disk); nil without a monitor.
func (s *Server) raisedAlarms() []string {
	m := s.monitor()
	if m == nil {
		return nil
	}
	var out []string
	for _, r := range m.Alarms().Resources() {
		out = append(out, r.String())
	}
	return out
}

// alarmSource is a Registry that has a resource monitor
// (*server.Server: Config.Alarms).
type alarmSource interface{ Alarms() *alarm.Monitor }

// monitor is the node's resource monitor, or nil.
func (s *Server) monitor() *alarm.Monitor {
	if a, ok := s.reg.(alarmSource); ok {
		return a.Alarms()
	}
	return nil
}

// noMonitor answers a setter on a node without a resource monitor.
func noMonitor(w http.ResponseWriter, what string) {
	writeError(w, http.StatusServiceUnavailable, "unavailable", "this node does not watch its "+what)
}

func watermarkJSON(st alarm.Status) map[string]any {
	m := map[string]any{"mem_limit": st.MemLimit, "mem_used": st.MemUsed, "mem_alarm": st.MemAlarm}
	if st.Watermark.Absolute > 0 {
		m["absolute"] = st.Watermark.Absolute
	} else {
		m["relative"] = st.Watermark.Fraction
	}
	return m
}

func (s *Server) getWatermark(w http.ResponseWriter, r *http.Request) {
	m := s.monitor()
	if m == nil {
		noMonitor(w, "memory")
		return
	}
	writeJSON(w, http.StatusOK, watermarkJSON(m.Status()))
}

func (s *Server) putWatermark(w http.ResponseWriter, r *http.Request) {
	m := s.monitor()
	if m == nil {
		noMonitor(w, "memory")
		return
	}
	var body struct {
		Relative json.RawMessage `json:"relative"`
		Absolute json.RawMessage `json:"absolute"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	var wm alarm.Watermark
	switch {
	case body.Relative != nil && body.Absolute != nil:
		badRequest(w, "give relative or absolute, not both")
		return
	case body.Relative != nil:
		var f float64
		if err := json.Unmarshal(body.Relative, &f); err != nil || f <= 0 || f > 1 {
			badRequest(w, fmt.Sprintf("relative: want a fraction in (0, 1], got %s", body.Relative))
			return
		}
		wm.Fraction = f
	case body.Absolute != nil:
		n, err := sizeValue(body.Absolute)
		if err != nil || n <= 0 {
			badRequest(w, fmt.Sprintf("absolute: want a size above 0 such as 268435456 or \"256MiB\", got %s", body.Absolute))
			return
		}
		wm.Absolute = n
	default:
		badRequest(w, "want {\"relative\": FRACTION} or {\"absolute\": SIZE}")
		return
	}
	m.SetMemoryHighWatermark(wm)
	s.log.Info("memory high watermark set through the API", zap.String("user", userOf(r).Name), zap.String("watermark", wm.String()))
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getDiskLimit(w http.ResponseWriter, r *http.Request) {
	m := s.monitor()
	if m == nil {
		noMonitor(w, "disk")
		return
	}
	st := m.Status()
	writeJSON(w, http.StatusOK, map[string]any{"disk_free_limit": st.DiskFreeLimit, "disk_free": st.DiskFree, "disk_free_alarm": st.DiskFreeAlarm})
}

func (s *Server) putDiskLimit(w http.ResponseWriter, r *http.Request) {
	m := s.monitor()
	if m == nil || !m.WatchesDisk() {
		noMonitor(w, "disk")
		return
	}
	var body struct {
		Limit       json.RawMessage `json:"limit"`
		MemRelative json.RawMessage `json:"mem_relative"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	var n int64
	switch {
	case body.Limit != nil && body.MemRelative != nil:
		badRequest(w, "give limit or mem_relative, not both")
		return
	case body.Limit != nil:
		v, err := sizeValue(body.Limit)
		if err != nil || v < 0 {
			badRequest(w, fmt.Sprintf("limit: want a size such as 50000000 or \"50MB\", got %s", body.Limit))
			return
		}
		n = v
	case body.MemRelative != nil:
		// rabbitmq set_disk_free_limit mem_relative F: F times the
		// machine's (or cgroup's) memory.
		var f float64
		if err := json.Unmarshal(body.MemRelative, &f); err != nil || f < 0 || f > 100 {
			badRequest(w, fmt.Sprintf("mem_relative: want a factor of the memory such as 1.5, got %s", body.MemRelative))
			return
		}
		n = int64(f * float64(m.Status().MemTotal))
	default:
		badRequest(w, "want {\"limit\": SIZE} or {\"mem_relative\": FACTOR}")
		return
	}
	m.SetDiskFreeLimit(n)
	s.log.Info("disk free limit set through the API", zap.String("user", userOf(r).Name), zap.Int64("limit", n))
	w.WriteHeader(http.StatusNoContent)
}

// sizeValue reads a size given as a JSON number of bytes or a string with
// a unit.
func sizeValue(raw json.RawMessage) (int64, error) {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return strconv.ParseInt(n.String(), 10, 64)
	}
	var str string
	if err := json.Unmarshal(raw, &str); err != nil {
		return 0, err
	}
	if strings.TrimSpace(str) == "" {
		return 0, fmt.Errorf("empty size")
	}
	return alarm.ParseSize(str)
}
