package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp/cluster"
	"github.com/warrenmq/warren/amqp/management"
)

// parsePeers reads --cluster-peers: NAME=ADDR,...
func parsePeers(s string) (map[string]string, error) {
	peers := map[string]string{}
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		name, addr, ok := strings.Cut(p, "=")
		name, addr = strings.TrimSpace(name), strings.TrimSpace(addr)
		if !ok || name == "" || addr == "" {
			return nil, fmt.Errorf("--cluster-peers: %q is not NAME=ADDR", p)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("--cluster-peers: %s: %w", name, err)
		}
		if _, dup := peers[name]; dup {
			return nil, fmt.Errorf("--cluster-peers: %s is named twice", name)
		}
		peers[name] = addr
	}
	return peers, nil
}

// nodeName is --node-name, or warren@<host name>.
func (c *config) nodeNameOrDefault() string {
	if c.nodeName != "" {
		return c.nodeName
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return "warren@" + host
}

// newClusterNode opens this node's Raft log under <data-dir>/raft and
// listens on --cluster-listen (default: its own entry's address), when
// --cluster-peers or --cluster-listen is given; nil with neither (a
// single node, no Raft). A node with --cluster-listen alone is a cluster
// of one that others may join. With --cluster-join the peers name the
// members to reach and need not name this node. The caller starts it
// with the broker and stops it.
func newClusterNode(c *config, log *zap.Logger) (*cluster.Node, error) {
	peers, err := parsePeers(c.clusterPeers)
	if err != nil {
		return nil, err
	}
	if len(peers) == 0 && c.clusterListen == "" {
		if c.clusterJoin {
			return nil, fmt.Errorf("--cluster-join needs --cluster-listen (this node's peer link) and --cluster-peers (members of the cluster to join)")
		}
		return nil, nil
	}
	name := c.nodeNameOrDefault()
	own, ok := peers[name]
	switch {
	case c.clusterJoin:
		if len(peers) == 0 || (ok && len(peers) == 1) {
			return nil, fmt.Errorf("--cluster-join: --cluster-peers must name members of the cluster to join (NAME=ADDR of their --node-name and --cluster-listen)")
		}
	case !ok && len(peers) > 0:
		// Every node must bootstrap with the same members.
		return nil, fmt.Errorf("--cluster-peers does not name this node, %q (--node-name): give every node the same list, itself included (or --cluster-join to join a running cluster)", name)
	}
	listen := c.clusterListen
	if listen == "" {
		listen = own
	}
	if listen == "" {
		return nil, fmt.Errorf("--cluster-join: give --cluster-listen, the address of this node's peer link")
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("--cluster-listen %s: %w", listen, err)
	}
	node, err := cluster.New(cluster.Config{Name: name, Listener: ln, Peers: peers, Join: c.clusterJoin, Dir: filepath.Join(c.dataDir, "raft"), Logger: log})
	if err != nil {
		ln.Close()
		return nil, err
	}
	log.Info("cluster node", zap.String("node", name), zap.String("listen", ln.Addr().String()), zap.Int("peers", len(peers)), zap.Bool("join", c.clusterJoin))
	return node, nil
}

// clusterAPI adapts a cluster node to the management API's Cluster
// (amqp/management/cluster.go): its status, and its errors with their
// HTTP status.
type clusterAPI struct{ n *cluster.Node }

// managementCluster is node for the management API; nil for no node.
func managementCluster(node *cluster.Node) management.Cluster {
	if node == nil {
		return nil
	}
	return clusterAPI{node}
}

func (a clusterAPI) Status() management.ClusterStatus {
	s := a.n.Status()
	out := management.ClusterStatus{Node: s.Name, Leader: s.Leader, Term: s.Term, Commit: s.Commit, Applied: s.Applied,
		SnapshotIndex: s.SnapshotIndex, FirstIndex: s.FirstIndex, Removed: s.Removed}
	for _, m := range s.Nodes {
		out.Members = append(out.Members, management.ClusterMember{Name: m.Name, Addr: m.Addr, Voter: m.Voter, Leader: m.Leader,
			Running: m.Running, Known: m.Known, Match: m.Match, Lag: m.Lag})
	}
	return out
}

func (a clusterAPI) Join(ctx context.Context, name, addr string) error {
	return clusterError(a.n.Join(ctx, name, addr))
}

func (a clusterAPI) Leave(ctx context.Context, name string) error {
	return clusterError(a.n.Leave(ctx, name))
}

func (a clusterAPI) QueueReplicas(vhost, name string) (leader string, members, online []string, ok bool) {
	q, ok := a.n.QueueStatus(vhost, name)
	if !ok {
		return "", nil, nil, false
	}
	running := map[string]bool{}
	for _, m := range a.n.Status().Nodes {
		running[m.Name] = m.Running
	}
	for _, m := range q.Members {
		if running[m] {
			online = append(online, m)
		}
	}
	return q.Leader, q.Members, online, true
}

// clusterError gives a membership error its HTTP status.
func clusterError(err error) error {
	status := http.StatusServiceUnavailable
	switch {
	case err == nil:
		return nil
	case errors.Is(err, cluster.ErrInvalid):
		status = http.StatusBadRequest
	case errors.Is(err, cluster.ErrNotMember):
		status = http.StatusNotFound
	case errors.Is(err, cluster.ErrMemberExists), errors.Is(err, cluster.ErrLastVoter):
		status = http.StatusConflict
	}
	return &management.ClusterError{Status: status, Err: err}
}
