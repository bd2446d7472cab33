package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// quorumView is what GET /api/queues/{vhost}/{name} shows of a quorum
// queue's replicas (RabbitMQ's leader, members and online).
type quorumView struct {
	Type    string
	Leader  string
	Members []string
	Online  []string
}

// TestQuorumQueueReplicasInAPI: three warren processes; every node's API
// shows a quorum queue's one leader, its three members and those online,
// as RabbitMQ does; a member killed leaves the online list.
func TestQuorumQueueReplicasInAPI(t *testing.T) {
	names := []string{"n1", "n2", "n3"}
	peer := map[string]string{}
	var peers []string
	for _, n := range names {
		peer[n] = freeAddr(t)
		peers = append(peers, n+"="+peer[n])
	}
	nodes := map[string]*ctlBroker{}
	for _, n := range names {
		nodes[n] = startClusterNode(t, t.TempDir(), n, peer[n], "--cluster-peers", strings.Join(peers, ","))
	}
	_, ch := dialCtl(t, nodes["n1"].amqpURL)
	eventually := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("not within 20s: %s", what)
			}
			<-time.After(50 * time.Millisecond) // poll
		}
	}
	eventually("the queue declared", func() bool {
		_, err := ch.QueueDeclare("qq-api", true, false, false, false, amqp091.Table{"x-queue-type": "quorum"})
		if err != nil {
			_, ch = dialCtl(t, nodes["n1"].amqpURL)
		}
		return err == nil
	})
	view := func(n string) quorumView {
		var v quorumView
		apiGet(t, nodes[n].apiURL, "/api/queues/%2F/qq-api", &v)
		slices.Sort(v.Members)
		slices.Sort(v.Online)
		return v
	}
	var leader string
	eventually("every node shows one leader and three members online", func() bool {
		leader = view("n1").Leader
		for _, n := range names {
			v := view(n)
			if v.Type != "quorum" || v.Leader == "" || v.Leader != leader || !slices.Equal(v.Members, names) || !slices.Equal(v.Online, names) {
				t.Logf("%s: %+v", n, v)
				return false
			}
		}
		return true
	})
	victim := "n1"
	if leader == victim {
		victim = "n2"
	}
	nodes[victim].p.cmd.Process.Kill()
	var want []string
	for _, n := range names {
		if n != victim {
			want = append(want, n)
		}
	}
	eventually(victim+" leaves the online list on the leader "+leader, func() bool {
		v := view(leader)
		return slices.Equal(v.Members, names) && slices.Equal(v.Online, want) && v.Leader == leader
	})
}
