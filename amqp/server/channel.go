package server

import (
	"sync"
	"sync/atomic"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/queue"
)

// channel is one AMQP channel of a connection. Fields without a lock are
// owned by the connection's reader goroutine. dmu guards what deliveries
// from other goroutines touch: delivery tags, the unacknowledged list,
// prefetch accounting and the consumer table.
type channel struct {
	c  *conn
	id uint16

	closing bool // channel.close sent, awaiting close-ok

	// Content assembly for basic.publish.
	pubScratch amqp.BasicPublish // decoded into for every publish
	pub        *amqp.BasicPublish
	pubProps   []byte
	pubSize    uint64
	pubBody    []byte
	pubPooled  *queue.BodyBuf // pubBody's pooled buffer, if it has one
	pubState   uint8          // pubIdle, pubHeader, pubBody

	// The reader's scratch for basic.ack (basicAck), reused ack after ack.
	ackScratch amqp.BasicAck
	ackPending []pending
	ackEntries []queue.Entry

	lastQueue string // the last queue declared, for empty queue names
	// allowed caches the permission checks passed (access.go).
	allowed map[permKey]struct{}

	// Per-consumer prefetch for the next basic.consume (global=false).
	consumerPrefetch int

	// Publisher confirms.
	confirm      bool
	conf         *confirmTracker
	confirmDirty bool // confirms may be ready to send

	// Transactions.
	tx        bool
	txPubs    []txPublish
	txSettles []txSettle

	routeBuf []*queue.Queue

	reply *replyConsumer // the direct reply-to consumer, if any

	// Publish counters by exchange (stats.go), the reader's own.
	lastEx   *exStats
	exByName map[string]*exStats
	// pruneQueued: in conn.pruneStats, to drop deleted queues' counters.
	pruneQueued bool

	mode              atomic.Uint32 // modeConfirm or modeTx, for listings (registry.go)
	consumerPrefetchA atomic.Int32  // consumerPrefetch, for listings

	dmu struct {
		sync.Mutex
		closed         bool
		nextTag        uint64
		unacked        unackedList
		inflight       int // unacked deliveries to consumers, for global prefetch
		globalPrefetch int
		consumers      map[string]*consumer
		ack            ackTimer
		// For the counters' readers (stats.go): the publish counters by
		// exchange, and the delivery counters by queue.
		exchanges []*exStats
		queues    map[*queue.Queue]*qStats
		goneQ     qStats // deleted queues' counts, folded (pruneQueueStats)
		pruneAt   int    // prune the deleted queues' counters past this many
	}
}

const (
	pubIdle = iota
	pubHeader
	pubBody
)

func newChannel(c *conn, id uint16) *channel {
	ch := &channel{c: c, id: id}
	ch.dmu.consumers = map[string]*consumer{}
	return ch
}

func (ch *channel) send(m amqp.Method) { ch.c.send(ch.id, m) }

// handleFrame processes one frame for this channel. A returned *amqp.Error
// that is soft closes the channel here; a hard one goes up to close the
// connection.
func (ch *channel) handleFrame(f amqp.Frame) error {
	if ch.closing {
		// spec 0-9-1 channel.close: after sending close, discard all but close-ok.
		if f.Type != amqp.FrameMethod {
			return nil
		}
		m, err := amqp.DecodeMethod(f.Payload)
		if err != nil {
			return err
		}
		switch m.(type) {
		case *amqp.ChannelCloseOk:
			delete(ch.c.channels, ch.id)
		case *amqp.ChannelClose:
			ch.send(&amqp.ChannelCloseOk{})
		}
		return nil
	}
	err := ch.frame(f)
	if err == nil {
		return nil
	}
	ae, ok := err.(*amqp.Error)
	if !ok || ae.Hard() {
		return err
	}
	ch.closeWith(ae)
	return nil
}

func (ch *channel) frame(f amqp.Frame) error {
	switch f.Type {
	case amqp.FrameMethod:
		if ch.pubState == pubIdle && amqp.MethodIDOf(f.Payload) == amqp.BasicPublishID {
			// The hot path: decode into the channel's own struct.
			if err := amqp.DecodeBasicPublish(f.Payload, &ch.pubScratch); err != nil {
				return err
			}
			if err := ch.basicPublish(&ch.pubScratch); err != nil {
				if ae, ok := err.(*amqp.Error); ok && ae.ClassID == 0 {
					return ae.On(amqp.BasicPublishID)
				}
				return err
			}
			return nil
		}
		if ch.pubState == pubIdle && amqp.MethodIDOf(f.Payload) == amqp.BasicAckID {
			// The other hot path: an ack a message, decoded in place.
			if err := amqp.DecodeBasicAck(f.Payload, &ch.ackScratch); err != nil {
				return err
			}
			if err := ch.basicAck(ch.ackScratch.DeliveryTag, ch.ackScratch.Multiple); err != nil {
				if ae, ok := err.(*amqp.Error); ok && ae.ClassID == 0 {
					return ae.On(amqp.BasicAckID)
				}
				return err
			}
			return nil
		}
		m, err := amqp.DecodeMethod(f.Payload)
		if err != nil {
			return err
		}
		if ch.pubState != pubIdle {
			return amqp.Errorf(amqp.UnexpectedFrame, "expected content %s, got non content %s frame instead", ch.expected(), ch.expected())
		}
		if err := ch.handleMethod(m); err != nil {
			if ae, ok := err.(*amqp.Error); ok && ae.ClassID == 0 {
				return ae.On(m.ID())
			}
			return err
		}
		return nil
	case amqp.FrameHeader:
		if ch.pubState != pubHeader {
			return ch.unexpectedContent()
		}
		return ch.contentHeader(f.Payload)
	case amqp.FrameBody:
		if ch.pubState != pubBody {
			return ch.unexpectedContent()
		}
		return ch.contentBody(f.Payload)
	}
	return amqp.Errorf(amqp.FrameError, "unexpected frame type %d", f.Type)
}

func (ch *channel) expected() string {
	if ch.pubState == pubHeader {
		return "header"
	}
	return "body"
}

func (ch *channel) unexpectedContent() error {
	if ch.pubState == pubIdle {
		return amqp.Errorf(amqp.UnexpectedFrame, "expected method frame, got non method frame instead")
	}
	return amqp.Errorf(amqp.UnexpectedFrame, "expected content %s, got non content %s frame instead", ch.expected(), ch.expected())
}

func (ch *channel) handleMethod(m amqp.Method) error {
	switch m := m.(type) {
	case *amqp.ChannelOpen:
		return amqp.Errorf(amqp.ChannelError, "second 'channel.open' seen")
	case *amqp.ChannelClose:
		ch.release()
		delete(ch.c.channels, ch.id)
		ch.send(&amqp.ChannelCloseOk{})
		return nil
	case *amqp.ChannelCloseOk:
		return nil
	case *amqp.ChannelFlow:
		return ch.flow(m)
	case *amqp.ChannelFlowOk:
		return nil

	case *amqp.ExchangeDeclare:
		return ch.exchangeDeclare(m)
	case *amqp.ExchangeDelete:
		return ch.exchangeDelete(m)
	case *amqp.ExchangeBind:
		return ch.exchangeBind(m)
	case *amqp.ExchangeUnbind:
		return ch.exchangeUnbind(m)

	case *amqp.QueueDeclare:
		return ch.queueDeclare(m)
	case *amqp.QueueBind:
		return ch.queueBind(m)
	case *amqp.QueueUnbind:
		return ch.queueUnbind(m)
	case *amqp.QueuePurge:
		return ch.queuePurge(m)
	case *amqp.QueueDelete:
		return ch.queueDelete(m)

	case *amqp.BasicQos:
		return ch.basicQos(m)
	case *amqp.BasicConsume:
		return ch.basicConsume(m)
	case *amqp.BasicCancel:
		return ch.basicCancel(m)
	case *amqp.BasicPublish:
		return ch.basicPublish(m)
	case *amqp.BasicGet:
		return ch.basicGet(m)
	case *amqp.BasicAck:
		return ch.basicAck(m.DeliveryTag, m.Multiple)
	case *amqp.BasicReject:
		return ch.basicNack(m.DeliveryTag, false, m.Requeue)
	case *amqp.BasicNack:
		return ch.basicNack(m.DeliveryTag, m.Multiple, m.Requeue)
	case *amqp.BasicRecover:
		return ch.basicRecover(m.Requeue)
	case *amqp.BasicRecoverAsync:
		return ch.basicRecover(m.Requeue)

	case *amqp.ConfirmSelect:
		return ch.confirmSelect(m)
	case *amqp.TxSelect:
		return ch.txSelect()
	case *amqp.TxCommit:
		return ch.txCommit()
	case *amqp.TxRollback:
		return ch.txRollback()
	}
	return amqp.Errorf(amqp.CommandInvalid, "unexpected method %s on a channel", m.Name())
}

func (ch *channel) flow(m *amqp.ChannelFlow) error {
	if !m.Active {
		// rabbitmq: clients may not stop the broker's deliveries with channel.flow.
		return amqp.Errorf(amqp.NotImplemented, "active=false")
	}
	ch.send(&amqp.ChannelFlowOk{Active: true})
	return nil
}

// closeWith closes the channel with a soft error: resources are released
// now and the channel waits for close-ok.
func (ch *channel) closeWith(e *amqp.Error) {
	ch.c.log.Info("closing channel on error", zapChannel(ch.id), zapCode(e.Code), zapText(e.Text))
	ch.release()
	ch.closing = true
	ch.pubState = pubIdle
	ch.send(&amqp.ChannelClose{ReplyCode: e.Code, ReplyText: replyText(e.Text), ClassID: e.ClassID, MethodID: e.MethodID})
}

// release cancels the channel's consumers and requeues its unacknowledged
// messages. Deliveries stop at once.
func (ch *channel) release() {
	ch.dmu.Lock()
	if ch.dmu.closed {
		ch.dmu.Unlock()
		return
	}
	ch.dmu.closed = true
	ch.stopAckTimerLocked()
	if ch.conf != nil {
		ch.conf.close()
	}
	consumers := ch.dmu.consumers
	ch.dmu.consumers = map[string]*consumer{}
	pending := ch.dmu.unacked.takeAll()
	ch.dmu.inflight = 0
	ch.dmu.Unlock()

	// Requeue before detaching: with a single active consumer, the next one
	// must find the returned messages back in their places first.
	requeueByQueue(pending)
	for _, cs := range consumers {
		ch.detachConsumer(cs)
	}
	ch.dropReplyTo()
	ch.pubBody, ch.pubPooled = nil, nil // a pooled buffer goes to the GC
	ch.txPubs, ch.txSettles = nil, nil
	ch.c.closeStats(ch) // and unregisters it
	ch.c.srv.core.CloseUserChannel(ch.c.user)
}
