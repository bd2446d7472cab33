// Package broker is Warren's broker core: the vhosts and, in each, the
// exchanges, queues and bindings, with RabbitMQ's validation and reply
// texts; routing; publishing, with the store's journal, the memory budget
// and publisher confirms through a callback; dead-lettering; delayed
// messages; the direct reply-to registry; and durability and recovery of
// definitions and messages. Front ends (amqp/server, the HTTP API,
// amqp/streamserver for the stream protocol; the cluster's peer link
// later) call it; it imports none of them.
//
// # Map
//
//	front ends   amqp/server (AMQP 0-9-1): methods -> broker calls,
//	             deliveries through queue.Sink -> frames
//	                  |
//	core         amqp/broker: Broker -> Vhost -> exchanges, queues, bindings
//	                  |            Apply(Command) for every definition change
//	                  |            Route + Publish for every message
//	leaves       exchange/ binding/   queue/   storage/   amqp (the codec, for *amqp.Error)
//
//	broker.go           Broker, Config, the vhost registry, queue ids
//	vhost.go            Vhost, lookups, the 404/405 errors
//	command.go          the Command values and Apply
//	codec.go            the commands encoded for the Raft log (versioned, tagged)
//	replicate.go        Replicator: Apply proposes to the cluster when one is set;
//	                    QueueReplicator: a quorum queue's messages replicated
//	                    (queue.Config.Quorum; publish.go proposes their enqueues)
//	ops.go              what each command does, with RabbitMQ's checks
//	queue_args.go       queue argument checks (x-consumer-timeout, quorum)
//	alternate.go        exchange argument checks (alternate-exchange, x-delayed-type)
//	route.go            routing: exchange-to-exchange, alternate exchanges, Extra,
//	                    the CC and BCC keys of sender-selected distribution
//	publish.go          Publish: flow control, disk admission, enqueue, Confirm; Fence
//	purge.go            Purge (the rest of consuming is queue.Queue's own)
//	move.go             Move: messages out of a queue to a queue, an exchange or
//	                    their x-death origin, at least once, in batches
//	stream.go           stream queues: declaration rules, their logs under
//	                    Config.StreamDir/<queue id> (queue/stream), appends
//	                    with confirms after the log's fsync, CloseStreams
//	stream_stats.go     the read side of streams: StreamStats (the log's figures,
//	                    each consumer's offset and lag via StreamPositioner)
//	journal.go          the queues' queue.Journal over the store: entries, paging, sharing
//	message.go          the stored message and entry formats
//	deadletter.go       dead-lettering with x-death; x-expires
//	delayed.go          the delayed-message scheduler (delayheap.go: its heap)
//	replyto.go          the direct reply-to registry (ReplyConsumer)
//	defs.go             definition records and defBatch (store writes of one command)
//	recover.go          rebuilding definitions from the store
//	recover_messages.go rebuilding messages and the delayed schedule
//	list.go             the read side: VhostInfos, Totals, and per vhost Queues,
//	                    QueueNames (sorted once per change of the queues),
//	                    Exchanges, Bindings, Consumers, Info
//	stats.go            the exchange counters routing keeps
//	users.go            users, permissions, topic permissions, global parameters
//	                    (brokerDefs); ValidationError
//	password.go         RabbitMQ password hashes (SHA-256, SHA-512, MD5)
//	access.go           CheckAccess, CheckTopicAccess: permissions as RabbitMQ
//	                    matches them, with its 403 texts
//	vhost_defs.go       a vhost's runtime parameters, limits (max-queues,
//	                    max-connections) and metadata
//	policy.go           policies and operator policies: validation, commands
//	policy_apply.go     which policy applies; queue limits and alternate
//	                    exchanges from policies, applied live
//	recover_defs.go     replaying those at Recover; SeedUsers (first boot)
//	definitions.go      definitions export in RabbitMQ's JSON format
//	definitions_import.go  import: all checked, then applied as commands
//	restore.go          RestoreDefinitions: a Raft snapshot installed (stale
//	                    definitions deleted, then imported, on this node only)
//
// A front end attaches consumers to a queue.Queue with its own queue.Sink
// (queue.Queue.AddConsumer) and acks, rejects, requeues and gets on the
// queue itself; a Sink that also implements Cancelled hears that its
// queue was deleted. It publishes with Vhost.Route (Vhost.RouteKeys with
// the keys of the CC and BCC headers, amqp.ScanSenderRoutes, after it has
// removed BCC from the properties), then Vhost.Publish, passing its
// confirms as a Confirm. Consumer acknowledgement timeouts
// stay in the front end: they scan the unacknowledged deliveries of a
// channel, which are the front end's (delivery tags are per channel), and
// close the channel, which only its reader may do.
//
// # Commands
//
// Every change to definitions is a Command value applied by Vhost.Apply
// or Broker.Apply:
//
//	Vhost.Apply   DeclareExchange DeleteExchange DeclareQueue DeleteQueue
//	              Bind Unbind SetPolicy ClearPolicy SetParameter
//	              ClearParameter SetVhostLimit ClearVhostLimit
//	Broker.Apply  AddVhost DeleteVhost PutUser DeleteUser SetPermissions
//	              ClearPermissions SetTopicPermissions ClearTopicPermissions
//	              SetGlobalParameter ClearGlobalParameter (and, by vhost
//	              name, every Vhost command)
//
// The HTTP API, definitions import (Broker.Import), the AMQP methods and
// the configured users at first boot (SeedUsers) all go through them.
// With Config.Replicator (a cluster, amqp/cluster), Apply encodes the
// command (codec.go) and proposes it; the cluster applies every committed
// command on every node in log order with ApplyLocal, and the proposer
// gets its own node's result. Exclusive queues (declare and delete), the
// store's replay at Recover and SeedUsers stay local. Code running under
// ApplyLocal must not call Apply (the cluster's apply loop would wait on
// itself).
// Validation failures are *ValidationError (wrapping ErrValidation) with
// RabbitMQ's reason text; an import's, *ImportError naming the entry. A
// command runs under the vhost's write lock, collects its store writes in
// one defBatch, submits it before releasing the lock (so changes reach the
// store in the order they happened) and waits for the fsync after
// releasing it. A failed write is a 541.
//
// # Disk format
//
// Definitions are the store's definition records (storage.Batch
// PutDefinition), JSON with argument tables in their AMQP wire form:
//
//	kind "exchange"  key vhost \0 name
//	                 {"vhost","name","kind","auto_delete"?,"internal"?,"args"?}
//	kind "queue"     key vhost \0 name
//	                 {"vhost","name","id","auto_delete"?,"args"?}
//	kind "binding"   key vhost \0 source \0 q|x \0 destination \0 key \0 args
//	                 {"vhost","source","destination","to_exchange"?,"key","args"?}
//	kind "vhost"     key name  {"name","description"?,"tags"?,"default_queue_type"?}
//	kind "user"      key name  {"name","password_hash","hashing_algorithm","tags","limits"}
//	kind "permission"        key vhost \0 user  {"vhost","user","configure","write","read"}
//	kind "topic_permission"  key vhost \0 user \0 exchange  {..., "exchange","write","read"}
//	kind "global_parameter"  key name  {"name","value"}
//	kind "parameter" key vhost \0 component \0 name  {"vhost","component","name","value"}
//	                 (vhost limits: component "vhost-limits", name "limits")
//	kind "policy", "operator_policy"  key vhost \0 name
//	                 {"vhost","name","pattern","apply-to","definition","priority"}
//	kind "meta"      key "seeded": the configured users were created once
//	kind "stream_offsets"  key a stream queue's store id
//	                 {"tag" or "\u0000o:ref" or "\u0000p:ref": offset, ...}:
//	                 its tracked offsets, stored offsets and publisher
//	                 sequences (queue/stream tracking.go, stream.go here)
//
// Only durable exchanges, durable non-exclusive queues and bindings
// between those are stored: each record is the durable form of the
// command that made it. Recover reads vhosts, users, permissions, topic
// permissions, global parameters, parameters, policies and operator
// policies (recover_defs.go), then exchanges, queues and bindings, and
// replays each as that command (DeclareQueue with its store id) through
// Apply, writing nothing back; it hands the queues back by store id for
// their messages. Policies come before queues, so each queue gets its
// policy as it is declared.
//
// # Policies
//
// A queue's effective limits are a queue.Limits, replaced whole
// (queue.SetLimits) when the policies change: the highest-priority policy
// and operator policy matching its name; for message-ttl, expires,
// max-length, max-length-bytes, delivery-limit and consumer-timeout the
// smallest of argument, policy and operator policy; for the dead-letter
// exchange and key and overflow, the argument if set (rabbitmq
// rabbit_amqqueue_process:process_args_policy). Limits.Source is the
// *AppliedPolicy, which listings show. An exchange's policy (its
// alternate-exchange) sits in Vhost.mu.xpolicy; routing reads it only when
// a message is unroutable and the exchange has no alternate-exchange
// argument.
//
// Messages (journal.go, message.go): a persistent message for queues that
// persist is stored once (PutMessage) and each of those queues journals an
// entry (PutEntry, key queue id + seq) whose meta is
//
//	flags u8 | body size u32 | deliveries u32 | expires i64 (Unix ms, 0: never)
//
// (flags 1: paged out past the memory budget, not journalled: dropped at
// recovery), and a stored message is
//
//	exchange len u8 | exchange | routing key len u8 | routing key |
//	properties len u32 | properties | body
//
// The delayed schedule is the pseudo-queue scheduleQueueID (delayed.go
// draws its entry meta).
//
// # Read side
//
// Counters are kept where the event happens, with no lock of their own:
// a queue's in queue.Queue (queue/stats.go: published, delivered, get,
// redelivered, acked, rejected, requeued, dead-lettered, expired,
// dropped; unacknowledged messages are derived from them), plain fields
// under the queue's lock the event holds anyway (cheaper than atomics,
// measured) and atomics where it holds none; an exchange's are atomics in
// exchange.Exchange.Stats (publish in, publish out, unroutable), added
// to by Route under the vhost's read lock. Vhost and broker totals are sums
// taken at read time, never kept on the hot path.
//
// Listings never stop the world. Each copies the vhost's map (pointers
// only) under Vhost.mu for reading and releases it, then reads object by
// object: a queue's figures under its own lock for a moment (one queue
// lock at a time, none while another is held), its counters with no lock;
// an exchange's description needs none (it does not change once
// declared), its bindings are copied under Vhost.mu read, taken per
// exchange. A publisher never waits for a listing, and a declare waits at
// most for one map copy. Figures of different objects are from different
// instants, as RabbitMQ's are.
//
// # Concurrency
//
// The core starts no goroutine per message or connection. Its code runs
// on the caller's goroutine (a front end's connection reader) and on:
//
//   - the delayed-message scheduler's timer (time.AfterFunc, one per
//     broker): it releases due messages, routing and enqueueing them;
//   - the store's notifier goroutine, which runs the callbacks of store
//     writes: a publish's Confirm.Done (flush set), a defBatch's wait;
//   - a queue's read-ahead goroutine (queue/paging.go, queue/hollow.go),
//     which reads paged-out messages back through the journal (PageIn,
//     ReadBack) with no lock held;
//   - a queue's x-expires and TTL timers: DeadLetter and OnExpire, which
//     delete the queue and tell its consumers (Cancelled).
//
// Lookups and Route take Vhost.mu for reading; Apply takes it for
// writing. Lock order, never the reverse:
//
//	brokerDefs.mu  ->  Broker.mu (read)  ->  Vhost.mu  (users.go, deleteVhost)
//	Broker.mu (registry reads only, released before the next)
//	Vhost.policyMu  ->  Vhost.mu; then, with Vhost.mu released,
//	                    queue.Queue.mu (SetLimits may dead-letter, which
//	                    routes under Vhost.mu)
//	Vhost.mu  ->  Broker.mu (newQueueID)
//	Vhost.mu  ->  queue.Queue.mu  ->  what a queue.Sink or the journal takes
//	              (a front end's channel and outbound locks; storage.Store.mu)
//	Vhost.mu  ->  storage.Store.mu (Submit of a defBatch)
//	scheduler.mu, replyRegistry.mu, journal.sharedMu and streamRegistry.mu
//	are leaves. A stream's log is opened under Vhost.mu (declare, recover).
//	listings: Vhost.mu (read, released)  then  queue.Queue.mu, one at a time
//
// Across the boundary to a front end:
//
//   - queue.Sink.TryDeliver runs under queue.Queue.mu (and no broker lock:
//     Route releases Vhost.mu before Publish enqueues). It must not call
//     back into that queue or take a broker lock.
//   - Confirm.Wait and Confirm.Done, ReplyConsumer.DeliverReply and
//     ReplyConsumer.Active, and Cancelled run with no core lock held; the
//     front end may take its own locks there (amqp/server:
//     confirmTracker.mu, channel.dmu, outbound.mu).
//   - Dead-lettered entries are republished after the dying queue's lock
//     is released (queue.unlock), and the scheduler releases with its own
//     lock released.
//   - Move runs on its caller's goroutine (the HTTP API's handler) and
//     holds no lock between its gets, publishes and acks: each takes and
//     releases its own (queue.Queue.mu, Vhost.mu read). A batch's store
//     writes complete through a Confirm (moveConfirm.mu, a leaf) before
//     the batch is acked on the source.
//
// DeleteQueue deletes the queue (taking its lock) before it takes
// Vhost.mu. QueueHooks run under Vhost.mu and must not call back into the
// vhost.
package broker
