package management

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/warrenmq/warren/amqp/management/console"
)

// routes registers every endpoint with its gate (auth.go).
func (s *Server) routes() {
	m := s.mux
	mg, mon, adm := levelManagement, levelMonitoring, levelAdministrator
	h := func(pattern string, need level, f http.HandlerFunc) { m.HandleFunc(pattern, s.authed(need, f)) }

	h("GET /api/overview", mg, s.getOverview)
	h("GET /api/whoami", mg, s.getWhoami)
	h("GET /api/extensions", mg, s.getExtensions)
	h("GET /api/nodes", mon, s.getNodes)
	h("GET /api/nodes/{node}", mon, s.getNode)

	h("GET /api/vhosts", mg, s.getVhosts)
	h("GET /api/vhosts/{vhost}", adm, s.getVhost) // rabbitmq 3.10: administrators only
	h("PUT /api/vhosts/{vhost}", adm, s.putVhost)
	h("DELETE /api/vhosts/{vhost}", adm, s.deleteVhost)
	h("GET /api/vhosts/{vhost}/connections", mg, s.getVhostConnections)
	h("GET /api/vhosts/{vhost}/channels", mg, s.getVhostChannels)

	h("GET /api/exchanges", mg, s.getExchanges)
	h("GET /api/exchanges/{vhost}", mg, s.getExchanges)
	h("GET /api/exchanges/{vhost}/{name}", mg, s.getExchange)
	h("PUT /api/exchanges/{vhost}/{name}", mg, s.putExchange)
	h("DELETE /api/exchanges/{vhost}/{name}", mg, s.deleteExchange)
	h("POST /api/exchanges/{vhost}/{name}/publish", mg, s.publish)
	h("GET /api/exchanges/{vhost}/{name}/bindings/source", mg, s.getExchangeBindings(true))
	h("GET /api/exchanges/{vhost}/{name}/bindings/destination", mg, s.getExchangeBindings(false))

	h("GET /api/queues", mg, s.getQueues)
	h("GET /api/queues/{vhost}", mg, s.getQueues)
	h("GET /api/queues/{vhost}/{name}", mg, s.getQueue)
	h("PUT /api/queues/{vhost}/{name}", mg, s.putQueue)
	h("DELETE /api/queues/{vhost}/{name}", mg, s.deleteQueue)
	h("DELETE /api/queues/{vhost}/{name}/contents", mg, s.purgeQueue)
	h("POST /api/queues/{vhost}/{name}/get", mg, s.getMessages)
	h("GET /api/queues/{vhost}/{name}/bindings", mg, s.getQueueBindings)
	h("POST /api/queues/{vhost}/{name}/actions/move", mg, s.moveMessages) // warren: move.go

	h("GET /api/bindings", mg, s.getBindings)
	h("GET /api/bindings/{vhost}", mg, s.getBindings)
	for _, kind := range []string{"q", "e"} {
		base := "/api/bindings/{vhost}/e/{source}/" + kind + "/{dest}"
		h("GET "+base, mg, s.getBindingsBetween(kind))
		h("POST "+base, mg, s.postBinding(kind))
		h("GET "+base+"/{props}", mg, s.getBinding(kind))
		h("DELETE "+base+"/{props}", mg, s.deleteBinding(kind))
	}

	s.streamRoutes(h) // streamconns.go
	h("GET /api/connections", mg, s.getConnections)
	h("GET /api/connections/{name}", mg, s.getConnection)
	h("DELETE /api/connections/{name}", mg, s.deleteConnection)
	h("GET /api/connections/{name}/channels", mg, s.getConnectionChannels)
	h("GET /api/channels", mg, s.getChannels)
	h("GET /api/channels/{name}", mg, s.getChannel)
	h("GET /api/consumers", mg, s.getConsumers)
	h("GET /api/consumers/{vhost}", mg, s.getConsumers)

	h("GET /api/aliveness-test/{vhost}", mg, s.aliveness)
	h("GET /api/health/checks/alarms", mg, s.healthAlarms)
	h("GET /api/health/checks/local-alarms", mg, s.healthAlarms)
	h("GET /api/health/checks/virtual-hosts", mg, s.healthVhosts)
	h("GET /api/health/checks/port-listener/{port}", mg, s.healthPort)
	h("GET /api/health/checks/protocol-listener/{proto}", mg, s.healthProtocol)
	h("GET /api/health/checks/node-is-quorum-critical", mg, s.healthQuorumCritical)

	s.defRoutes(h)
	s.alarmRoutes(h) // warren: alarms.go

	s.clusterRoutes(h) // warren: cluster.go

	m.HandleFunc("/api/", s.noRoute)
	m.Handle("/", console.Handler()) // the web console (amqp/management/console)
}

// noRoute answers a path no endpoint has: 405 with Allow when it is
// another method's (rabbitmq: an empty body), else 404.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete} {
		if method == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = method
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/api/" {
			allowed = append(allowed, method)
		}
	}
	if len(allowed) == 0 {
		notFound(w)
		return
	}
	if slices.Contains(allowed, http.MethodGet) {
		allowed = append(allowed, http.MethodHead)
	}
	w.Header().Set("Allow", strings.Join(append(allowed, http.MethodOptions), ", "))
	w.WriteHeader(http.StatusMethodNotAllowed)
}

// slashSegment stands for a path segment that is exactly "%2F" (the
// vhost "/"): net/http's ServeMux unescapes segments before matching but
// takes an unescaped "/" for a trailing slash, which no wildcard
// matches. ServeHTTP rewrites such a segment to "%2F%00" and pathValue
// maps it back. A name cannot hold a NUL (it would not survive AMQP's
// own checks either).
const slashSegment = "/\x00"

// fixSlashSegments rewrites segments "%2F" of r's path (see
// slashSegment), and drops a trailing slash as RabbitMQ's router does
// (rabbit-hole lists all bindings at /api/bindings/).
func fixSlashSegments(r *http.Request) {
	esc := r.URL.EscapedPath()
	if len(esc) > len("/api/") && strings.HasSuffix(esc, "/") {
		esc = strings.TrimRight(esc, "/")
		p, err := url.PathUnescape(esc)
		if err != nil {
			return
		}
		u := *r.URL
		u.Path, u.RawPath = p, esc
		r.URL = &u
	}
	if !strings.Contains(esc, "%2F") && !strings.Contains(esc, "%2f") {
		return
	}
	segs := strings.Split(esc, "/")
	changed := false
	for i, seg := range segs {
		if seg == "%2F" || seg == "%2f" {
			segs[i] = "%2F%00"
			changed = true
		}
	}
	if !changed {
		return
	}
	raw := strings.Join(segs, "/")
	p, err := url.PathUnescape(raw)
	if err != nil {
		return
	}
	u := *r.URL
	u.Path, u.RawPath = p, raw
	r.URL = &u
}

// pathValue is r.PathValue, unescaped, with a "/" segment restored.
func pathValue(r *http.Request, name string) string {
	v := r.PathValue(name)
	if v == slashSegment {
		return "/"
	}
	return v
}

// vhostParam is the {vhost} of the path ("" when the route has none).
func vhostParam(r *http.Request) string { return pathValue(r, "vhost") }

// exchangeParam is an exchange name of the path: amq.default is the
// default exchange, "".
func exchangeParam(r *http.Request, name string) string {
	x := pathValue(r, name)
	if x == "amq.default" {
		return ""
	}
	return x
}
