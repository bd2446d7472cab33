package server

import (
	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/queue"
)

// deliverExtra hands a published message to the destinations that are
// no queue (broker.Extra) and reports whether any took it. A delayed
// message that is stored holds the publish's confirm (seq) until it is on
// disk.
func (ch *channel) deliverExtra(msg *queue.Message, ext *broker.Extra, seq uint64) (routed bool) {
	if !ext.Any() {
		return false
	}
	if ext.Reply != "" && ch.c.srv.deliverReply(ext.Reply, msg) {
		routed = true
	}
	if len(ext.Delayed) > 0 {
		var conf *confirmTracker
		if ch.confirm {
			conf = ch.conf
		}
		ch.c.srv.delayed.hold(ch.c.vhost, ext.Delayed, ext.Delay, msg, conf, seq)
		routed = true
	}
	return routed
}
