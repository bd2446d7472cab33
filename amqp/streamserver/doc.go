// Package streamserver is the RabbitMQ stream protocol front end (port
// 5552; deps/rabbitmq_stream/docs/PROTOCOL.adoc): the official stream
// clients (Go, Java, .NET, Python, Node) publish to and read the stream
// queues that AMQP 0-9-1 clients declare, write and read. It calls the
// broker core (amqp/broker) and queue/stream; it imports no other front
// end.
//
// # Map
//
//	server.go       Server, Config, Serve, Shutdown; streamGone (metadata
//	                update to every connection when a stream is deleted)
//	conn.go         a connection: handshake (peer properties, SASL PLAIN,
//	                and EXTERNAL on TLS through Config.External, tune,
//	                open counted against the vhost's and the user's
//	                max-connections with AMQP's), dispatch, the writer,
//	                heartbeats, close
//	frame.go        command keys, response codes, command versions; the
//	                frame reader, a sticky-error decoder, the frame builder
//	publish.go      declare / delete publisher, publish (v1, v2 with a
//	                filter value; sub-entries none and gzip), confirms and
//	                errors, query publisher sequence (deduplication)
//	subscribe.go    subscribe (offset specifications, credit, filter),
//	                deliver (chunks as stored), credit, unsubscribe, store
//	                and query offset
//	admin.go        create / delete stream, metadata, stream stats,
//	                exchange command versions
//	superstream.go  create / delete super stream, partitions, route
//	sac.go          single active consumer groups and consumer update
//	info.go         Connections, CloseConnection, ConnectionCount, Totals:
//	                the management API's and the metrics' view (connection,
//	                publishers and consumers with their figures)
//
// TLS is the listener's: Serve takes a tls.NewListener and the connection
// is a *tls.Conn (the writer then gathers a batch into TLS records with a
// bufio.Writer instead of writev).
//
// # Frames
//
//	+-----------+---------+---------+--------------------+---------------
//	| size u32  | key u16 | ver u16 | correlation id u32 | fields ...      request
//	+-----------+---------+---------+--------------------+---------------
//	| size u32  | key|0x8000 | ver  | correlation id u32 | code u16 | ... response
//	+-----------+---------+---------+--------------------+---------------
//	| size u32  | key u16 | ver u16 | fields ...                             command
//	+-----------+---------+---------+----------------------------------------
//
// Strings are an int16 length and bytes, byte arrays an int32 length and
// bytes, arrays an int32 count and the elements. A Deliver is
//
//	+----------+--------+-------+--------+-----------------------------------+
//	| size u32 | 0x0008 | ver 1 | sub u8 | the chunk as stored: osiris header |
//	|          |        |       |        | (48 bytes) and its records          |
//	+----------+--------+-------+--------+-----------------------------------+
//
// built as one buffer: storage/streamlog's ReadRawInto reads header and
// records behind the 9 prefix bytes, which the delivery goroutine fills;
// the writer sends it with the other queued frames in one writev and hands
// the buffer back to the subscription's free list for a later chunk. The
// records are AMQP 1.0 messages (queue/stream record.go), never decoded
// here. A stream deleted by anyone (this protocol, AMQP 0-9-1, the HTTP
// API) is told to its consumers with a metadata update (stream not
// available).
//
// # Concurrency
//
// Per connection: the reader goroutine (conn.serve) owns the handshake
// state and the publishers and dispatches frames inline; the writer
// goroutine owns the socket's writes: frames are queued under conn.out (a
// leaf lock) and written in one batch per wake-up, confirms (queued by the
// stream log's writer goroutine after each fsync) gathered per publisher
// into one frame. Deliveries wait while conn.out holds more than
// Config.MaxOutbound bytes (backpressure: a slow client costs its
// subscriptions' progress, never memory). A heartbeat goroutine sends
// heartbeats and closes a connection silent for two intervals. Each
// running subscription has a delivery goroutine that reads chunks from
// the files, one credit each, and waits for credit, the log's next
// commit, or its stop.
//
// conn.mu guards the subscriptions and the pending server requests
// (consumer updates), which single active consumer groups reach from
// other connections; subscription.mu guards a subscription's credit and
// run state. Lock order, never the reverse:
//
//	groups.applyMu -> groups.mu
//	groups.applyMu -> conn.mu -> conn.out
//	Server.mu -> conn.mu   (ConnectionCount, CloseConnection)
//	subscription.mu and conn.out are leaves; no lock is held during I/O
//	or while waiting for a delivery goroutine to stop.
package streamserver
