package server

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/storage"
)

// Definition kinds in the store.
const (
	defExchange = "exchange"
	defQueue    = "queue"
	defBinding  = "binding"
)

// journal is the queue.Journal of durable queues: it hands each entry
// operation to the store's group commit.
type journal struct {
	store *storage.Store
	log   *zap.Logger
	pool  sync.Pool // *storage.Batch
}

func (j *journal) batch() *storage.Batch {
	if b, ok := j.pool.Get().(*storage.Batch); ok {
		return b
	}
	return new(storage.Batch)
}

func (j *journal) submit(b *storage.Batch, done func(error)) {
	if err := j.store.Submit(b, done); err != nil {
		j.log.Error("store refused a write", zap.Error(err))
		if done != nil {
			done(err)
		}
	}
	b.Reset()
	j.pool.Put(b)
}

func (j *journal) PutEntry(q *queue.Queue, e queue.Entry, done func(error)) {
	b := j.batch()
	b.PutEntry(q.ID, e.Seq, e.Msg.ID, nil)
	j.submit(b, done)
}

func (j *journal) DeleteEntry(q *queue.Queue, e queue.Entry) {
	b := j.batch()
	b.DeleteEntry(q.ID, e.Seq)
	if e.Msg.Refs.Add(-1) == 0 {
		b.DeleteMessage(e.Msg.ID)
	}
	j.submit(b, nil)
}

func (j *journal) Forget(q *queue.Queue, es []queue.Entry) {
	b := j.batch()
	for _, e := range es {
		if e.Msg.Refs.Add(-1) == 0 {
			b.DeleteMessage(e.Msg.ID)
		}
	}
	if b.Len() > 0 {
		j.submit(b, nil)
	} else {
		j.pool.Put(b)
	}
}

func (j *journal) Drop(q *queue.Queue) {
	b := j.batch()
	b.DropQueue(q.ID)
	j.submit(b, nil)
}

// release drops one reference a publish took for a queue that did not
// journal the message after all (it was deleted or full).
func (j *journal) release(m *queue.Message) {
	if m.Refs.Add(-1) == 0 {
		b := j.batch()
		b.DeleteMessage(m.ID)
		j.submit(b, nil)
	}
}

// Stored message format (the store keeps it as opaque bytes):
//
//	exchange len u8 | exchange | routing key len u8 | routing key |
//	properties len u32 | properties | body
func encodeMessage(m *queue.Message) []byte {
	b := make([]byte, 0, 6+len(m.Exchange)+len(m.RoutingKey)+len(m.Props)+len(m.Body))
	b = append(b, byte(len(m.Exchange)))
	b = append(b, m.Exchange...)
	b = append(b, byte(len(m.RoutingKey)))
	b = append(b, m.RoutingKey...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Props)))
	b = append(b, m.Props...)
	return append(b, m.Body...)
}

var errBadMessage = errors.New("stored message is malformed")

func decodeMessage(id uint64, b []byte) (*queue.Message, error) {
	take := func(n int) []byte {
		if n > len(b) {
			return nil
		}
		p := b[:n]
		b = b[n:]
		return p
	}
	m := &queue.Message{ID: id, Persistent: true}
	if len(b) < 1 {
		return nil, errBadMessage
	}
	x := take(int(b[0]) + 1)
	if x == nil || len(b) < 1 {
		return nil, errBadMessage
	}
	m.Exchange = string(x[1:])
	rk := take(int(b[0]) + 1)
	if rk == nil || len(b) < 4 {
		return nil, errBadMessage
	}
	m.RoutingKey = string(rk[1:])
	n := binary.BigEndian.Uint32(b)
	b = b[4:]
	if uint64(n) > uint64(len(b)) {
		return nil, errBadMessage
	}
	m.Props = b[:n:n]
	m.Body = b[n:]
	if sum, err := amqp.ScanProperties(m.Props); err == nil {
		m.Priority = sum.Priority
	}
	return m, nil
}

// Definition records, JSON with field tables in their wire form.
type exchangeDef struct {
	Vhost      string `json:"vhost"`
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	AutoDelete bool   `json:"auto_delete,omitempty"`
	Internal   bool   `json:"internal,omitempty"`
	Args       []byte `json:"args,omitempty"`
}

type queueDef struct {
	Vhost      string `json:"vhost"`
	Name       string `json:"name"`
	ID         uint64 `json:"id"`
	AutoDelete bool   `json:"auto_delete,omitempty"`
	Args       []byte `json:"args,omitempty"`
}

type bindingDef struct {
	Vhost       string `json:"vhost"`
	Source      string `json:"source"`
	Destination string `json:"destination"`
	ToExchange  bool   `json:"to_exchange,omitempty"`
	Key         string `json:"key"`
	Args        []byte `json:"args,omitempty"`
}

func encodeArgs(t map[string]any) []byte {
	if len(t) == 0 {
		return nil
	}
	b, err := amqp.AppendTable(nil, amqp.Table(t))
	if err != nil {
		return nil
	}
	return b
}

func decodeArgs(b []byte) (map[string]any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	return amqp.DecodeTable(b)
}

func defKey(parts ...string) string {
	k := ""
	for i, p := range parts {
		if i > 0 {
			k += "\x00"
		}
		k += p
	}
	return k
}

func bindingKey(vhost string, b exchange.Binding) string {
	kind := "q"
	if b.Destination.Exchange {
		kind = "x"
	}
	return defKey(vhost, b.Source, kind, b.Destination.Name, b.Key, string(encodeArgs(b.Args)))
}

// defBatch collects the definition changes of one operation. They are
// submitted under the vhost's lock, so they reach the store in the order
// the changes happened, and waited for after it is released (no lock is
// held during the sync).
type defBatch struct {
	s    *Server
	b    storage.Batch
	done chan error
}

func (v *vhost) defs() *defBatch { return &defBatch{s: v.srv} }

func (d *defBatch) put(kind, key string, v any) {
	if d.s.store == nil {
		return
	}
	raw, err := json.Marshal(v)
	if err != nil {
		d.s.log.Error("cannot encode a definition", zap.String("kind", kind), zap.Error(err))
		return
	}
	d.b.PutDefinition(kind, key, raw)
}

func (d *defBatch) del(kind, key string) {
	if d.s.store != nil {
		d.b.DeleteDefinition(kind, key)
	}
}

// submit hands the changes to the store; call it with the vhost's lock held.
func (d *defBatch) submit() {
	if d.s.store == nil || d.b.Len() == 0 {
		return
	}
	d.done = make(chan error, 1)
	if err := d.s.store.Submit(&d.b, func(err error) { d.done <- err }); err != nil {
		d.done <- err
	}
}

// wait returns once the changes are on disk; a failure is a 541.
func (d *defBatch) wait() error {
	if d.done == nil {
		return nil
	}
	if err := <-d.done; err != nil {
		d.s.log.Error("cannot store definitions", zap.Error(err))
		return amqp.Errorf(amqp.InternalError, "cannot store the change: %v", err)
	}
	return nil
}

// recover rebuilds durable exchanges, queues, bindings and messages from
// the store. It runs once, in New, before any connection.
func (s *Server) recover() error {
	start := time.Now()
	st := s.store
	var nx, nq, nb int
	err := st.Definitions(defExchange, func(key string, raw []byte) error {
		var d exchangeDef
		if err := json.Unmarshal(raw, &d); err != nil {
			return fmt.Errorf("exchange %q: %w", key, err)
		}
		v := s.vhosts[d.Vhost]
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
		v.mu.exchanges[d.Name] = &exchange.Exchange{Name: d.Name, Kind: kind, Durable: true, AutoDelete: d.AutoDelete, Internal: d.Internal, Args: args}
		nx++
		return nil
	})
	if err != nil {
		return fmt.Errorf("recover exchanges: %w", err)
	}
	byID := map[uint64]*queue.Queue{}
	err = st.Definitions(defQueue, func(key string, raw []byte) error {
		var d queueDef
		if err := json.Unmarshal(raw, &d); err != nil {
			return fmt.Errorf("queue %q: %w", key, err)
		}
		s.nextQueueID = max(s.nextQueueID, d.ID)
		v := s.vhosts[d.Vhost]
		if v == nil {
			return nil
		}
		args, err := decodeArgs(d.Args)
		if err != nil {
			return fmt.Errorf("queue %q: %w", key, err)
		}
		q := queue.New(queue.Config{Name: d.Name, Durable: true, AutoDelete: d.AutoDelete, Args: args, ID: d.ID, Journal: s.journal})
		v.mu.queues[d.Name] = q
		byID[d.ID] = q
		nq++
		return nil
	})
	if err != nil {
		return fmt.Errorf("recover queues: %w", err)
	}
	err = st.Definitions(defBinding, func(key string, raw []byte) error {
		var d bindingDef
		if err := json.Unmarshal(raw, &d); err != nil {
			return fmt.Errorf("binding %q: %w", key, err)
		}
		v := s.vhosts[d.Vhost]
		if v == nil {
			return nil
		}
		x := v.mu.exchanges[d.Source]
		if x == nil {
			return nil
		}
		args, err := decodeArgs(d.Args)
		if err != nil {
			return fmt.Errorf("binding %q: %w", key, err)
		}
		x.Bind(exchange.Binding{Source: d.Source, Destination: exchange.Destination{Exchange: d.ToExchange, Name: d.Destination}, Key: d.Key, Args: args})
		nb++
		return nil
	})
	if err != nil {
		return fmt.Errorf("recover bindings: %w", err)
	}

	// Messages: one Message per stored id, shared by its entries. Every
	// recovered entry is marked redelivered: it may have been delivered
	// before the restart (spec 0-9-1 basic.deliver: redelivered is a hint
	// that errs on the safe side).
	msgs := map[uint64]*queue.Message{}
	stats, err := st.Recover(func(queueID, seq, msgID uint64, meta []byte) error {
		q := byID[queueID]
		if q == nil {
			return storage.ErrSkipQueue
		}
		m := msgs[msgID]
		if m == nil {
			raw, err := st.Message(msgID)
			if err != nil {
				s.log.Warn("a queue entry's message is missing; dropped", zap.String("queue", q.Name), zap.Uint64("msg", msgID), zap.Error(err))
				return nil
			}
			if m, err = decodeMessage(msgID, raw); err != nil {
				return fmt.Errorf("message %d: %w", msgID, err)
			}
			msgs[msgID] = m
		}
		m.Refs.Add(1)
		q.Recover(queue.Entry{Msg: m, Seq: seq, Redelivered: true})
		return nil
	})
	if err != nil {
		return fmt.Errorf("recover messages: %w", err)
	}
	s.nextMsgID.Store(stats.MaxMsgID)
	s.log.Info("recovered durable state",
		zap.Int("exchanges", nx), zap.Int("queues", nq), zap.Int("bindings", nb),
		zap.Int("messages", stats.Messages), zap.Int("entries", stats.Entries),
		zap.Int("orphans_deleted", stats.Orphans), zap.Duration("took", time.Since(start)))
	return nil
}
