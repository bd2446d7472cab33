package management

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"

	"github.com/warrenmq/warren/amqp/broker"
)

// Runtime parameters: /api/parameters[/{component}[/{vhost}[/{name}]]]
// (policymakers, in the vhosts they may use), /api/global-parameters[/{name}]
// and /api/vhost-limits[/{vhost}[/{name}]] (administrators change them;
// the vhost's users read its limits). Changes are the core's
// SetParameter, ClearParameter, SetGlobalParameter, ClearGlobalParameter,
// SetVhostLimit and ClearVhostLimit.

// parameterJSON is a runtime parameter as RabbitMQ 3.10 shows it.
type parameterJSON struct {
	Value     any    `json:"value"`
	Vhost     string `json:"vhost"`
	Component string `json:"component"`
	Name      string `json:"name"`
}

func (s *Server) getParameters(w http.ResponseWriter, r *http.Request) {
	vs, ok := s.vhostsOrOne(w, r)
	if !ok {
		return
	}
	comp := pathValue(r, "component")
	out := []parameterJSON{}
	for _, v := range vs {
		for _, p := range v.Parameters() {
			if comp == "" || p.Component == comp {
				out = append(out, parameterJSON{p.Value, p.Vhost, p.Component, p.Name})
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func findParameter(v *broker.Vhost, comp, name string) (broker.Parameter, bool) {
	for _, p := range v.Parameters() {
		if p.Component == comp && p.Name == name {
			return p, true
		}
	}
	return broker.Parameter{}, false
}

func (s *Server) getParameter(w http.ResponseWriter, r *http.Request) {
	vh := vhostParam(r)
	if !s.defVhost(w, r, vh) {
		return
	}
	p, ok := findParameter(s.b.Vhost(vh), pathValue(r, "component"), pathValue(r, "name"))
	if !ok {
		notFound(w)
		return
	}
	one(w, r, toMap(parameterJSON{p.Value, p.Vhost, p.Component, p.Name}))
}

func (s *Server) putParameter(w http.ResponseWriter, r *http.Request) {
	vh, comp, name := vhostParam(r), pathValue(r, "component"), pathValue(r, "name")
	var body map[string]any
	if !decodeBody(w, r, &body) {
		return
	}
	if !s.defVhost(w, r, vh) || !required(w, body, "value") {
		return
	}
	v := s.b.Vhost(vh)
	_, existed := findParameter(v, comp, name)
	applied(w, v, broker.SetParameter{Component: comp, Name: name, Value: broker.NormalizeJSON(body["value"])}, !existed)
}

func (s *Server) deleteParameter(w http.ResponseWriter, r *http.Request) {
	vh, comp, name := vhostParam(r), pathValue(r, "component"), pathValue(r, "name")
	if !s.defVhost(w, r, vh) {
		return
	}
	v := s.b.Vhost(vh)
	if _, ok := findParameter(v, comp, name); !ok {
		notFound(w)
		return
	}
	applied(w, v, broker.ClearParameter{Component: comp, Name: name}, false)
}

// globalParameterJSON is a global parameter as RabbitMQ shows it.
type globalParameterJSON struct {
	Value any    `json:"value"`
	Name  string `json:"name"`
}

func (s *Server) getGlobalParameters(w http.ResponseWriter, r *http.Request) {
	g := s.b.GlobalParameters()
	out := []globalParameterJSON{}
	for _, n := range slices.Sorted(maps.Keys(g)) {
		out = append(out, globalParameterJSON{g[n], n})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getGlobalParameter(w http.ResponseWriter, r *http.Request) {
	name := pathValue(r, "name")
	v, ok := s.b.GlobalParameters()[name]
	if !ok {
		notFound(w)
		return
	}
	one(w, r, toMap(globalParameterJSON{v, name}))
}

func (s *Server) putGlobalParameter(w http.ResponseWriter, r *http.Request) {
	name := pathValue(r, "name")
	var body map[string]any
	if !decodeBody(w, r, &body) || !required(w, body, "value") {
		return
	}
	_, existed := s.b.GlobalParameters()[name]
	if _, err := s.b.Apply("", broker.SetGlobalParameter{Name: name, Value: broker.NormalizeJSON(body["value"])}); err != nil {
		writeAMQPError(w, err)
		return
	}
	noContent(w, !existed)
}

func (s *Server) deleteGlobalParameter(w http.ResponseWriter, r *http.Request) {
	name := pathValue(r, "name")
	if _, ok := s.b.GlobalParameters()[name]; !ok {
		notFound(w)
		return
	}
	if _, err := s.b.Apply("", broker.ClearGlobalParameter{Name: name}); err != nil {
		writeAMQPError(w, err)
		return
	}
	noContent(w, false)
}

// vhostLimitJSON is one vhost's limits as /api/vhost-limits lists them.
type vhostLimitJSON struct {
	Vhost string           `json:"vhost"`
	Value map[string]int64 `json:"value"`
}

func (s *Server) getVhostLimits(w http.ResponseWriter, r *http.Request) {
	vs, ok := s.vhostsOrOne(w, r)
	if !ok {
		return
	}
	out := []vhostLimitJSON{}
	for _, v := range vs {
		if l := v.Limits(); len(l) > 0 {
			out = append(out, vhostLimitJSON{v.Name(), l})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// limitValue reads a limit's {"value": N} body as RabbitMQ checks it.
func limitValue(w http.ResponseWriter, r *http.Request, name string) (int64, bool) {
	var body map[string]any
	if !decodeBody(w, r, &body) || !required(w, body, "value") {
		return 0, false
	}
	num, ok := body["value"].(json.Number)
	var n int64
	if ok {
		f, err := num.Float64()
		ok = err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<62
		n = int64(f)
	}
	if !ok {
		raw, _ := json.Marshal(body["value"])
		badRequest(w, fmt.Sprintf("Validation failed\n\n%s should be a number, actually was %s\n", name, erlText(body["value"], raw)))
		return 0, false
	}
	return n, true
}

// erlText shows a JSON value as RabbitMQ's messages show the Erlang term:
// a string as <<"x">>.
func erlText(v any, raw []byte) string {
	if s, ok := v.(string); ok {
		return "<<" + strconv.Quote(s) + ">>"
	}
	return string(raw)
}

func (s *Server) putVhostLimit(w http.ResponseWriter, r *http.Request) {
	vh, name := vhostParam(r), pathValue(r, "name")
	n, ok := limitValue(w, r, name)
	if !ok || !s.defVhost(w, r, vh) {
		return
	}
	if _, err := s.b.Vhost(vh).Apply(broker.SetVhostLimit{Name: name, Value: n}); err != nil {
		writeAMQPError(w, err)
		return
	}
	noContent(w, false) // rabbitmq: 204, created or not
}

func (s *Server) deleteVhostLimit(w http.ResponseWriter, r *http.Request) {
	vh, name := vhostParam(r), pathValue(r, "name")
	if !s.defVhost(w, r, vh) {
		return
	}
	if _, err := s.b.Vhost(vh).Apply(broker.ClearVhostLimit{Name: name}); err != nil {
		writeAMQPError(w, err)
		return
	}
	noContent(w, false)
}
