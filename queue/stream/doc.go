// Package stream is the stream queue type (x-queue-type stream): a
// queue.Stream over a storage/streamlog log, and its readers. Messages are
// appended and never removed by consumption; retention removes whole
// segments by size and age. It knows messages and offsets, not AMQP
// frames: a front end delivers through the function a reader is given.
//
// # Map
//
//	stream.go   Stream: Open, Append (confirm after the fsync), Wake,
//	            Delete, Close, Info; Options from queue arguments (args.go)
//	args.go     x-max-age, x-max-length-bytes, x-stream-max-segment-size-bytes
//	offset.go   x-stream-offset: first, last, next, offset, timestamp, interval
//	filter.go   stream filtering: x-stream-filter-value, x-stream-filter,
//	            x-stream-match-unfiltered
//	record.go   a message as one log record
//	reader.go   Reader: one goroutine per consumer reading chunks from the
//	            files and handing records to a Deliver function
//	tracking.go server-side offset tracking by consumer tag, stored
//	            offsets and publisher sequences, in an OffsetStore (the
//	            broker's Badger store) or Dir/offsets, written by the
//	            tracker goroutine
//	active.go   single active consumer per tag: Claim, Unclaim (hand-over)
//	protocol.go for the stream protocol (amqp/streamserver): AppendRaw /
//	            AppendRawBatch (AMQP 1.0 records as they come), Chunks
//	            (chunks as stored), StoreOffset / QueryOffset, publisher
//	            sequences (deduplication), Stopped, Changed
//
// # Record format
//
// A record is an AMQP 1.0 message (amqp/amqp10), as RabbitMQ stores
// stream messages: the stream protocol's publishers write theirs as they
// come, and an AMQP 0-9-1 message is converted as record.go draws it
// (exchange and routing key in message annotations, properties in the
// header and properties sections, headers as application properties), and
// back for 0-9-1 consumers. The chunks are osiris's (storage/streamlog).
//
// # Concurrency
//
// Append runs on the publisher's goroutine and only queues the record
// (streamlog's writer goroutine writes, syncs and runs done). Each Reader
// has its own goroutine and file handle; it reads committed chunks with no
// lock held and calls Deliver for each record in order. When Deliver
// refuses (no credit, the connection's output is full) the reader waits
// for Wake or the log's next commit; Stream.mu (a leaf) guards the wake
// channel and the tracked offsets. A reader far behind costs its chunk buffer and the page cache,
// never the publishers' time: the log's writer never waits for readers.
package stream
