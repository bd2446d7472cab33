package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
	"go.uber.org/zap"
)

// ErrSkipQueue, returned by a Recover callback, drops every entry of that
// queue (the engine no longer knows it: its definition is gone). Recovery
// then goes on with the next queue.
var ErrSkipQueue = errors.New("storage: skip queue")

// RecoveryStats is what Recover found.
type RecoveryStats struct {
	Definitions   int
	Queues        int // queues with at least one entry, skipped ones included
	Entries       int // entries handed to the callback and kept
	Messages      int // messages kept: referenced by at least one kept entry
	Orphans       int // messages deleted: no entry referenced them
	Dangling      int // kept entries whose message is missing
	SkippedQueues int // queues dropped because the callback returned ErrSkipQueue
	MaxMsgID      uint64
	// BodySegmentsDeleted counts body files no message referenced any
	// more (settled, or written by a group a crash cut short).
	BodySegmentsDeleted int
	Duration            time.Duration
}

// orphanBatch bounds the deletes of one Submit during recovery.
const orphanBatch = 10000

// Recover hands every queue entry to fn, queue by queue and in seq order
// within a queue, then deletes the messages no entry references (left by
// a crash between an ack and the delete of its message, or by skipped
// queues). meta is valid only during the call. MaxMsgID in the stats is
// the highest message id on disk or referenced: number new messages
// above it.
//
// Call it once, after Open and before submitting any message or entry
// operation (definitions may come first): orphans are judged against
// what is on disk. fn's first error other than ErrSkipQueue stops
// recovery and is returned.
func (s *Store) Recover(fn func(queueID, seq, msgID uint64, meta []byte) error) (RecoveryStats, error) {
	start := time.Now()
	var st RecoveryStats
	s.mu.Lock()
	switch {
	case s.mu.recovered:
		s.mu.Unlock()
		return st, errors.New("storage: Recover called twice")
	case s.mu.messageOps:
		s.mu.Unlock()
		return st, errors.New("storage: Recover called after message operations were submitted")
	}
	s.mu.recovered = true
	s.mu.Unlock()

	var skipped, orphans []uint64
	err := s.readable(func() error {
		return s.db.View(func(txn *badger.Txn) error {
			st.Definitions = countKeys(txn, []byte{prefixDefinition})
			refs, sk, err := recoverEntries(txn, fn, &st)
			if err != nil {
				return err
			}
			skipped = sk
			slices.Sort(refs)
			orphans, err = s.findOrphans(txn, refs, &st)
			if err != nil {
				return err
			}
			return nil
		})
	})
	if err != nil {
		return st, err
	}
	segs := 0
	if s.bodies != nil {
		segs, _ = s.bodies.stats()
	}
	if err := s.deleteRecovered(skipped, orphans); err != nil {
		return st, err
	}
	if s.bodies != nil {
		s.bodies.sweep()
		left, _ := s.bodies.stats()
		st.BodySegmentsDeleted = segs - left
	}
	st.Duration = time.Since(start)
	// Counted in the store's terms, not the engine's (whose own line counts
	// the queues it declared): queue ids with entries on disk leave out
	// queues without messages and take in those the engine dropped; a
	// message kept is stored once however many entries share it.
	s.log.Info("recovered",
		zap.Int("definition_keys", st.Definitions),
		zap.Int("queue_ids_with_entries", st.Queues), zap.Int("queue_ids_dropped", st.SkippedQueues),
		zap.Int("entries_kept", st.Entries), zap.Int("messages_kept", st.Messages),
		zap.Int("orphan_messages_deleted", st.Orphans), zap.Int("dangling_entries", st.Dangling),
		zap.Uint64("max_msg_id", st.MaxMsgID), zap.Int("body_segments_deleted", st.BodySegmentsDeleted),
		zap.Float64("seconds", st.Duration.Seconds()))
	if st.Dangling > 0 {
		s.log.Warn("entries reference missing messages", zap.Int("count", st.Dangling))
	}
	return st, nil
}

func countKeys(txn *badger.Txn, prefix []byte) int {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	n := 0
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		n++
	}
	return n
}

// recoverEntries walks q/ in key order: queue by queue, seq by seq.
func recoverEntries(txn *badger.Txn, fn func(queueID, seq, msgID uint64, meta []byte) error, st *RecoveryStats) (refs, skipped []uint64, err error) {
	prefix := []byte{prefixQueue}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 256})
	defer it.Close()
	current, queueRefs := uint64(0), 0 // queueRefs: where current's refs start
	first := true
	for it.Seek(prefix); it.ValidForPrefix(prefix); {
		item := it.Item()
		queueID, seq, ok := parseEntryKey(item.Key())
		if !ok {
			return nil, nil, fmt.Errorf("storage: malformed entry key %x", item.Key())
		}
		if first || queueID != current {
			current, queueRefs, first = queueID, len(refs), false
			st.Queues++
		}
		var msgID uint64
		var cbErr error
		if err := item.Value(func(v []byte) error {
			if len(v) < entryHeadLen {
				return fmt.Errorf("storage: malformed entry q/%d/%d: %d bytes", queueID, seq, len(v))
			}
			msgID = binary.BigEndian.Uint64(v)
			cbErr = fn(queueID, seq, msgID, v[entryHeadLen:])
			return nil
		}); err != nil {
			return nil, nil, err
		}
		switch {
		case cbErr == nil:
			refs = append(refs, msgID)
			st.Entries++
			it.Next()
		case errors.Is(cbErr, ErrSkipQueue):
			skipped = append(skipped, queueID)
			st.Entries -= len(refs) - queueRefs
			refs = refs[:queueRefs]
			if queueID == math.MaxUint64 {
				st.SkippedQueues = len(skipped)
				return refs, skipped, nil
			}
			it.Seek(appendQueuePrefix(nil, queueID+1))
		default:
			return nil, nil, cbErr
		}
	}
	st.SkippedQueues = len(skipped)
	return refs, skipped, nil
}

// findOrphans walks m/ by key alone (bodies stay on disk), merging with
// the sorted references: a message no entry references is an orphan.
//
// It also tells the body files where the bodies of the messages kept in
// them are (their pointers are small values, in the tree).
func (s *Store) findOrphans(txn *badger.Txn, refs []uint64, st *RecoveryStats) (orphans []uint64, err error) {
	prefix := []byte{prefixMessage}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	j := 0
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		item := it.Item()
		id, ok := parseMessageKey(item.Key())
		if !ok {
			continue // not ours; leave it
		}
		if item.UserMeta()&bodyMeta != 0 && s.bodies != nil {
			if err := item.Value(func(ptr []byte) error { s.bodies.note(id, ptr); return nil }); err != nil {
				return nil, fmt.Errorf("storage: read body pointer of message %d: %w", id, err)
			}
		}
		st.MaxMsgID = max(st.MaxMsgID, id)
		for j < len(refs) && refs[j] < id {
			st.Dangling++
			j++
		}
		if j < len(refs) && refs[j] == id {
			st.Messages++
			for j < len(refs) && refs[j] == id {
				j++
			}
			continue
		}
		orphans = append(orphans, id)
	}
	st.Dangling += len(refs) - j
	if len(refs) > 0 {
		// A dangling entry's id must not be given to a new message either.
		st.MaxMsgID = max(st.MaxMsgID, refs[len(refs)-1])
	}
	st.Orphans = len(orphans)
	return orphans, nil
}

// deleteRecovered drops the skipped queues and deletes the orphans, in
// bounded batches through the writer, and waits for them.
func (s *Store) deleteRecovered(skipped, orphans []uint64) error {
	var b Batch
	for _, q := range skipped {
		b.DropQueue(q)
	}
	for len(orphans) > 0 || b.Len() > 0 {
		n := min(len(orphans), orphanBatch)
		for _, id := range orphans[:n] {
			b.DeleteMessage(id)
		}
		orphans = orphans[n:]
		if err := s.apply(&b); err != nil {
			return fmt.Errorf("storage: recovery cleanup: %w", err)
		}
		b.Reset()
	}
	return nil
}
