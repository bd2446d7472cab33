package metrics

import (
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/storage"
)

// Config configures a Handler.
type Config struct {
	Server *server.Server // the AMQP front end, and through it the broker core
	// Store, if set, gives the disk figures and the disk alarm
	// (storage.Store.DiskFree, MinFreeBytes, Admit); else DataDir's file
	// system is read for the free space.
	Store   *storage.Store
	DataDir string
	Version string // Warren's, in build_info; "" is server.Version
	// NodeName and ClusterName label identity_info (rabbitmq_node,
	// rabbitmq_cluster), which RabbitMQ's dashboards join every query on.
	// "": "warren@" and the host name, and "warren" (the cluster_name
	// Warren's connection.start advertises).
	NodeName, ClusterName string
	// MemoryLimit is resident_memory_limit_bytes; 0: GOMEMLIMIT if set,
	// else the machine's memory (Warren blocks no publisher on memory).
	MemoryLimit int64
	Logger      *zap.Logger // nil: no logging
	// Streams counts the stream protocol's connections into the
	// connection figures (rabbitmq: connections of every protocol); nil:
	// none.
	Streams StreamConnections
}

// StreamConnections is the stream protocol front end's connection counts
// (*streamserver.Server implements it).
type StreamConnections interface {
	ConnectionCount() int
	Totals() (opened, closed uint64)
}

// Handler serves RabbitMQ's Prometheus endpoints: /metrics (aggregated),
// /metrics/per-object and /metrics/detailed?family=...&vhost=....
type Handler struct {
	cfg   Config
	start time.Time
	descs descs
	agg   http.Handler
	per   http.Handler
}

// New returns a Handler for cfg.
func New(cfg Config) *Handler {
	if cfg.Version == "" {
		cfg.Version = server.Version
	}
	if cfg.NodeName == "" {
		host, _ := os.Hostname()
		cfg.NodeName = "warren@" + host
	}
	if cfg.ClusterName == "" {
		cfg.ClusterName = "warren"
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	h := &Handler{cfg: cfg, start: time.Now()}
	h.agg = h.handlerFor(h.registry(&collector{h: h, mode: aggregated}, true))
	h.per = h.handlerFor(h.registry(&collector{h: h, mode: perObject}, true))
	return h
}

// registry holds c and, for the aggregated and per-object outputs, Go's
// runtime and process collectors (go_*, process_*).
func (h *Handler) registry(c prometheus.Collector, runtime bool) *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(c)
	if runtime {
		r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return r
}

func (h *Handler) handlerFor(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorLog: zapErrorLog{h.cfg.Logger}, ErrorHandling: promhttp.ContinueOnError})
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "Method Not Allowed: the metrics endpoints answer GET and HEAD", http.StatusMethodNotAllowed)
		return
	}
	switch strings.TrimSuffix(r.URL.Path, "/") {
	case "/metrics":
		h.agg.ServeHTTP(w, r)
	case "/metrics/per-object":
		h.per.ServeHTTP(w, r)
	case "/metrics/detailed":
		h.detailed(w, r)
	default:
		http.Error(w, "Not Found: the metrics endpoints are /metrics, /metrics/per-object and /metrics/detailed?family=...", http.StatusNotFound)
	}
}

// detailed serves /metrics/detailed: the families asked for (unknown ones
// ignored), for the vhosts asked for. Without a family the output is
// empty, as RabbitMQ's.
func (h *Handler) detailed(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	fams := q["family"]
	if len(fams) == 0 {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		return
	}
	c := &collector{h: h, mode: detailed, families: map[string]bool{}}
	for _, f := range fams {
		c.families[f] = true
	}
	if vs := q["vhost"]; len(vs) > 0 {
		c.vhosts = map[string]bool{}
		for _, v := range vs {
			c.vhosts[v] = true
		}
	}
	h.handlerFor(h.registry(c, false)).ServeHTTP(w, r)
}

// zapErrorLog is promhttp's error log.
type zapErrorLog struct{ log *zap.Logger }

func (l zapErrorLog) Println(v ...any) { l.log.Sugar().Warnln(append([]any{"prometheus:"}, v...)...) }

// clientVersion is client_golang's version, as build_info's
// prometheus_client_version.
var clientVersion = func() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/prometheus/client_golang" {
				return d.Version
			}
		}
	}
	return "unknown"
}()

func goVersion() string { return runtime.Version() }
