package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// The cluster verbs (Warren's paths, amqp/management/cluster.go):
//
//	cluster status            GET    /api/warren/cluster
//	cluster join NAME=ADDR    POST   /api/warren/cluster/members
//	cluster leave NAME        DELETE /api/warren/cluster/members/NAME
//
// rabbitmqctl join_cluster runs on the joining node and names a member;
// here the request goes to any member (--api) and names the new node,
// which was started empty with --cluster-join (see warren --help).

func (c *ctl) cluster(rest []string) error {
	const want = "want cluster status, cluster join NAME=ADDR or cluster leave NAME"
	if len(rest) < 2 && (len(rest) == 0 || rest[0] != "status") {
		return usagef("%s", want)
	}
	switch rest[0] {
	case "status":
		if len(rest) != 1 {
			return usagef("%s", want)
		}
		return c.clusterStatus()
	case "join":
		if len(rest) != 2 {
			return usagef("%s", want)
		}
		name, addr, ok := strings.Cut(rest[1], "=")
		if !ok || name == "" || addr == "" {
			return usagef("join %q: want NAME=ADDR, the new node's --node-name and --cluster-listen address", rest[1])
		}
		if _, err := c.call("POST", p("warren", "cluster", "members"), map[string]string{"name": name, "address": addr}); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "node %s joined the cluster (a voter)\n", name)
		return nil
	case "leave":
		if len(rest) != 2 {
			return usagef("%s", want)
		}
		if _, err := c.call("DELETE", p("warren", "cluster", "members", rest[1]), nil); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "node %s left the cluster\n", rest[1])
		return nil
	}
	return usagef("%s", want)
}

// clusterStatus prints the node's view: a summary line, then a table of
// the members (match index and lag only from the leader).
func (c *ctl) clusterStatus() error {
	raw, err := c.call("GET", p("warren", "cluster"), nil)
	if err != nil {
		return err
	}
	if c.o.format == "json" {
		return c.output(raw, nil)
	}
	var st struct {
		Node, Leader       string
		Clustered, Removed bool
		Term               uint64
		Commit             uint64 `json:"commit_index"`
		Applied            uint64 `json:"applied_index"`
		Snapshot           uint64 `json:"snapshot_index"`
		Members            []map[string]any
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&st); err != nil {
		return fmt.Errorf("the API answered with no cluster status: %q", raw)
	}
	if !st.Clustered {
		fmt.Fprintf(c.stdout, "node %s is not clustered (a single node; start it with --cluster-listen to run Raft)\n", st.Node)
		return nil
	}
	leader := st.Leader
	if leader == "" {
		leader = "(none known)"
	}
	fmt.Fprintf(c.stdout, "node %s: leader %s, term %d, commit index %d, applied index %d, snapshot index %d\n",
		st.Node, leader, st.Term, st.Commit, st.Applied, st.Snapshot)
	if st.Removed {
		fmt.Fprintf(c.stdout, "node %s was removed from the cluster: its Raft is stopped\n", st.Node)
	}
	if st.Node != st.Leader && st.Leader != "" {
		fmt.Fprintf(c.stdout, "(match index and lag are known to the leader, %s: ask it for them)\n", st.Leader)
	}
	return writeTable(c, st.Members, []string{"name", "role", "leader", "running", "peer_address", "match_index", "lag"})
}
