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
//	warren-chaos bench [--publish-url URL ...] [--consume-url URL ...] [--declare-url URL]
//	        [--queue-type quorum] [--size 1024] [--window 32] [--time 10s] [--leader-api URL]
//	        [--fault-after 3s --fault-cmd CMD [--heal-after 3s --heal-cmd CMD]]
//	warren-chaos bench --warren 3 [--binary PATH] [--publish-node n1 ...] [--consume-node ...]
//	        [--kill-node NODE|leader --fault-after 3s --heal-after 0s] ...
//	    one publisher with confirms and one consumer on one queue (deleted
//	    first and at the end, declared through --declare-url, where RabbitMQ
//	    places a quorum queue's leader); prints confirmed and consumed msg/s,
//	    confirm latency percentiles, the three longest times without a
//	    confirm, the timeline (connections, the fault and heal commands, the
//	    queue's leader as --leader-api reports it every 100 ms), and the
//	    checker's verdict. Loopback brokers only. With --warren it starts its
//	    own cluster and the fault is kill -9 of a node, restarted after
//	    --heal-after. Against RabbitMQ's 3-node cluster the fault is
//	    `rabbitmqctl -n rabbit2@HOST stop_app` on the quorum queue's leader:
//
//	    warren-chaos bench --declare-url amqp://guest:guest@127.0.0.1:5673/ \
//	        --publish-url amqp://guest:guest@127.0.0.1:5672/,amqp://guest:guest@127.0.0.1:5674/ \
//	        --consume-url amqp://guest:guest@127.0.0.1:5674/ --leader-api http://127.0.0.1:15672 \
//	        --queue-type quorum --time 35s --fault-after 4s --heal-after 2s \
//	        --fault-cmd "rabbitmq-reference.sh ctl -n rabbit2@HOST stop_app" \
//	        --heal-cmd "rabbitmq-reference.sh ctl -n rabbit2@HOST start_app"
//
//	warren-chaos restart-time [--binary PATH] [--messages 1000000] [--size 1024]
//	        [--restart n2|n1|all] [--kill] [--timeout 120s]
//	    starts three nodes, fills a quorum queue declared on n1 with
//	    --messages confirmed messages, stops --restart (SIGTERM, or kill -9)
//	    and starts it again; prints the time from that start to the node
//	    listening, to a passive declare on it showing every message, and to
//	    the first basic.get from the queue's leader (issue 20's goal: <= 5 s).
//	    `make restart-time` runs it with a million 1 KiB messages.
//
// The classic queue of `run` lives on n1 (messages are not replicated
// yet): its publishers and consumers use n1, and the run checks that no
// fault loses a confirmed message there. With quorum queues, run
// `CHAOS_QUEUE_TYPE=quorum make chaos`: publishers and consumers then use
// every node.
package main
