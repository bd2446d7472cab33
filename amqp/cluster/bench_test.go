package cluster

import (
	"fmt"
	"path/filepath"
	"testing"

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
