// Command warren-stream-perf measures brokers over the stream protocol
// with the official Go stream client, side by side in one run: the same
// scenarios against each --url in turn, with the broker's CPU time and RSS
// read from /proc/PID (--pid, one per --url).
//
//	warren-stream-perf --url rabbitmq-stream://guest:guest@127.0.0.1:5553/ --name warren --pid 123 \
//	                   --url rabbitmq-stream://guest:guest@127.0.0.1:5552/ --name rabbitmq --pid 456 \
//	                   --scenario publish,replay,e2e,super --messages 2000000
//
// # Scenarios
//
//	publish  --messages of --size bytes in batches of --batch, with confirms
//	         (at most --inflight messages unconfirmed): msg/s and broker CPU
//	replay   a consumer from first reads what publish wrote (or --replay
//	         messages, published first when the stream has fewer): msg/s,
//	         broker CPU, broker RSS before, at most and after; --replays N
//	         reads it N times, one consumer after another, counted as one
//	         run of N x the messages (a 10M replay costs under a second of
//	         broker CPU, which /proc counts in 10 ms ticks)
//	e2e      a consumer from next while a publisher publishes --messages:
//	         msg/s from the first send to the last delivery
//	super    a super stream of 6 partitions: --messages published hashed
//	         over them, then read from first by a single active consumer
//	         group of 1, 2 and 3 members: aggregate msg/s (Warren only:
//	         RabbitMQ 3.10 has no super streams)
//	super-procs  the same group with each member in a process of its own
//	         (this program with --group-member): aggregate msg/s for 1, 2
//	         and 3 member processes reading --messages, then the rebalance
//	         time when one of 3 is killed (SIGKILL) while a publisher runs:
//	         from the kill to the first delivery of each of its partitions
//	         to a survivor, which resumes from the group's stored offset
//	         (Warren only); --member-rate N holds each member to N msg/s,
//	         as a consumer whose work waits on something else: the load
//	         a group scales, where members reading flat out share the
//	         machine's cores with the client's decoding
//
// The client's socket buffers are raised to 4 MiB (its 8 KB default caps it
// near 10k msg/s). Client and brokers share the machine: the client's CPU is
// reported too, to say what it costs.
//
// # Map
//
//	main.go      flags, the run, the table
//	scenario.go  the scenarios
//	group.go     super-procs: the member processes and the driver
//	proc.go      /proc/PID/stat (utime + stime) and /proc/PID/status (VmRSS)
package main
