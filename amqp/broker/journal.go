package broker

import (
	"errors"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

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
	nextID *atomic.Uint64 // the broker's message ids

	// shared counts the entries left for each stored message that more
	// than one queue references; a message missing here has one.
	sharedMu sync.Mutex
	shared   map[uint64]int32
}

func newJournal(st *storage.Store, log *zap.Logger, nextID *atomic.Uint64) *journal {
	return &journal{store: st, log: log, nextID: nextID, shared: map[uint64]int32{}}
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
	putBody(b, id, e.Msg)
	b.PutEntry(q.ID, e.Seq, id, entryMeta(make([]byte, 0, metaLen), true, e))
	j.submit(b, done)
	return id
}

// putBody stores m under id. A pooled body (queue/body.go) is held by
// the store, with a reference of its own, until its group is written.
func putBody(b *storage.Batch, id uint64, m *queue.Message) {
	if !m.Pooled() {
		b.PutMessageParts(id, encodeMessageHead(m), m.Body)
		return
	}
	m.Retain()
	b.PutMessagePartsHeld(id, encodeMessageHead(m), m.Body, m.Release)
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

// Drop removes the queue's stored entries from seq from on (all of them,
// by prefix, when from is 0). The messages of the ready entries in memory
// are released now; those of paged-out entries stay in the store until
// the next recovery deletes them as orphans.
func (j *journal) Drop(q *queue.Queue, ready []queue.Entry, from uint64) {
	b := j.batch()
	for _, e := range ready {
		if e.Stored && j.unref(e.Msg.ID) {
			b.DeleteMessage(e.Msg.ID)
		}
	}
	if from == 0 {
		b.DropQueue(q.ID)
	} else {
		b.DropEntriesFrom(q.ID, from)
	}
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
