package server

import (
	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/queue"
)

type txPublish struct {
	msg       *queue.Message
	mandatory bool
	queues    []*queue.Queue
	ext       broker.Extra
}

type txSettle struct {
	tag      uint64
	multiple bool
	ack      bool
	requeue  bool
}

func (ch *channel) confirmSelect(m *amqp.ConfirmSelect) error {
	if ch.tx {
		return amqp.Errorf(amqp.PreconditionFailed, "cannot switch from tx to confirm mode")
	}
	if !ch.confirm {
		ch.confirm = true
		ch.conf = newConfirmTracker(ch)
		ch.mode.Store(modeConfirm)
	}
	if !m.Nowait {
		ch.send(&amqp.ConfirmSelectOk{})
	}
	return nil
}

// flushConfirms sends the confirms that are ready, as few frames as
// possible; the reader calls it before it blocks on the socket.
func (ch *channel) flushConfirms() {
	ch.confirmDirty = false
	if ch.conf != nil && !ch.closing {
		ch.conf.flushFromReader()
	}
}

func (ch *channel) txSelect() error {
	if ch.confirm {
		return amqp.Errorf(amqp.PreconditionFailed, "cannot switch from confirm to tx mode")
	}
	ch.tx = true
	ch.mode.Store(modeTx)
	ch.send(&amqp.TxSelectOk{})
	return nil
}

// txSettle records an ack, nack or reject for the commit, after checking
// that the tag is outstanding.
func (ch *channel) txSettle(tag uint64, multiple, ack, requeue bool) error {
	ch.dmu.Lock()
	known := (multiple && tag == 0) || ch.dmu.unacked.find(tag) >= 0
	ch.dmu.Unlock()
	if !known {
		return amqp.Errorf(amqp.PreconditionFailed, "unknown delivery tag %d", tag)
	}
	ch.txSettles = append(ch.txSettles, txSettle{tag: tag, multiple: multiple, ack: ack, requeue: requeue})
	return nil
}

func (ch *channel) txCommit() error {
	if !ch.tx {
		return amqp.Errorf(amqp.PreconditionFailed, "channel is not transactional")
	}
	pubs, settles := ch.txPubs, ch.txSettles
	ch.txPubs, ch.txSettles = nil, nil
	for _, p := range pubs {
		ch.deliverPublished(p.msg, p.mandatory, p.queues, &p.ext)
	}
	ch.tx = false // settle directly below
	var err error
	for _, s := range settles {
		if s.ack {
			err = ch.basicAck(s.tag, s.multiple)
		} else {
			err = ch.basicNack(s.tag, s.multiple, s.requeue)
		}
		if err != nil {
			break
		}
	}
	ch.tx = true
	if err != nil {
		return err
	}
	// rabbitmq: a commit is durable once commit-ok is sent, publishes and
	// acks alike.
	if err := ch.c.srv.core.Fence(); err != nil {
		return amqp.Errorf(amqp.InternalError, "cannot store the transaction: %v", err)
	}
	ch.send(&amqp.TxCommitOk{})
	return nil
}

func (ch *channel) txRollback() error {
	if !ch.tx {
		return amqp.Errorf(amqp.PreconditionFailed, "channel is not transactional")
	}
	ch.txPubs, ch.txSettles = nil, nil
	ch.send(&amqp.TxRollbackOk{})
	return nil
}
