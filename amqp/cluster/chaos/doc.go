// Package chaos is Warren's fault-injection harness and its Jepsen-style
// checkers: it runs real `warren` processes on loopback with a
// fault-injecting TCP proxy on every directed peer link, drives them with
// AMQP clients (amqp091-go) while it injects faults, heals everything,
// and checks what the clients saw. TestFaults (`make test`) runs a short
// schedule of each fault; tools/warren-chaos (`make chaos`) a long random
// one. It is test support: the broker never imports it.
//
// # Map
//
//	process.go   BuildWarren; one warren process: its own process group, its
//	             addresses as it reported them (every listener on 127.0.0.1:0),
//	             kill -9, SIGSTOP/SIGCONT, SIGTERM
//	cluster.go   Cluster: N nodes (n1, n2, ...), a Proxy per directed link,
//	             Restart on the same data dir, HealAll, Close (nothing left)
//	proxy.go     Proxy: one directed link a->b; cut, delay, drop (resets)
//	fault.go     Fault kinds, Inject/Heal/Run, RandomSchedule (seeded)
//	workload.go  Workload: publishers with confirms (publisher id and sequence
//	             number in the headers), consumers that ack; both reconnect
//	history.go   History: every message sent, confirmed, nacked, delivered
//	check.go     Check: lost, invented, duplicates (explained or not), order
//	defs.go      DefsWorkload (declare/delete through random nodes, what was
//	             committed); the definitions checker (every node's
//	             /api/definitions compared, polled until they agree)
//	run.go       Run: workloads under a schedule, heal, drain, check; Summary
//	timeline.go  Timeline: the events with their times (the failover timeline)
//
// # The links
//
// Node a is started with --cluster-peers naming, for every other node b,
// the address of the proxy of a->b; its own --cluster-listen is
// 127.0.0.1:0 and the proxies of x->a follow a's address across restarts.
// The peer link carries one direction only (a dials b to send its Raft
// messages; b dials a for its own), so a cut of the proxy a->b is a
// one-way partition and a cut of both a->b and b->a a full one:
//
//	n1 ---[proxy n1->n2]---> n2        Cut       n1<->n2 both proxies
//	n1 <--[proxy n2->n1]---- n2        CutOneWay n1->n2  one proxy
//	n1 ---[proxy n1->n3]---> n3        Partition n1      all four of n1
//	...                                Delay, Drop       all four of a node
//
// Clients are not proxied: they dial a node's AMQP address, which
// changes when it restarts (Cluster.AMQPURL gives the current one).
//
// # Guarantees checked
//
// Lost (confirmed, never consumed) = 0; invented (consumed, never
// published) = 0; every duplicate explained by its redelivered flag, a
// consumer connection that broke after the first delivery, or a fault
// between the two; per-publisher order among first deliveries (one
// consumer); after healing, every node's definitions agree with each
// other and with every object the definitions workload saw committed
// (present or deleted), polled with a deadline.
//
// Until quorum queues are replicated, messages stay on the node they
// were published to: the message workload's Target (a queue, its type,
// the nodes publishers and consumers use) is a durable classic queue on
// n1, published to and consumed from n1, whose guarantee every fault
// keeps (a kill -9 of n1 loses nothing confirmed). With quorum queues,
// CHAOS_QUEUE_TYPE=quorum and publishers and consumers on every node.
//
// # Concurrency
//
// Cluster.mu guards the running processes (a leaf); Proxy.mu guards a
// link's state and connections (a leaf); each proxied connection has two
// goroutines per direction (reader, writer holding chunks for the delay).
// History and Timeline are guarded by their own mutexes. Nothing waits by
// sleeping: a fault is held on a timer (schedule time), effects are
// polled with deadlines. Every process runs in its own process group with
// SIGKILL as its parent-death signal; Close kills them all and waits.
package chaos
