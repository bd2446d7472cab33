package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp/cluster"
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
// --cluster-peers names this node and another; nil without peers or with
// this node alone (a single node, no Raft). The caller starts it with the
// broker and stops it.
func newClusterNode(c *config, log *zap.Logger) (*cluster.Node, error) {
	peers, err := parsePeers(c.clusterPeers)
	if err != nil {
		return nil, err
	}
	if len(peers) == 0 {
		return nil, nil
	}
	name := c.nodeNameOrDefault()
	own, ok := peers[name]
	if !ok {
		// Every node must bootstrap with the same members.
		return nil, fmt.Errorf("--cluster-peers does not name this node, %q (--node-name): give every node the same list, itself included", name)
	}
	if len(peers) == 1 {
		return nil, nil // a cluster of one: no Raft, as a single node
	}
	listen := c.clusterListen
	if listen == "" {
		listen = own
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("--cluster-listen %s: %w", listen, err)
	}
	node, err := cluster.New(cluster.Config{Name: name, Listener: ln, Peers: peers, Dir: filepath.Join(c.dataDir, "raft"), Logger: log})
	if err != nil {
		ln.Close()
		return nil, err
	}
	log.Info("cluster node", zap.String("node", name), zap.String("listen", ln.Addr().String()), zap.Int("members", len(peers)))
	return node, nil
}
