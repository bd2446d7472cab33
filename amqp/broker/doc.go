// Package broker is Warren's broker core: the vhosts and, in each, the
// exchanges, queues and bindings, with RabbitMQ's validation and reply
// texts; routing; and the definitions' durability. Front ends (amqp/server
// today; the HTTP API, the stream protocol and the cluster's peer link
// later) call it; it imports none of them.
//
// # Map
//
//	front ends   amqp/server (AMQP 0-9-1): methods -> broker calls
//	                  |
//	core         amqp/broker: Broker -> Vhost -> exchanges, queues, bindings
//	                  |            Apply(Command) for every definition change
//	leaves       exchange/ binding/   queue/   storage/   amqp (the codec, for *amqp.Error)
//
//	broker.go    Broker, Config, the vhost registry, queue ids
//	vhost.go     Vhost, lookups, the 404/405 errors
//	command.go   the Command values and Apply
//	ops.go       what each command does, with RabbitMQ's checks
//	route.go     routing: exchange-to-exchange, alternate exchanges, Extra
//	alternate.go exchange argument checks (alternate-exchange, x-delayed-type)
//	defs.go      definition records and defBatch (store writes of one command)
//	recover.go   rebuilding definitions from the store
//	list.go      the read side: VhostInfos, Totals, and per vhost Queues,
//	             Exchanges, Bindings, Consumers, Info
//	stats.go     the exchange counters routing keeps
//
// Still in amqp/server for now: message journalling and paging,
// dead-lettering, delayed messages, direct reply-to and consumer timeouts.
// They reach the core's queues through Config.QueueHooks, which completes
// every queue's queue.Config (journal, memory budget, DeadLetter,
// OnExpire) before queue.New.
//
// # Commands
//
// Every change to definitions is a Command value (DeclareExchange,
// DeleteExchange, DeclareQueue, DeleteQueue, Bind, Unbind; AddVhost and
// DeleteVhost on the Broker) applied by Vhost.Apply or Broker.Apply. A
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
//
// Only durable exchanges, durable non-exclusive queues and bindings
// between those are stored. Recover reads exchanges, then queues, then
// bindings, and hands the queues back by store id for their messages.
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
// No goroutines. Lookups and Route take Vhost.mu for reading; Apply takes
// it for writing. Broker.mu guards the vhost registry and queue ids and is
// a leaf. Lock order, never the reverse:
//
//	Broker.mu (registry reads only, released before the next)
//	Vhost.mu  ->  queue.Queue.mu  ->  what a queue.Sink or queue.Journal takes
//	Vhost.mu  ->  storage.Store.mu (Submit of a defBatch)
//	listings: Vhost.mu (read, released)  then  queue.Queue.mu, one at a time
//
// DeleteQueue deletes the queue (taking its lock) before it takes
// Vhost.mu, and returns the consumers for the front end to cancel with no
// broker lock held. Routing releases Vhost.mu before the caller enqueues.
// QueueHooks run under Vhost.mu and must not call back into the vhost.
package broker
