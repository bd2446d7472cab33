package conformance

import (
	"fmt"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Direct reply-to: the pseudo-queue amq.rabbitmq.reply-to.

const replyTo = "amq.rabbitmq.reply-to"

// replyName publishes a request with reply_to amq.rabbitmq.reply-to on ch
// through a fresh queue and returns the reply_to the broker rewrote it to.
func (b *broker) replyName(ch *amqp.Channel) string {
	b.t.Helper()
	q := b.queue(ch)
	if err := ch.Publish("", q, false, false, amqp.Publishing{ReplyTo: replyTo, Body: []byte("request")}); err != nil {
		b.t.Fatal(err)
	}
	var d amqp.Delivery
	eventually(b.t, "the request to arrive", func() (bool, string) {
		var ok bool
		var err error
		d, ok, err = ch.Get(q, true)
		if err != nil {
			b.t.Fatalf("basic.get: %v", err)
		}
		return ok, "get-empty"
	})
	if !strings.HasPrefix(d.ReplyTo, replyTo+".") {
		b.t.Fatalf("reply_to %q, want %s.<token>", d.ReplyTo, replyTo)
	}
	return d.ReplyTo
}

// A request published with reply_to amq.rabbitmq.reply-to carries a name
// only its requester's consumer answers to; a reply to that name through
// the default exchange reaches the consumer directly.
func TestDirectReplyToRoundTrip(t *testing.T) {
	b := setup(t)
	_, client := b.open()
	_, server := b.open()
	replies, err := client.Consume(replyTo, "reply-consumer", true, false, false, false, nil)
	if err != nil {
		t.Fatalf("basic.consume %s: %v", replyTo, err)
	}
	requests := b.queue(server)
	err = client.Publish("", requests, false, false, amqp.Publishing{
		ReplyTo: replyTo, CorrelationId: "c-1", ContentType: "text/plain",
		Headers: amqp.Table{"h": "v"}, DeliveryMode: amqp.Persistent, Body: []byte("ping"),
	})
	if err != nil {
		t.Fatal(err)
	}
	var req amqp.Delivery
	eventually(t, "the request", func() (bool, string) {
		var ok bool
		req, ok, err = server.Get(requests, false)
		if err != nil {
			t.Fatal(err)
		}
		return ok, "get-empty"
	})
	if !strings.HasPrefix(req.ReplyTo, replyTo+".") || len(req.ReplyTo) <= len(replyTo)+1 {
		t.Fatalf("request reply_to %q, want %s.<token>", req.ReplyTo, replyTo)
	}
	// The other properties are the publisher's.
	equal(t, "correlation id", req.CorrelationId, "c-1")
	equal(t, "content type", req.ContentType, "text/plain")
	equal(t, "header h", req.Headers["h"], any("v"))
	equal(t, "delivery mode", req.DeliveryMode, amqp.Persistent)
	equal(t, "body", string(req.Body), "ping")
	if err := req.Ack(false); err != nil {
		t.Fatal(err)
	}

	// A passive declare of the name finds it while the consumer lives.
	q, err := b.inspect(req.ReplyTo)
	if err != nil {
		t.Fatalf("passive declare %q: %v", req.ReplyTo, err)
	}
	equal(t, "declared name", q.Name, req.ReplyTo)
	equal(t, "messages", q.Messages, 0)
	equal(t, "consumers", q.Consumers, 1)

	if err := server.Publish("", req.ReplyTo, false, false, amqp.Publishing{CorrelationId: req.CorrelationId, Body: []byte("pong")}); err != nil {
		t.Fatal(err)
	}
	d := recv(t, replies)
	equal(t, "reply body", string(d.Body), "pong")
	equal(t, "reply correlation id", d.CorrelationId, "c-1")
	equal(t, "reply consumer tag", d.ConsumerTag, "reply-consumer")
	equal(t, "reply exchange", d.Exchange, "")
	equal(t, "reply routing key", d.RoutingKey, req.ReplyTo)
	equal(t, "reply redelivered", d.Redelivered, false)

	// A reply on the requester's own channel arrives too.
	if err := client.Publish("", req.ReplyTo, false, false, amqp.Publishing{Body: []byte("self")}); err != nil {
		t.Fatal(err)
	}
	equal(t, "self reply", string(recv(t, replies).Body), "self")
}

// amq.rabbitmq.reply-to itself can be declared, passively or not, and
// reports one consumer.
func TestDirectReplyToDeclare(t *testing.T) {
	b := setup(t)
	_, ch := b.open()
	q, err := ch.QueueDeclarePassive(replyTo, false, false, false, false, nil)
	if err != nil {
		t.Fatalf("passive declare %s: %v", replyTo, err)
	}
	equal(t, "name", q.Name, replyTo)
	equal(t, "messages", q.Messages, 0)
	equal(t, "consumers", q.Consumers, 1)
	q, err = ch.QueueDeclare(replyTo, false, false, false, false, nil)
	if err != nil {
		t.Fatalf("declare %s: %v", replyTo, err)
	}
	equal(t, "name", q.Name, replyTo)

	for _, name := range []string{replyTo + ".nosuchtoken", replyTo + "x"} {
		closes := notifyClose(ch)
		_, err = ch.QueueDeclarePassive(name, false, false, false, false, nil)
		text := fmt.Sprintf("NOT_FOUND - no queue '%s' in vhost '/'", name)
		expectError(t, err, amqp.NotFound, text)
		expectClose(t, closes, amqp.NotFound, text)
		ch = b.channel(b.dial())
	}
}

// rabbitmq: the reply consumer must not acknowledge.
func TestDirectReplyToConsumeWithAcks(t *testing.T) {
	b := setup(t)
	_, ch := b.open()
	closes := notifyClose(ch)
	_, err := ch.Consume(replyTo, "", false, false, false, false, nil)
	expectError(t, err, amqp.PreconditionFailed, "PRECONDITION_FAILED - reply consumer cannot acknowledge")
	expectClose(t, closes, amqp.PreconditionFailed, "PRECONDITION_FAILED - reply consumer cannot acknowledge")
}

// rabbitmq: one reply consumer per channel.
func TestDirectReplyToSecondConsumer(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	consume(t, ch, replyTo, "", true)
	closes := notifyClose(ch)
	_, err := ch.Consume(replyTo, "", true, false, false, false, nil)
	expectError(t, err, amqp.PreconditionFailed, "PRECONDITION_FAILED - reply consumer already set")
	expectClose(t, closes, amqp.PreconditionFailed, "PRECONDITION_FAILED - reply consumer already set")

	// Another channel of the connection may have its own.
	consume(t, b.channel(conn), replyTo, "", true)
}

// rabbitmq: publishing with reply_to amq.rabbitmq.reply-to needs a reply
// consumer on the same channel.
func TestDirectReplyToPublishWithoutConsumer(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	consume(t, b.channel(conn), replyTo, "", true) // on another channel
	q := b.queue(ch)
	closes := notifyClose(ch)
	if err := ch.Publish("", q, false, false, amqp.Publishing{ReplyTo: replyTo, Body: []byte("request")}); err != nil {
		t.Fatal(err)
	}
	expectClose(t, closes, amqp.PreconditionFailed, "PRECONDITION_FAILED - fast reply consumer does not exist")
	b.waitCounts(q, 0, 0)
}

// A reply to a consumer that was cancelled, or whose channel closed, is
// unroutable; the name no longer declares.
func TestDirectReplyToGoneConsumer(t *testing.T) {
	for _, how := range []string{"cancel", "close"} {
		t.Run(how, func(t *testing.T) {
			b := setup(t)
			conn, ch := b.open()
			replies := consume(t, ch, replyTo, "rc", true)
			name := b.replyName(ch)
			p := b.mandatoryPublisher(conn)
			switch how {
			case "cancel":
				if err := ch.Cancel("rc", false); err != nil {
					t.Fatalf("basic.cancel of the reply consumer: %v", err)
				}
				// The channel stays usable, and a new reply consumer gets
				// a new name.
				consume(t, ch, replyTo, "rc2", true)
				if again := b.replyName(ch); again == name {
					t.Fatalf("a new reply consumer got the old name %q", name)
				}
			case "close":
				if err := ch.Close(); err != nil {
					t.Fatal(err)
				}
			}
			r := p.expectReturned("", name, amqp.Publishing{Body: []byte("late reply")})
			equal(t, "returned body", string(r.Body), "late reply")
			_, err := b.inspect(name)
			expectError(t, err, amqp.NotFound, fmt.Sprintf("NOT_FOUND - no queue '%s' in vhost '/'", name))
			if how == "cancel" {
				// The client closed the cancelled consumer's channel: it
				// holds nothing.
				select {
				case d, ok := <-replies:
					if ok {
						t.Fatalf("the cancelled reply consumer got %q", d.Body)
					}
				default:
				}
			}
		})
	}
}

// A mandatory reply that reached its consumer does not come back.
func TestDirectReplyToMandatoryDelivered(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	if isRabbitMQ(conn) {
		t.Skipf("Warren-only: RabbitMQ 3.10 returns a mandatory reply even when it delivered it " +
			"(rabbit_exchange:route yields no queue for a reply-to name, so the publish counts as unroutable); " +
			"Warren returns only the replies no consumer took")
	}
	replies := consume(t, ch, replyTo, "rc", true)
	name := b.replyName(ch)
	p := b.mandatoryPublisher(conn)
	p.expectRouted("", name, amqp.Publishing{Body: []byte("reply")})
	equal(t, "reply", string(recv(t, replies).Body), "reply")
}
