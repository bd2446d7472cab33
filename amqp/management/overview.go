package management

import (
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/warrenmq/warren/amqp/broker"
)

// The node: /api/overview, /api/whoami, /api/nodes, /api/extensions.

// rabbitmqVersion is the RabbitMQ release whose management API this one
// follows; tools that check rabbitmq_version read it.
const rabbitmqVersion = "3.10.8"

func exchangeTypes() []map[string]any {
	t := func(name, desc string) map[string]any {
		return map[string]any{"name": name, "description": desc, "enabled": true}
	}
	return []map[string]any{
		t("direct", "AMQP direct exchange, as per the AMQP specification"),
		t("fanout", "AMQP fanout exchange, as per the AMQP specification"),
		t("headers", "AMQP headers exchange, as per the AMQP specification"),
		t("topic", "AMQP topic exchange, as per the AMQP specification"),
		t("x-delayed-message", "Delayed Message Exchange"),
	}
}

// visibleVhosts are the vhost infos u may see, by name.
func (s *Server) visibleVhosts(u *User) []broker.VhostInfo {
	vs := s.b.VhostInfos()
	return slices.DeleteFunc(vs, func(v broker.VhostInfo) bool { return !u.mayUse(v.Name) })
}

func (s *Server) getOverview(w http.ResponseWriter, r *http.Request) {
	lengths, rates, ok := historyRanges(w, r)
	if !ok {
		return
	}
	u := userOf(r)
	smp := s.stats.current()
	var val, rate vec
	var exchanges, queues, consumers int
	var names []string
	for _, v := range s.visibleVhosts(u) {
		names = append(names, v.Name)
		exchanges += v.Exchanges
		queues += v.Queues
		consumers += v.Consumers
		x := vhostVec(&v)
		val.add(&x)
		vs := smp.vhost(v.Name)
		rate.add(&vs.rate)
	}
	conns, chans := 0, 0
	for _, c := range s.reg.Connections() {
		if s.seesConnection(u, c.User, c.Vhost) {
			conns++
			chans += c.Channels
		}
	}
	conns += len(s.streamConnsOf(u, "")) // rabbitmq: stream connections count

	qt := map[string]any{}
	putGauges(qt, &val, &rate)
	msgStats := messageStats(vhostStats(), &val, &rate)
	series := func(st stat, rg historyRange) []point {
		return s.stats.hist.vhostsSeries(names, col(int(st)), rg)
	}
	addSamples(qt, gaugeStats[:], lengths, series)
	addSamples(msgStats, vhostStats(), rates, series)
	var listeners []map[string]any
	for _, l := range s.listeners() {
		listeners = append(listeners, s.listenerJSON(l))
	}
	one(w, r, map[string]any{
		"management_version":        rabbitmqVersion,
		"rates_mode":                "basic",
		"sample_retention_policies": map[string]any{"global": []int{600, 3600, 28800, 86400}, "basic": []int{600, 3600}, "detailed": []int{600}},
		"exchange_types":            exchangeTypes(),
		"product_version":           s.cfg.Version,
		"product_name":              "Warren",
		"rabbitmq_version":          rabbitmqVersion,
		"cluster_name":              s.cfg.ClusterName,
		"erlang_version":            runtime.Version(),
		"erlang_full_version":       runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		"disable_stats":             false,
		"enable_queue_totals":       false,
		"message_stats":             msgStats,
		"queue_totals":              qt,
		"object_totals": map[string]any{
			"channels": chans, "connections": conns, "consumers": consumers,
			"exchanges": exchanges, "queues": queues,
		},
		"statistics_db_event_queue": 0,
		"node":                      s.cfg.NodeName,
		"listeners":                 listeners,
		"contexts":                  []any{},
	})
}

// vhostVec is a vhost's figures, read live.
func vhostVec(v *broker.VhostInfo) vec {
	x := deliveryVec(&v.Counters)
	x[statPublish] = float64(v.Exchange.PublishIn)
	x[statDropUnroutable] = float64(v.Exchange.Unroutable)
	x[statReady] = float64(v.Ready)
	x[statUnacked] = float64(v.Unacked)
	x[statMessages] = float64(v.Ready + v.Unacked)
	return x
}

func (s *Server) listenerJSON(l Listener) map[string]any {
	ip, port := "", 0
	if ta, ok := l.Addr.(*net.TCPAddr); ok {
		ip, port = ta.IP.String(), ta.Port
		if ta.IP == nil || ta.IP.IsUnspecified() {
			ip = "::"
		}
	}
	return map[string]any{"node": s.cfg.NodeName, "protocol": l.Protocol, "ip_address": ip, "port": port}
}

func (s *Server) getWhoami(w http.ResponseWriter, r *http.Request) {
	u := userOf(r)
	tags := u.Tags
	if tags == nil {
		tags = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": u.Name, "tags": tags})
}

func (s *Server) getExtensions(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, []any{})
}

func (s *Server) nodeJSON() map[string]any {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := map[string]any{
		"name":                    s.cfg.NodeName,
		"type":                    "disc",
		"running":                 true,
		"uptime":                  time.Since(s.started).Milliseconds(),
		"os_pid":                  strconv.Itoa(os.Getpid()),
		"processors":              runtime.NumCPU(),
		"rates_mode":              "basic",
		"run_queue":               0,
		"mem_used":                ms.Sys - ms.HeapReleased,
		"mem_limit":               0,
		"mem_alarm":               false,
		"proc_used":               runtime.NumGoroutine(),
		"proc_total":              0,
		"sockets_used":            len(s.reg.Connections()),
		"disk_free_alarm":         false,
		"partitions":              []any{},
		"exchange_types":          exchangeTypes(),
		"auth_mechanisms":         []map[string]any{{"name": "PLAIN", "enabled": true}, {"name": "AMQPLAIN", "enabled": true}},
		"applications":            []any{},
		"enabled_plugins":         []string{"rabbitmq_management"},
		"cluster_links":           []any{},
		"net_ticktime":            60,
		"gc_num":                  ms.NumGC,
		"fd_used":                 fdUsed(),
		"sockets_total":           0,
		"fd_total":                0,
		"disk_free":               0,
		"disk_free_limit":         0,
		"db_dir":                  "",
		"config_files":            []any{},
		"log_files":               []any{},
		"metrics_gc_queue_length": map[string]any{},
	}
	if st := s.b.Store(); st != nil {
		m["disk_free"] = st.DiskFree()
		m["disk_free_limit"] = st.MinFreeBytes()
		m["disk_free_alarm"] = st.Admit() != nil
	}
	s.putNodeAlarms(m) // alarms.go
	return m
}

// fdUsed counts the process's open file descriptors (Linux), or 0.
func fdUsed() int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(es)
}

func (s *Server) getNodes(w http.ResponseWriter, r *http.Request) {
	list(w, r, s.clusterNodes(), func(m *map[string]any) string { return (*m)["name"].(string) }, // cluster.go
		func(m *map[string]any) map[string]any { return *m })
}

func (s *Server) getNode(w http.ResponseWriter, r *http.Request) {
	for _, n := range s.clusterNodes() {
		if n["name"] == pathValue(r, "node") {
			one(w, r, n)
			return
		}
	}
	notFound(w)
}
