// Package demo is `warren demo`: the order-placement story played for
// real against a broker, chapter by chapter, from synchronous calls to
// queues, pub/sub, work queues, acknowledgements, dead letters and
// replay, streams and consumer groups. Each chapter prints what it does
// and what it measured (or, with --json, only the figures).
//
// # Map
//
//	demo.go          Main: flags, the chapter list (story), the run, --json
//	output.go        printer: sentences, figures, tables, the progress line;
//	                 colours only on a terminal
//	env.go           env: URLs, the control connection, publish with
//	                 confirm, queue depth, polling waits, the management API
//	worker.go        worker: a simulated service (its own connection and
//	                 consumer); stop, and kill (the socket dropped)
//	embedded.go      the embedded Warren (store, AMQP, management API on
//	                 127.0.0.1:0, a temporary directory) when no --url
//	ch1_sync.go      1 synchronous calls versus one queued event
//	ch2_pubsub.go    2 pub/sub by pattern on a topic exchange
//	ch3_workqueue.go 3 a work queue, three workers, prefetch
//	ch4_down.go      4 a service down: its queue grows, then drains
//	ch5_acks.go      5 a worker killed mid-task, its message redelivered
//	ch6_deadletter.go 6 x-delivery-limit, the DLQ, x-death, the move API replay
//	ch7_stream.go    7 a stream read from first, an offset, a timestamp; replay
//	ch8_groups.go    8 a super stream and a single-active-consumer group
//	ch8_client.go    superStreams: the stream protocol client behind chapter 8
//	ch9_choice.go    9 stream or queue for each event of the exercise
//
// Chapters 1-7 and 9 speak AMQP 0-9-1 (amqp091-go) and chapter 6 also the
// management API (POST /api/queues/{vhost}/{queue}/actions/move, Warren's
// own). Chapter 8 speaks RabbitMQ's stream protocol through
// rabbitmq-stream-go-client; without a stream listener it fails with
// errNoStreamListener rather than pretend.
//
// Every name a chapter declares starts with demo.chN.; a chapter deletes
// what an earlier run left before it starts and what it made when it ends.
//
// # Concurrency
//
// Chapters run one at a time on the caller's goroutine, each under a
// deadline (env.budget) that bounds every wait. A worker runs its handler
// on its own goroutine, one delivery at a time; the chapter's counters
// that handlers update are atomics or sit under the chapter's mutex, and
// the printer serialises its writes with its own mutex. Every worker is
// stopped (or killed) before its chapter returns; the stream client's
// goroutines end with its Close. No package-level mutable state.
package demo
