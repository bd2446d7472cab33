package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/storage"
)

// journal is every queue's queue.Journal when the broker has a store: it
// hands entry operations to the store's group commit, pages bodies out
// and back, and counts the references to messages stored for several
// queues.
type journal struct {
	store  *storage.Store
	log    *zap.Logger
	pool   sync.Pool      // *storage.Batch
	nextID *atomic.Uint64 // the server's message ids

	// shared counts the entries left for each stored message that more
	// than one queue references; a message missing here has one.
	sharedMu sync.Mutex
	shared   map[uint64]int32
}

func newJournal(st *storage.Store, log *zap.Logger, nextID *atomic.Uint64) *journal {
	return &journal{store: st, log: log, nextID: nextID, shared: map[uint64]int32{}}
}

// Entry meta in the store:
//
//	flags u8 | body size u32 | deliveries u32 | expires i64 (Unix ms, 0: never)
const metaTransient = 1 // paged out, not journalled: dropped at recovery

const metaLen = 17

func entryMeta(b []byte, transient bool, e queue.Entry) []byte {
	f := byte(0)
	if transient {
		f = metaTransient
	}
	b = binary.BigEndian.AppendUint32(append(b, f), uint32(e.Msg.Size()))
	b = binary.BigEndian.AppendUint32(b, e.Deliveries)
	return binary.BigEndian.AppendUint64(b, uint64(e.Expires))
}

type entryState struct {
	transient  bool
	size       int64
	deliveries uint32
	expires    int64
}

func parseMeta(meta []byte) entryState {
	if len(meta) < 5 {
		return entryState{}
	}
	st := entryState{transient: meta[0]&metaTransient != 0, size: int64(binary.BigEndian.Uint32(meta[1:]))}
	if len(meta) >= metaLen {
		st.deliveries = binary.BigEndian.Uint32(meta[5:])
		st.expires = int64(binary.BigEndian.Uint64(meta[9:]))
	}
	return st
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

// share records that a new stored message is referenced by n entries.
func (j *journal) share(id uint64, n int) {
	if n > 1 {
		j.sharedMu.Lock()
		j.shared[id] = int32(n)
		j.sharedMu.Unlock()
	}
}

// unref drops one reference to a stored message and reports whether it
// was the last, so the message is to be deleted.
func (j *journal) unref(id uint64) bool {
	j.sharedMu.Lock()
	defer j.sharedMu.Unlock()
	n, ok := j.shared[id]
	if !ok {
		return true
	}
	if n <= 1 {
		delete(j.shared, id)
		return true
	}
	j.shared[id] = n - 1
	return false
}

func (j *journal) PutEntry(q *queue.Queue, e queue.Entry, done func(error)) {
	b := j.batch()
	b.PutEntry(q.ID, e.Seq, e.Msg.ID, entryMeta(make([]byte, 0, metaLen), false, e))
	j.submit(b, done)
}

func (j *journal) Requeued(q *queue.Queue, e queue.Entry) {
	b := j.batch()
	b.UpdateEntry(q.ID, e.Seq, e.Msg.ID, entryMeta(make([]byte, 0, metaLen), !q.Persist || !e.Msg.Persistent, e))
	j.submit(b, nil)
}

func (j *journal) PageOut(q *queue.Queue, e queue.Entry, done func(error)) uint64 {
	b := j.batch()
	// A copy of its own for this queue: a transient message is never
	// shared on disk, and its entry is dropped at recovery.
	id := j.nextID.Add(1)
	b.PutMessage(id, encodeMessage(e.Msg))
	b.PutEntry(q.ID, e.Seq, id, entryMeta(make([]byte, 0, metaLen), true, e))
	j.submit(b, done)
	return id
}

func (j *journal) Short() bool { return j.store.Admit() != nil }

// ReadBack reads the messages of hollow entries. One paged out a moment
// ago may still be in its group commit: when a message is missing, it
// waits for the writes submitted so far (a fence) and looks again, then
// reads the rest one by one to find which are missing.
func (j *journal) ReadBack(q *queue.Queue, ids []uint64) ([]*queue.Message, error) {
	raws, err := j.store.Messages(ids)
	if errors.Is(err, storage.ErrNotFound) {
		if err = j.fence(); err == nil {
			raws, err = j.store.Messages(ids)
		}
	}
	if errors.Is(err, storage.ErrNotFound) {
		raws, err = make([][]byte, len(ids)), nil
		for i, id := range ids {
			raws[i], err = j.store.Message(id)
			if errors.Is(err, storage.ErrNotFound) {
				j.log.Error("the body of a message held past the memory budget is missing; the message is dropped",
					zap.String("queue", q.Name), zap.Uint64("msg", id))
				err = nil
			} else if err != nil {
				break
			}
		}
	}
	if err != nil {
		j.log.Warn("reading messages back failed", zap.String("queue", q.Name), zap.Error(err))
		return nil, err
	}
	out := make([]*queue.Message, len(ids))
	for i, raw := range raws {
		if raw == nil {
			continue
		}
		m, err := decodeMessage(ids[i], raw)
		if err != nil {
			j.log.Error("a stored message is malformed; skipped", zap.String("queue", q.Name), zap.Uint64("msg", ids[i]), zap.Error(err))
			continue
		}
		out[i] = m
	}
	return out, nil
}

// fence returns once everything submitted to the store so far is on disk.
func (j *journal) fence() error {
	done := make(chan error, 1)
	if err := j.store.Submit(new(storage.Batch), func(err error) { done <- err }); err != nil {
		return err
	}
	return <-done
}

func (j *journal) DeleteEntry(q *queue.Queue, e queue.Entry) {
	b := j.batch()
	b.DeleteEntry(q.ID, e.Seq)
	if j.unref(e.Msg.ID) {
		b.DeleteMessage(e.Msg.ID)
	}
	j.submit(b, nil)
}

// Drop removes the queue's stored entries by prefix. The messages of the
// ready entries in memory are released now; those of paged-out entries
// are found by reading the entries before the drop, in the background.
func (j *journal) Drop(q *queue.Queue, ready []queue.Entry) {
	b := j.batch()
	for _, e := range ready {
		if e.Stored && j.unref(e.Msg.ID) {
			b.DeleteMessage(e.Msg.ID)
		}
	}
	b.DropQueue(q.ID)
	j.submit(b, nil)
}

func (j *journal) PageIn(q *queue.Queue, from uint64, max int, maxBytes int64) ([]queue.Entry, error) {
	recs, err := j.store.Entries(q.ID, from, max, maxBytes)
	if err != nil {
		j.log.Warn("reading paged messages back failed", zap.String("queue", q.Name), zap.Error(err))
		return nil, err
	}
	es := make([]queue.Entry, 0, len(recs))
	for _, r := range recs {
		if r.Message == nil {
			continue
		}
		m, err := decodeMessage(r.MsgID, r.Message)
		if err != nil {
			j.log.Error("a stored message is malformed; skipped", zap.String("queue", q.Name), zap.Uint64("msg", r.MsgID), zap.Error(err))
			continue
		}
		st := parseMeta(r.Meta)
		es = append(es, queue.Entry{Msg: m, Seq: r.Seq, Stored: true, Deliveries: st.deliveries, Expires: st.expires})
	}
	return es, nil
}

// release drops one reference a publish took for a queue that did not
// journal the message after all (it was deleted or full).
func (j *journal) release(m *queue.Message) {
	if j.unref(m.ID) {
		b := j.batch()
		b.DeleteMessage(m.ID)
		j.submit(b, nil)
	}
}

// enqueue puts a routed message on its queues. A persistent message bound
// for queues that persist is stored once, and each of those queues
// journals its entry; with a confirm tracker (conf non-nil) the publish
// seq waits for every one of those writes. It reports whether any queue
// took the message and whether a full queue refused it.
func (s *Server) enqueue(msg *queue.Message, qs []*queue.Queue, conf *confirmTracker, seq uint64) (routed, rejected bool) {
	j := s.journal
	var done func(error)
	stored := 0
	if j != nil && msg.Persistent {
		for _, q := range qs {
			if q.Persist {
				stored++
			}
		}
	}
	if j != nil {
		// Backpressure: a publisher waits while the store is behind, for
		// journalled messages and for bodies paged out past the budget.
		j.store.Throttle()
	}
	if stored > 0 {
		msg.ID = s.nextMsgID.Add(1)
		j.share(msg.ID, stored)
		if conf != nil {
			done = func(err error) { conf.done(seq, err, true) }
			conf.wait(seq)
		}
		b := j.batch()
		b.PutMessage(msg.ID, encodeMessage(msg))
		j.submit(b, done)
	}
	for _, q := range qs {
		var qdone func(error)
		if done != nil && q.Persist {
			conf.wait(seq)
			qdone = done
		}
		journalled, err := q.Publish(msg, qdone)
		if stored > 0 && q.Persist && !journalled {
			j.release(msg)
			if qdone != nil {
				conf.done(seq, nil, false)
			}
		}
		switch err {
		case nil:
			routed = true
		case queue.ErrRejected:
			rejected = true
		}
	}
	return routed, rejected
}

// fence returns once everything this goroutine submitted to the store so
// far is on disk: the store writes groups in submission order, so an empty
// batch's callback runs after the writes before it. Without a store it
// returns at once.
func (s *Server) fence() error {
	if s.journal == nil {
		return nil
	}
	return s.journal.fence()
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
	m := &queue.Message{ID: id}
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
		m.Persistent = sum.DeliveryMode == 2
	}
	return m, nil
}

// recover rebuilds the durable exchanges, queues and bindings (the broker
// core's Recover) and then the messages from the store. It runs once, in
// New, before any connection.
func (s *Server) recover() error {
	start := time.Now()
	st := s.store
	defs, err := s.core.Recover()
	if err != nil {
		return err
	}
	byID := defs.ByID

	// Messages: one Message per stored id, shared by its entries, loaded
	// only for the entries kept in memory (the budget); the others are
	// read back ahead of delivery. Every recovered entry is redelivered:
	// it may have been delivered before the restart (spec 0-9-1
	// basic.deliver: redelivered errs on the safe side). Entries paged out
	// for memory, not journalled, are dropped.
	msgs := map[uint64]*queue.Message{}
	var ids []uint64
	var drop []struct{ q, seq, msg uint64 }
	stats, err := st.Recover(func(queueID, seq, msgID uint64, meta []byte) error {
		if queueID == scheduleQueueID {
			return s.delayed.recoverEntry(seq, msgID, meta, func() ([]byte, error) { return st.Message(msgID) })
		}
		q := byID[queueID]
		if q == nil {
			return storage.ErrSkipQueue
		}
		es := parseMeta(meta)
		if es.transient {
			drop = append(drop, struct{ q, seq, msg uint64 }{queueID, seq, msgID})
			return nil
		}
		ids = append(ids, msgID)
		return q.Recover(seq, es.size, es.deliveries, es.expires, func() (*queue.Message, error) {
			if m := msgs[msgID]; m != nil {
				return m, nil
			}
			raw, err := st.Message(msgID)
			if err != nil {
				return nil, fmt.Errorf("message %d of queue '%s': %w", msgID, q.Name, err)
			}
			m, err := decodeMessage(msgID, raw)
			if err != nil {
				return nil, fmt.Errorf("message %d: %w", msgID, err)
			}
			msgs[msgID] = m
			return m, nil
		})
	})
	if err != nil {
		return fmt.Errorf("recover messages: %w", err)
	}
	// Messages referenced by several entries get a shared count.
	slices.Sort(ids)
	for i := 0; i < len(ids); {
		n := 1
		for i+n < len(ids) && ids[i+n] == ids[i] {
			n++
		}
		s.journal.share(ids[i], n)
		i += n
	}
	if len(drop) > 0 {
		// Synced before any connection: a read-ahead must never find a
		// transient entry of the previous run.
		b := s.journal.batch()
		for _, d := range drop {
			b.DeleteEntry(d.q, d.seq)
			b.DeleteMessage(d.msg)
		}
		done := make(chan error, 1)
		s.journal.submit(b, func(err error) { done <- err })
		if err := <-done; err != nil {
			return fmt.Errorf("dropping paged transient messages: %w", err)
		}
	}
	s.nextMsgID.Store(stats.MaxMsgID)
	s.delayed.recovered()
	// queues: the durable queues declared, empty ones too (the store's line
	// counts queue ids with entries instead); messages_in_queues: the
	// messages restored into them, a copy per queue. messages and entries
	// are the store's: messages stored once, however many queues hold them,
	// and entries including the delayed schedule's and dropped transients.
	s.log.Info("recovered durable state",
		zap.Int("exchanges", defs.Exchanges), zap.Int("queues", defs.Queues), zap.Int("bindings", defs.Bindings),
		zap.Int("messages_in_queues", len(ids)),
		zap.Int("messages", stats.Messages), zap.Int("entries", stats.Entries),
		zap.Int("orphans_deleted", stats.Orphans), zap.Duration("took", time.Since(start)))
	return nil
}
