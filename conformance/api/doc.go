// Package api is the black-box suite for the management HTTP API: it
// drives the API with github.com/michaelklishin/rabbit-hole/v2 (the
// client of RabbitMQ's Terraform provider and topology operator) and
// plain net/http where rabbit-hole has no call, and checks each effect
// over AMQP 0-9-1 with amqp091-go.
//
// Which broker:
//
//	go test -race ./conformance/api/       an in-process Warren, AMQP and HTTP on 127.0.0.1:0
//	MANAGEMENT_URL=http://guest:guest@127.0.0.1:15672 AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ \
//	    go test -race ./conformance/api/   any broker, e.g. RabbitMQ 3.10
//
// A test that fails against RabbitMQ is a wrong test. Tests run in
// parallel on unique names (with a space, a slash and a percent sign, so
// every path is escaped as clients escape it), delete what they declare,
// and poll with a deadline: RabbitMQ's figures are up to 5 s old.
package api
