package broker

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue"
)

// Recovered is what Recover rebuilt.
type Recovered struct {
	Exchanges, Queues, Bindings int
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
// Definitions of a vhost that is not configured are left in the store.
func (b *Broker) Recover() (Recovered, error) {
	start := time.Now()
	r := Recovered{ByID: map[uint64]*queue.Queue{}}
	st := b.store
	if st == nil {
		return r, nil
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
		v.mu.Lock()
		v.mu.exchanges[d.Name] = &exchange.Exchange{Name: d.Name, Kind: kind, Durable: true, AutoDelete: d.AutoDelete, Internal: d.Internal, Args: args}
		v.mu.Unlock()
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
		q := v.newQueue(queue.Config{Name: d.Name, Durable: true, AutoDelete: d.AutoDelete, Args: args, ID: d.ID, Persist: true})
		v.mu.Lock()
		v.mu.queues[d.Name] = q
		v.mu.Unlock()
		r.ByID[d.ID] = q
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
		v.mu.Lock()
		defer v.mu.Unlock()
		x := v.mu.exchanges[d.Source]
		if x == nil {
			return nil
		}
		args, err := decodeArgs(d.Args)
		if err != nil {
			return fmt.Errorf("binding %q: %w", key, err)
		}
		x.Bind(exchange.Binding{Source: d.Source, Destination: exchange.Destination{Exchange: d.ToExchange, Name: d.Destination}, Key: d.Key, Args: args})
		r.Bindings++
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("recover bindings: %w", err)
	}
	return r, b.recoverMessages(start, &r)
}
