package server

import (
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue"
)

// routeExtra is what a publish reaches besides queues.
type routeExtra struct {
	// reply is the amq.rabbitmq.reply-to.<token> name a message to the
	// default exchange is addressed to ("": none).
	reply string
	// delayed are the delayed-message exchanges that hold the message
	// back for delay milliseconds.
	delayed []*exchange.Exchange
	delay   int64
	// delayState caches the x-delay decision: 0 not read yet, 1 delay,
	// 2 no delay.
	delayState uint8
}

func (e *routeExtra) any() bool { return e != nil && (e.reply != "" || len(e.delayed) > 0) }

// delays reports whether the message's x-delay header asks for a delay,
// reading the headers once.
func (e *routeExtra) delays(headers func() map[string]any) bool {
	if e.delayState == 0 {
		e.delayState = 2
		if ms, ok := exchange.DelayOf(headers()); ok {
			e.delay, e.delayState = ms, 1
		}
	}
	return e.delayState == 1
}

// deliverExtra hands a published message to the destinations that are
// no queue and reports whether any took it. A delayed message that is
// stored holds the publish's confirm (seq) until it is on disk.
func (ch *channel) deliverExtra(msg *queue.Message, ext *routeExtra, seq uint64) (routed bool) {
	if !ext.any() {
		return false
	}
	if ext.reply != "" && ch.c.srv.deliverReply(ext.reply, msg) {
		routed = true
	}
	if len(ext.delayed) > 0 {
		var conf *confirmTracker
		if ch.confirm {
			conf = ch.conf
		}
		ch.c.srv.delayed.hold(ch.c.vhost, ext.delayed, ext.delay, msg, conf, seq)
		routed = true
	}
	return routed
}
