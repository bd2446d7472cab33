// Command warren-perf is a load generator for AMQP 0-9-1 brokers in the
// spirit of RabbitMQ's PerfTest. It drives Warren or RabbitMQ through
// amqp091-go, prints a progress line every second and a summary at the end,
// and compares two brokers scenario by scenario.
//
// It sends load to loopback addresses only (127.0.0.0/8, ::1, localhost):
// any other host in a URL is refused. Every run is bounded by --time or
// --count (a --count run is still capped at 10 minutes), stops by itself,
// and deletes the queues and exchange it declared.
//
// # Usage
//
//	warren-perf [run] [flags]                 one run; summary on stdout, progress on stderr
//	warren-perf --scenario NAME [flags]       a preset; flags given explicitly override it
//	warren-perf compare --url A --url B [--name a --name b] [--pid A_PID --pid B_PID]
//	        [--rounds 3] [--scenario S ...|--scenarios a,b,c] [--time 5s] [--pause 1s] [--wait 10s]
//	warren-perf sweep --url A [--name a --pid P] [--url B --name b --pid Q]
//	        [--scenario rate-sweep,rate-sweep-10] [--rates 100,1000,10000,50000,100000,0]
//	        [--multiple-ack-every 1[,100]] [--step 5s] [--warmup 1s] [--pause 500ms] [--wait 10s]
//	        the rate sweep of issue 14, see below
//	warren-perf floor [--rate 1000] [--time 6s] [--size 16]
//	        the machine's latency floor: latency-1k's path through a relay
//	        process that only copies bytes, no broker (see floor.go)
//
// # Run flags
//
//	--url URL                 broker (default amqp://guest:guest@127.0.0.1:5672/)
//	--scenario NAME           preset, below
//	-x, --producers N         producer connections (1)
//	-y, --consumers N         consumer connections (1)
//	--queues N                queues to declare (1)
//	--queue-prefix P          names P-<run id>-<i> ("warren-perf"); "" for server-named queues
//	--queue-durable           durable queues (and exchange)
//	--auto-delete             auto-delete queues
//	--exclusive               exclusive queues; the consumers then share the declaring connection
//	-e, --exchange X          exchange to publish to; "" = the default exchange, routing key =
//	                          queue name (producers cycle over the queues). An amq.* exchange is
//	                          declared passively and never deleted
//	-t, --exchange-type T     direct (default), fanout, topic, headers (headers binds
//	                          x-match=all on a header the producers set)
//	-k, --routing-key K       routing key ("warren-perf")
//	--binding-key B           binding key or topic pattern ("" = the routing key)
//	--bindings N              topic: bind k.<i>.* for i < N, spread over the queues, and publish
//	                          k.<i>.x cycling over i, so each message matches exactly one binding
//	-s, --size B              body bytes (16); the first 8 carry the send time, so latency needs 8+
//	--persistent              delivery mode 2
//	-c, --confirm N           publisher confirms with at most N outstanding; 0 = off
//	-a, --autoack             consume with auto-ack
//	-q, --prefetch N          basic.qos prefetch per consumer channel (1000); 0 = unlimited
//	--multiple-ack-every N    manual ack: one multiple ack every N deliveries (100); 1 = ack each
//	-r, --rate R              msg/s per producer; 0 = flat out
//	-z, --time D              how long the producers publish (10s unless --count is given)
//	-C, --count N             messages per producer; the run ends when all routed copies arrive
//	--connections N           idle-connections: how many (500)
//	--broker-pid PID          sample /proc/PID/stat and /proc/PID/status every 100 ms: the broker's
//	                          CPU seconds during the run, its peak RSS, msg per broker CPU-second
//	--coalesce-writes         (default true) the client's socket writes are coalesced, see below
//	--raw-consumer            consumers use a minimal frame-level client on Warren's codec
//	                          (rawconsumer.go), one connection each, instead of amqp091-go: for
//	                          runs (a stream replay) where amqp091-go's consumer sets the pace;
//	                          compare takes it too, for every scenario and both brokers
//	--json                    the final result as JSON on stdout
//	--quiet                   no progress lines
//
// Consumer i takes queue i%Q when there are at least as many consumers as
// queues, else queues i, i+C, ...; each queue it takes gets its own
// channel.
//
// # Measurements
//
// Each producer writes time.Now().UnixNano() into the first 8 bytes of the
// body (big-endian); the consumer records now minus that as the end-to-end
// latency. With --confirm, the time from publish to its ack is the confirm
// latency. Latencies go into log-linear histograms (hist.go: under 0.8%
// error, no allocation per value), one per worker, drained once a second
// for the progress line (elapsed, sent, received, send and receive rates,
// latency p50/p99 over that second) and merged for the summary (p50, p95,
// p99, max). Rates are over the measurement window: the --time, or for
// --count the time to the last publish and to the last delivery.
//
// "msg per broker CPU-s" is the messages received (or, with no consumer,
// sent) per CPU-second the broker process used in the window. "client CPU
// cores" is this tool's own CPU-seconds per second: when it nears the cores
// left over by the broker, the figures are bounded by the client, not the
// broker.
//
// The publish path reuses one body buffer per producer and one Publishing;
// amqp091-go still allocates a little per message. amqp091-go flushes its
// socket after every publish and every ack; with --coalesce-writes, the
// socket under it copies writes into a buffer that one flusher goroutine
// writes out as a batch (nats-server style), so a busy producer makes a
// few large writes instead of one syscall per message. The buffer is
// capped at 1 MiB per connection (writers then wait).
//
// # Scenarios
//
//	transient-1to1       1 producer -> 1 queue -> 1 consumer, 16 B, prefetch 1000, multiple ack every 100
//	transient-autoack    the same with auto-ack
//	persistent-confirms  1 KiB persistent to a durable queue, confirm window 1000, manual ack as above
//	fanout-10            fanout exchange, 10 queues, 1 producer, 10 consumers, 16 B
//	topic-10k            topic exchange, 10,000 bindings k.<i>.* on one queue, keys k.<i>.x
//	latency-1k           1 producer at a fixed 1,000 msg/s, 16 B, each delivery acked
//	large-1mib           1 MiB messages, prefetch 10, multiple ack every 5; reports MiB/s
//	backlog              fill 100,000 x 1 KiB with no consumer (until the queue depth says all
//	                     are in), then drain: fill and drain rates, peak RSS
//	backlog-500k         the same with 500,000 x 100 B, the memory reference
//	backlog-1mib         the same with 1,000 x 1 MiB persistent to a durable queue, confirm
//	                     window 10, prefetch 10: large messages past the memory budget
//	backlog-1gib         the same with 1,000,000 x 1 KiB persistent, confirm window 1000: a
//	                     1 GiB backlog (watch the data directory come back after the drain)
//	many-queues          declare 1,000 queues each bound to a direct exchange, one call at a
//	                     time, then delete them: queues/s, deletes/s, broker RSS per queue
//	idle-connections     open 500 connections with a channel each: connections/s, broker RSS
//	                     per connection
//
// The timed scenarios run 10 s. Flags given with --scenario override the
// preset: --scenario fanout-10 --consumers 5.
//
// # Compare
//
// compare runs each scenario against A then B, --rounds times (A B A B
// ...), pausing --pause between runs, and prints a Markdown table: for
// each scenario and metric the median of the rounds for A and for B (with
// ± half the range over the rounds), the ratio A/B of the medians, and
// which side is better. A run that failed or was incomplete is left out
// of the medians and listed below the table. --time shortens the timed
// scenarios; --wait first waits until each URL's port is listened on by
// the process given with --pid (so a broker that failed to start is not
// measured in its stead). `make bench-compare` builds and starts a Warren
// and compares it with a local RabbitMQ.
//
// # Rate sweep
//
// sweep measures what a message costs the broker at each load, not only
// flat out. Each step is a fresh run at a fixed aggregate publish rate
// (--rates; 0 is flat out), 16 B, prefetch 1000, manual ack: each message
// (--multiple-ack-every 1, the default, as the latency goals ask)
// or multiple every N; a list runs one sweep per value. rate-sweep is 1
// producer, 1 queue, 1 consumer; rate-sweep-10 is 10 of each, every
// producer at rate/10 cycling over the queues. Each step runs --warmup
// (left out) then --step (measured), against A then B before the next
// step, and reports per broker and step: send and receive msg/s; per
// delivery the broker's CPU µs, its read/write syscalls and its context
// switches (proccount.go: /proc/PID/stat, /proc/PID/io syscr+syscw,
// /proc/PID/task/*/status, readable for RabbitMQ's beam.smp as for
// Warren); latency p50, p99 and max; and the client's CPU, in cores and
// µs per message. With two brokers a row of ratios A/B follows each step.
// syscr+syscw count read(2)/write(2)-class calls only: a broker that
// receives with recvfrom(2) (Erlang's inet driver does) has those left
// out, and epoll_wait and futex are never counted; context switches are
// the wake-ups of the broker's threads.
//
// A fixed rate is paced by the clock in batches (pace.go): message k is
// due at start + k/rate; a producer publishes what is due and sleeps until
// the next is due, but at least 1 ms, so 100,000 msg/s is 1,000 wake-ups
// of ~100 messages, and a late wake-up is made up in the next batch
// without drift.
//
// Broker RSS figures of a Go broker include heap kept from earlier runs:
// "broker RSS growth" and the per-queue and per-connection deltas mean
// most on a freshly started broker.
package main
