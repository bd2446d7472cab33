// Package metrics serves Warren's Prometheus metrics with
// rabbitmq_prometheus's endpoints, metric names, types, HELP texts,
// labels and units (RabbitMQ 3.10), so RabbitMQ's Grafana dashboards
// (RabbitMQ-Overview) draw Warren unchanged:
//
//	/metrics             aggregated: node totals, no per-object labels,
//	                     plus Go's runtime (go_*) and process (process_*)
//	/metrics/per-object  a series per queue {vhost, queue}, connection and
//	                     channel {channel}, channel and exchange
//	                     {channel, vhost, exchange}, channel and queue
//	                     {channel, vhost, queue}
//	/metrics/detailed    ?family=...&vhost=...: the families asked for,
//	                     prefixed rabbitmq_detailed_ (exchange_names,
//	                     exchange_bindings, vhost_status: rabbitmq_cluster_);
//	                     unknown families are ignored, no family gives an
//	                     empty output, as RabbitMQ's
//
// It is a front end on the read side: it imports amqp/server (connections,
// channels, the server's totals) and amqp/broker (queues, exchanges,
// bindings) and neither imports it.
//
// # Map
//
//	handler.go    Config, Handler (the three endpoints), its registries
//	collector.go  the Collector: node figures, queues, connections,
//	              channels, RabbitMQ's global counters, build and identity
//	detailed.go   the detailed families
//	families.go   the metric table: names, types and HELP texts
//	node.go       what the node metrics read from Linux (/proc, statfs)
//	streams.go    stream queues: ready = the log's length, no byte
//	              series (as RabbitMQ 3.10), and warren_stream_* per object
//
// Where Warren differs: a connection's and a channel's "channel" label is
// Warren's name for it ("127.0.0.1:54321 -> 127.0.0.1:5672 (1)"), not an
// Erlang pid; rabbitmq_queue_messages_published_total per object is per
// queue {vhost, queue} (Warren does not count per channel, queue and
// exchange); rabbitmq_erlang_uptime_seconds is the broker's uptime;
// build_info's rabbitmq_version is Warren's version, its erlang_version
// Go's, with product="Warren"; rabbitmq_resident_memory_limit_bytes is
// Config.MemoryLimit, else the memory high watermark in bytes (as
// RabbitMQ), else GOMEMLIMIT or the machine's memory, and
// rabbitmq_alarms_memory_used_watermark is the server's alarm.Monitor's
// memory alarm (0 without one). Metrics Warren has no data for (Erlang reductions and
// processes, Mnesia, Raft, I/O, stream errors, packets) are left out, not
// sent as zeros.
//
// # Concurrency
//
// Nothing is counted here: the collector reads, at scrape time, the
// counters the server and the core keep where the events happen (see
// amqp/server stats.go and amqp/broker list.go), with no Prometheus call
// on the message path and no goroutine of its own. A scrape makes one
// pass over the queues (broker.Vhost.Queues: each queue under its own
// lock for a moment), one over the connections and channels
// (server.Server.Connections, Channels, Totals) and holds no lock of its
// own but the descriptor cache's, a leaf. Scrapes may run at once.
package metrics
