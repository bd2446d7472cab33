package server

import (
	"github.com/warrenmq/warren/queue"
)

// routeExtra is what a publish reaches besides queues.
type routeExtra struct {
	// reply is the amq.rabbitmq.reply-to.<token> name a message to the
	// default exchange is addressed to ("": none).
	reply string
}

func (e *routeExtra) any() bool { return e != nil && e.reply != "" }

// deliverExtra hands a published message to the destinations that are
// no queue and reports whether any took it.
func (ch *channel) deliverExtra(msg *queue.Message, ext *routeExtra) (routed bool) {
	if !ext.any() {
		return false
	}
	if ext.reply != "" && ch.c.srv.deliverReply(ext.reply, msg) {
		routed = true
	}
	return routed
}
