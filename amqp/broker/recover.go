package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp"

	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue"
)

// Recovered is what Recover rebuilt.
type Recovered struct {
	Exchanges, Queues, Bindings int
	Users, Policies             int
	// MessagesInQueues counts the messages restored into queues, a copy
	// per queue.
	MessagesInQueues int
	// ByID holds the recovered queues by their store id, for the front
	// end to restore their messages into.
	ByID map[uint64]*queue.Queue
}

// Recover rebuilds the durable exchanges, queues and bindings of the
// broker's vhosts from the store, in that order, then the messages of
// those queues and the delayed messages held (recover_messages.go). It
// runs once, after New and before anything else uses the broker.
//
// The stored definitions are replayed as the commands that made them
// (DeclareExchange, DeclareQueue with its store id, Bind), through Apply
// like every other change, with nothing written back. Definitions of a
// vhost that is not configured are left in the store; a stored binding
// whose ends are gone is skipped, as RabbitMQ drops it.
func (b *Broker) Recover() (Recovered, error) {
	start := time.Now()
	r := Recovered{ByID: map[uint64]*queue.Queue{}}
	st := b.store
	if st == nil {
		return r, nil
	}
	b.replaying = true
	defer func() { b.replaying = false }()
	if err := b.recoverDefinitions(&r); err != nil {
		return r, err
	}
	err := st.Definitions(defExchange, func(key string, raw []byte) error {
		var d exchangeDef
		if err := json.Unmarshal(raw, &d); err != nil {
			return fmt.Errorf("exchange %q: %w", key, err)
		}
		v := b.Vhost(d.Vhost)
		if v == nil {
			return nil // the vhost is no longer configured
		}
		kind, err := exchange.ParseKind(d.Kind)
		if err != nil {
			return fmt.Errorf("exchange %q: %w", key, err)
		}
		args, err := decodeArgs(d.Args)
		if err != nil {
			return fmt.Errorf("exchange %q: %w", key, err)
		}
		if _, err := v.Apply(DeclareExchange{Name: d.Name, Kind: kind, Durable: true, AutoDelete: d.AutoDelete, Internal: d.Internal, Args: args}); err != nil {
			return fmt.Errorf("exchange %q: %w", key, err)
		}
		r.Exchanges++
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("recover exchanges: %w", err)
	}
	err = st.Definitions(defQueue, func(key string, raw []byte) error {
		var d queueDef
		if err := json.Unmarshal(raw, &d); err != nil {
			return fmt.Errorf("queue %q: %w", key, err)
		}
		b.mu.Lock()
		b.mu.nextQueueID = max(b.mu.nextQueueID, d.ID)
		b.mu.Unlock()
		v := b.Vhost(d.Vhost)
		if v == nil {
			return nil
		}
		args, err := decodeArgs(d.Args)
		if err != nil {
			return fmt.Errorf("queue %q: %w", key, err)
		}
		res, err := v.Apply(DeclareQueue{Name: d.Name, Durable: true, AutoDelete: d.AutoDelete, Args: args, ID: d.ID})
		if err != nil {
			return fmt.Errorf("queue %q: %w", key, err)
		}
		r.ByID[d.ID] = res.Queue
		r.Queues++
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("recover queues: %w", err)
	}
	err = st.Definitions(defBinding, func(key string, raw []byte) error {
		var d bindingDef
		if err := json.Unmarshal(raw, &d); err != nil {
			return fmt.Errorf("binding %q: %w", key, err)
		}
		v := b.Vhost(d.Vhost)
		if v == nil {
			return nil
		}
		args, err := decodeArgs(d.Args)
		if err != nil {
			return fmt.Errorf("binding %q: %w", key, err)
		}
		_, err = v.Apply(Bind{Source: d.Source, Destination: exchange.Destination{Exchange: d.ToExchange, Name: d.Destination}, Key: d.Key, Args: args})
		var ae *amqp.Error
		if errors.As(err, &ae) && ae.Code == amqp.NotFound {
			b.log.Warn("a stored binding whose source or destination is gone; skipped", zap.String("binding", key))
			return nil
		}
		if err != nil {
			return fmt.Errorf("binding %q: %w", key, err)
		}
		r.Bindings++
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("recover bindings: %w", err)
	}
	return r, b.recoverMessages(start, &r)
}
