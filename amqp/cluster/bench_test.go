package cluster

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/storage"
)

// BenchmarkDeclare is the latency of declaring a durable queue through
// Broker.Apply: on a single node (its store's fsync), and in a cluster of
// three on the leader and on a follower (proposal, the Raft log's fsync on
// a majority, the commit, the local apply with its store's fsync).
func BenchmarkDeclare(b *testing.B) {
	run := func(b *testing.B, br *broker.Broker) {
		v := br.Vhost("/")
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			i++
			if _, err := v.Apply(broker.DeclareQueue{Name: fmt.Sprintf("bench-%d", i), Durable: true}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("single", func(b *testing.B) {
		st, err := storage.Open(storage.Options{Dir: filepath.Join(b.TempDir(), "store")})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		br := broker.New(broker.Config{Store: st})
		if _, err := br.Recover(); err != nil {
			b.Fatal(err)
		}
		run(b, br)
	})
	for _, role := range []string{"leader", "follower"} {
		b.Run("raft3-"+role, func(b *testing.B) {
			c := newCluster(b, three, func(cfg *Config) { cfg.Tick = 50e6 }, three...) // 50 ms ticks
			leader := c.waitLeader()
			node := leader
			if role == "follower" {
				for _, n := range three {
					if n != leader {
						node = n
						break
					}
				}
			}
			run(b, c.nodes[node].srv.Broker())
		})
	}
}

// BenchmarkJoin is the time for a node to join a running node that holds
// 1,000 durable queues, from the join request to the new node being a
// voter: added as a learner, caught up from a snapshot, promoted.
func BenchmarkJoin(b *testing.B) {
	const queues = 1000
	for b.Loop() {
		b.StopTimer()
		var c *testCluster
		c = newCluster(b, []string{"a", "b"}, func(cfg *Config) {
			cfg.Tick, cfg.SnapshotEntries, cfg.CatchUpEntries = 50e6, 256, 64
			cfg.Peers = map[string]string{"a": c.peers["a"]}
			cfg.Join = cfg.Name != "a"
		})
		c.start("a")
		c.waitLeader()
		v := c.nodes["a"].srv.Broker().Vhost("/")
		for i := range queues {
			if _, err := v.Apply(broker.DeclareQueue{Name: fmt.Sprintf("q-%d", i), Durable: true}); err != nil {
				b.Fatal(err)
			}
		}
		c.start("b")
		b.StartTimer()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := c.nodes["a"].node.Join(ctx, "b", c.peers["b"]); err != nil {
			b.Fatal(err)
		}
		cancel()
		b.StopTimer()
		eventually(b, 10*time.Second, func() error {
			if n := len(c.nodes["b"].srv.Broker().Vhost("/").Queues()); n < queues {
				return fmt.Errorf("the new voter has %d queues, want %d", n, queues)
			}
			return nil
		})
		for _, n := range c.running() {
			c.stop(n)
		}
		b.StartTimer()
	}
}
