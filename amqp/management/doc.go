// Package management is Warren's management HTTP API, compatible with
// RabbitMQ 3.10's management plugin in paths, methods, JSON field names
// and shapes, status codes and error bodies ({"error":..., "reason":...}),
// so that rabbitmqadmin, rabbit-hole (the Terraform provider's and the
// topology operator's client), KEDA and scripts work against Warren by
// changing only the address.
//
// It is a front end: it reads the broker core's listings (amqp/broker
// list.go) and the AMQP front end's connection registry (amqp/server
// registry.go, through the Registry interface) and the stream protocol's
// (amqp/streamserver, through StreamRegistry), and changes definitions
// only through the core's commands (broker.Broker.Apply, Vhost.Apply),
// so a queue declared here persists and recovers as one declared over
// AMQP. Nothing imports this package but cmd/warren.
//
// # Map
//
//	server.go       Server, Config, User, Authenticator, Registry; Serve, Shutdown
//	routes.go       the endpoints (Go 1.22 ServeMux patterns) and path values:
//	                "%2F" is the vhost "/", amq.default the default exchange;
//	                "/" is the web console (amqp/management/console)
//	auth.go         HTTP basic auth and the tag gates (management, policymaker,
//	                monitoring, administrator)
//	respond.go      JSON answers, RabbitMQ's error bodies, core errors -> HTTP
//	listing.go      page, page_size, name, use_regex, sort, sort_reverse, columns;
//	                the paged envelope
//	sampler.go      message rates: one pass over every counter per interval
//	history.go      the sampled history (?lengths_age=&lengths_incr=,
//	                ?msg_rates_age=&msg_rates_incr=): int64 rings per vhost
//	                and per queue asked about in the last 10 minutes
//	render.go       message_stats and the *_details.rate fields
//	values.go       JSON <-> AMQP field-table values
//	overview.go     /api/overview, /api/whoami, /api/nodes, /api/extensions
//	health.go       /api/health/checks/*, /api/aliveness-test/{v}
//	alarms.go       Warren's /api/warren/memory-high-watermark and
//	                /api/warren/disk-free-limit (the runtime alarm
//	                setters `warren ctl` calls); the alarms in /api/nodes
//	vhosts.go       /api/vhosts[/{v}]
//	exchanges.go    /api/exchanges[/{v}[/{x}]]
//	queues.go       /api/queues[/{v}[/{q}]], /contents (purge)
//	streams.go      stream queues and stream consumers as RabbitMQ 3.10 shows
//	                them, with Warren's log figures ("stream") and offsets
//	message.go      .../publish and .../get
//	move.go         POST /api/queues/{v}/{q}/actions/move (Warren's own: move or
//	                copy messages to a queue, an exchange or their x-death origin)
//	bindings.go     /api/bindings..., the properties key
//	connections.go  connections, channels, consumers
//	streamconns.go  the stream protocol's connections, publishers and
//	                consumers (/api/stream/..., rabbitmq_stream_management)
//	                and in /api/connections with protocol "stream"
//	                (Config.Streams, a StreamRegistry)
//	defroutes.go    the definition endpoints and their gates
//	users.go        /api/users..., /api/user-limits...
//	permissions.go  /api/permissions..., /api/topic-permissions...
//	policies.go     /api/policies..., /api/operator-policies...; the
//	                policymaker and object gates
//	parameters.go   /api/parameters..., /api/global-parameters...,
//	                /api/vhost-limits...
//	definitions.go  /api/definitions[/{v}] export and all-or-nothing import
//	                (JSON body or the UI's multipart "file")
//	objaccess.go    configure/write/read checks of object operations
//	                (broker.CheckAccess), as AMQP's
//	handle.go       shared handler steps: the path's queue, a body's
//	                arguments, an applied change
//
// Tests: amqp/management (tag gates, listing helpers, the sampler, bad
// input, benchmarks with 10,000 queues) and the black-box suite
// conformance/api (rabbit-hole and net/http, checked over AMQP, against
// Warren or RabbitMQ).
//
// Users, permissions, topic permissions, policies, operator policies,
// parameters, global parameters, vhost and user limits and definitions
// are the core's (amqp/broker users.go, policy.go, vhost_defs.go,
// definitions*.go), changed only through its commands; a refused
// definition (broker.ErrValidation) answers 400 with RabbitMQ's
// "Validation failed\n\n<reason>\n", an import's naming the bad entry.
// User limits are kept and exported, not enforced.
//
// # Status codes
//
//	200 a read; 201 a PUT that created, or a binding POST (with Location);
//	204 a PUT of something that existed, a DELETE
//	400 bad_request: bad JSON, bad arguments, inequivalent redeclaration,
//	    if-empty/if-unused refused, bad paging parameters
//	401 not_authorized "Login failed" (with WWW-Authenticate); not_authorised
//	    for a user below the gate or an amq.* name ("Not administrator
//	    user"...; "User not authorised to access object" for policies,
//	    parameters and global parameters; "User not authorised to access
//	    virtual host" for a vhost the user has no permissions in)
//	404 {"error":"Object Not Found","reason":"Not Found"}; a vhost that is
//	    missing under an object: {"error":"not_found","reason":"vhost_not_found"}
//	503 a failed health check
//
// # Fields
//
// Every field answered is RabbitMQ 3.10's (conformance/api shapes_test.go
// pins them against a real RabbitMQ). Left out, for want of a source in
// Warren: Erlang process figures (memory, reductions, garbage_collection,
// backing_queue_status, idle_since), persistent and paged-out byte
// splits (message_bytes_persistent, message_bytes_ram,
// message_bytes_paged_out, messages_persistent), consumer_utilisation and
// consumer_capacity, channel message_stats and per-consumer
// prefetch_count of a channel (0), churn_rates, node I/O and Mnesia
// figures; vhost description and tags are accepted and not kept
// (definitions will keep them).
//
// # Concurrency
//
// net/http runs each request on its own goroutine; handlers hold no lock
// of this package's while they call the core. The core's listings take
// its locks one at a time (amqp/broker doc.go), so a listing of 10,000
// queues never stops publishers.
//
// One goroutine of the package's own, the sampler (sampler.go), wakes
// every StatsInterval (5 s, rabbitmq collect_statistics_interval), reads
// every queue's, exchange's and connection's counters in one pass, and
// publishes the figures and rates as an immutable value through an
// atomic pointer that handlers load with no lock. Its maps are the whole
// statistics state: nothing is added to queue.Queue. The same pass
// appends a row to the history's rings (history.mu, a leaf held only to
// append or copy out a series; a queue's ring is started by the handler
// that first asks for it). Server.mu guards the list of listeners only
// (a leaf). Shutdown stops the sampler and waits for it.
package management
