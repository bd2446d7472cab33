// Package stream is the stream protocol conformance suite: the official Go
// stream client (github.com/rabbitmq/rabbitmq-stream-go-client) against an
// in-process Warren (its AMQP 0-9-1 server and amqp/streamserver on
// 127.0.0.1:0), or against any broker with STREAM_URL (and AMQP_URL for
// the cross-protocol tests), e.g. RabbitMQ 3.10 with rabbitmq_stream:
//
//	STREAM_URL=rabbitmq-stream://guest:guest@127.0.0.1:5552/ \
//	AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ go test -race ./conformance/stream/
//
// Super streams and stream single active consumer came in RabbitMQ 3.11:
// those tests are Warren-only and skip, saying so, when STREAM_URL is set.
package stream
