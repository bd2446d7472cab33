// Command warren-chaos runs Warren's chaos tests for a long time, and
// measures a broker (Warren or a RabbitMQ cluster) under one fault.
//
// # Usage
//
//	warren-chaos [run] [--faults 100] [--seed N] [--queue-type classic|quorum]
//	        [--nodes 3] [--publishers 2] [--consumers 1] [--kinds kill,pause,...]
//	        [--min-hold 300ms] [--max-hold 2s] [--gap 300ms] [--binary PATH] [--dir DIR] [--keep]
//	    builds warren (or takes --binary), starts --nodes processes with a
//	    fault-injecting proxy on every peer link (amqp/cluster/chaos), runs the
//	    message and definitions workloads under a random schedule of faults
//	    drawn from the seed (printed; CHAOS_SEED replays it), heals, and prints
//	    the checker's summary and the failover timeline of every kill of a
//	    node the publishers use; exit status 1 when a guarantee broke.
//	    CHAOS_FAULTS, CHAOS_SEED and CHAOS_QUEUE_TYPE set the defaults.
//
//	warren-chaos bench [--publish-url URL ...] [--consume-url URL ...]
//	        [--queue-type quorum] [--size 1024] [--window 32] [--time 10s]
//	        [--fault-after 3s --fault-cmd CMD [--heal-after 3s --heal-cmd CMD]]
//	    one publisher with confirms and one consumer on one queue (deleted
//	    first and at the end); prints confirmed and consumed msg/s, confirm
//	    latency percentiles, the longest time without a confirm, the timeline
//	    from the fault command, and the checker's verdict. Loopback brokers
//	    only. Against RabbitMQ's 3-node cluster, the fault is
//	    `rabbitmqctl -n rabbit2@HOST stop_app` on the quorum queue's leader.
//
// The classic queue of `run` lives on n1 (messages are not replicated
// yet): its publishers and consumers use n1, and the run checks that no
// fault loses a confirmed message there. With quorum queues, run
// `CHAOS_QUEUE_TYPE=quorum make chaos`: publishers and consumers then use
// every node.
package main
