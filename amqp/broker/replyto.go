package broker

import (
	"crypto/rand"
	"encoding/base64"
	"sync"

	"github.com/warrenmq/warren/queue"
)

// Direct reply-to (rabbitmq: amq.rabbitmq.reply-to). A requester's front
// end registers a ReplyConsumer under a fresh name,
// amq.rabbitmq.reply-to.<token>; a reply published to the default
// exchange with that routing key (Route records it in Extra.Reply) goes
// straight to the consumer, with no queue in between. If the consumer is
// gone the reply is unroutable.
//
// The registry is broker-wide, as in RabbitMQ (the name, not the vhost,
// says where a reply goes); its lock is a leaf: a publisher looks the
// consumer up, releases it, then delivers.

// ReplyConsumer is a direct reply-to consumer a front end registers.
type ReplyConsumer interface {
	// DeliverReply delivers a reply and reports whether the consumer took
	// it. It is called from any goroutine with no broker lock held.
	DeliverReply(m *queue.Message) bool
	// Active reports whether the consumer still takes replies.
	Active() bool
}

// replyRegistry maps reply-to names to their consumers.
type replyRegistry struct {
	mu sync.Mutex
	m  map[string]ReplyConsumer
}

// NewReplyName returns a fresh amq.rabbitmq.reply-to.<token> name.
func NewReplyName() string {
	var b [24]byte
	rand.Read(b[:])
	return ReplyToPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// AddReplyConsumer registers rc under name (from NewReplyName).
func (b *Broker) AddReplyConsumer(name string, rc ReplyConsumer) {
	r := &b.replies
	r.mu.Lock()
	if r.m == nil {
		r.m = map[string]ReplyConsumer{}
	}
	r.m[name] = rc
	r.mu.Unlock()
}

// RemoveReplyConsumer forgets rc: its name routes nothing more.
func (b *Broker) RemoveReplyConsumer(name string, rc ReplyConsumer) {
	r := &b.replies
	r.mu.Lock()
	if r.m[name] == rc {
		delete(r.m, name)
	}
	r.mu.Unlock()
}

// ReplyConsumer returns the consumer registered under name, or nil.
func (b *Broker) ReplyConsumer(name string) ReplyConsumer {
	r := &b.replies
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[name]
}

// deliverReply hands a reply to the consumer called name and reports
// whether there was one to take it.
func (b *Broker) deliverReply(name string, msg *queue.Message) bool {
	rc := b.ReplyConsumer(name)
	return rc != nil && rc.DeliverReply(msg)
}
