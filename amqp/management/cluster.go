package management

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// The cluster: /api/nodes lists every member, and Warren's own paths
// (administrator only) show and change the membership. RabbitMQ changes
// membership with rabbitmqctl join_cluster and forget_cluster_node over
// Erlang distribution; its HTTP API has no path for them. `warren ctl
// cluster` speaks HTTP only, so these are under /api/warren/:
//
//	GET    /api/warren/cluster                 this node's view: leader, term, indexes, members
//	POST   /api/warren/cluster/members         {"name": "n4", "address": "10.0.0.4:25672"}
//	                                           204 once the node is a voter
//	DELETE /api/warren/cluster/members/{name}  204 once the node is removed
//
// Refusals: 400 bad_request (a bad name or address; a node that is not
// clustered), 404 not_found (leave: no such member), 409 conflict (join:
// already a member; leave: the last voter), 503 unavailable (not done in
// time: no quorum, or a joining node that has not caught up).

// Cluster is the node's membership of a cluster (cmd/warren adapts
// amqp/cluster's Node); nil on a single node.
type Cluster interface {
	Status() ClusterStatus
	// Join adds name (peer link at addr) and returns once it is a voter.
	Join(ctx context.Context, name, addr string) error
	// Leave removes name and returns once the removal is applied.
	Leave(ctx context.Context, name string) error
	// QueueReplicas is quorum queue name's Raft group as this node sees
	// it: its leader ("" when none is known), its members and those of
	// them that are running; ok false when this node knows no group.
	QueueReplicas(vhost, name string) (leader string, members, online []string, ok bool)
}

// ClusterStatus is a node's view of the cluster's metadata Raft group.
type ClusterStatus struct {
	Node, Leader                                     string // Leader "": none known
	Term, Commit, Applied, SnapshotIndex, FirstIndex uint64
	Removed                                          bool // this node was removed; its Raft stopped
	Members                                          []ClusterMember
}

// ClusterMember is one member as a node sees it.
type ClusterMember struct {
	Name, Addr    string
	Voter, Leader bool
	Running       bool
	Known         bool // Match and Lag are known: the node answering leads
	Match, Lag    uint64
}

// ClusterError is an error of Join or Leave with the HTTP status it
// answers with.
type ClusterError struct {
	Status int
	Err    error
}

func (e *ClusterError) Error() string { return e.Err.Error() }
func (e *ClusterError) Unwrap() error { return e.Err }

// clusterWait bounds a join or leave (the query's timeout, in seconds,
// may shorten or lengthen it up to 10 minutes).
const clusterWait = 60 * time.Second

func (s *Server) clusterRoutes(h func(string, level, http.HandlerFunc)) {
	h("GET /api/warren/cluster", levelAdministrator, s.getCluster)
	h("POST /api/warren/cluster/members", levelAdministrator, s.joinCluster)
	h("DELETE /api/warren/cluster/members/{name}", levelAdministrator, s.leaveCluster)
}

func (s *Server) getCluster(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Cluster == nil {
		writeJSON(w, http.StatusOK, map[string]any{"node": s.cfg.NodeName, "clustered": false, "members": []any{}})
		return
	}
	st := s.cfg.Cluster.Status()
	members := make([]map[string]any, 0, len(st.Members))
	for _, m := range st.Members {
		members = append(members, memberJSON(m))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"node": st.Node, "clustered": true, "removed": st.Removed, "leader": st.Leader, "term": st.Term,
		"commit_index": st.Commit, "applied_index": st.Applied, "snapshot_index": st.SnapshotIndex, "first_index": st.FirstIndex,
		"members": members,
	})
}

// memberJSON is a member under Warren's names; match_index and lag only
// when known (from the leader).
func memberJSON(m ClusterMember) map[string]any {
	role := "learner"
	if m.Voter {
		role = "voter"
	}
	j := map[string]any{"name": m.Name, "peer_address": m.Addr, "role": role, "leader": m.Leader, "running": m.Running}
	if m.Known {
		j["match_index"], j["lag"] = m.Match, m.Lag
	}
	return j
}

func (s *Server) joinCluster(w http.ResponseWriter, r *http.Request) {
	if !s.clustered(w) {
		return
	}
	var body struct {
		Name    string `json:"name"`
		Address string `json:"address"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Name == "" || body.Address == "" {
		badRequest(w, `want {"name": NODE, "address": "HOST:PORT"} (the new node's --node-name and --cluster-listen)`)
		return
	}
	ctx, cancel, ok := clusterContext(w, r)
	if !ok {
		return
	}
	defer cancel()
	if err := s.cfg.Cluster.Join(ctx, body.Name, body.Address); err != nil {
		writeClusterError(w, err)
		return
	}
	noContent(w, false)
}

func (s *Server) leaveCluster(w http.ResponseWriter, r *http.Request) {
	if !s.clustered(w) {
		return
	}
	ctx, cancel, ok := clusterContext(w, r)
	if !ok {
		return
	}
	defer cancel()
	if err := s.cfg.Cluster.Leave(ctx, pathValue(r, "name")); err != nil {
		writeClusterError(w, err)
		return
	}
	noContent(w, false)
}

func (s *Server) clustered(w http.ResponseWriter) bool {
	if s.cfg.Cluster == nil {
		badRequest(w, "node '"+s.cfg.NodeName+"' is not clustered: start it with --cluster-listen (and --node-name) to run Raft")
		return false
	}
	return true
}

// clusterContext is the request's context bounded by ?timeout=SECONDS
// (default clusterWait).
func clusterContext(w http.ResponseWriter, r *http.Request) (context.Context, context.CancelFunc, bool) {
	wait := clusterWait
	if v := r.URL.Query().Get("timeout"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 600 {
			badRequest(w, "timeout: want seconds, 1 to 600, got "+strconv.Quote(v))
			return nil, nil, false
		}
		wait = time.Duration(n) * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	return ctx, cancel, true
}

func writeClusterError(w http.ResponseWriter, err error) {
	var ce *ClusterError
	if !errors.As(err, &ce) {
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	kind := map[int]string{http.StatusBadRequest: "bad_request", http.StatusNotFound: "not_found", http.StatusConflict: "conflict"}[ce.Status]
	if kind == "" {
		kind = "unavailable"
	}
	writeError(w, ce.Status, kind, err.Error())
}

// clusterNodes is /api/nodes on a cluster: every member, this node with
// its own figures (nodeJSON), the others as this node sees them (name,
// type, running); each with Warren's cluster fields under
// "warren_cluster", this node's with the Raft group's indexes.
func (s *Server) clusterNodes() []map[string]any {
	self := s.nodeJSON()
	if s.cfg.Cluster == nil {
		return []map[string]any{self}
	}
	st := s.cfg.Cluster.Status()
	figs := s.peerFigures(st) // nodes_figures.go
	var out []map[string]any
	found := false
	for _, m := range st.Members {
		wc := memberJSON(m)
		delete(wc, "name")
		delete(wc, "running")
		if m.Name == st.Node {
			found = true
			wc["term"], wc["commit_index"], wc["applied_index"] = st.Term, st.Commit, st.Applied
			wc["snapshot_index"], wc["first_index"], wc["leader_name"] = st.SnapshotIndex, st.FirstIndex, st.Leader
			self["warren_cluster"] = wc
			out = append(out, self)
			continue
		}
		if f := figs[m.Name]; f != nil { // its own figures, over the peer link
			f["name"], f["running"], f["warren_cluster"] = m.Name, true, wc
			out = append(out, f)
			continue
		}
		// rabbitmq: a node that is down (or does not answer) shows
		// running=false and none of its figures.
		out = append(out, map[string]any{"name": m.Name, "type": "disc", "running": figs == nil && m.Running, "being_drained": false, "warren_cluster": wc})
	}
	if !found { // a node not (or no longer) a member: itself, so marked
		self["warren_cluster"] = map[string]any{"role": "none", "removed": st.Removed, "leader_name": st.Leader}
		out = append(out, self)
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["name"].(string) < out[j]["name"].(string) })
	return out
}
