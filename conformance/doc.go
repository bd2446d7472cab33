// Package conformance is the black-box suite that proves a broker behaves
// like RabbitMQ 3.10 towards existing AMQP 0-9-1 clients: same replies, same
// reply codes, same reply texts.
//
// The suite lives in the _test.go files and speaks to the broker only over
// the wire, through github.com/rabbitmq/amqp091-go and, for what that client
// cannot send, a small hand-written frame codec (raw_test.go).
//
// Which broker:
//
//	AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ go test -race ./conformance/   any broker, e.g. RabbitMQ
//	go test -race ./conformance/                                              Warren, in-process on 127.0.0.1:0
//
// Running the suite against RabbitMQ is how the tests themselves are proven:
// a test that fails against RabbitMQ is a wrong test.
//
// Rules every test follows:
//
//   - t.Parallel() and names from broker.name (test name plus a random
//     suffix), so tests never collide on a shared broker;
//   - everything declared is deleted afterwards over a fresh connection;
//   - errors are checked by reply code AND exact reply text;
//   - no time.Sleep: wait on a channel or poll a condition, both bounded by
//     waitTimeout;
//   - a test that depends on a broker-specific feature says so with an
//     explained t.Skipf (see isRabbitMQ).
package conformance
