package broker

import (
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/storage"
)

// recoverMessages restores the stored messages into the recovered queues
// (byID) and the delayed-message schedule, and logs what recovery found.
func (b *Broker) recoverMessages(start time.Time, defs *Recovered) error {
	st := b.store
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
			return b.delayed.recoverEntry(seq, msgID, meta, func() ([]byte, error) { return st.Message(msgID) })
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
		b.journal.share(ids[i], n)
		i += n
	}
	if len(drop) > 0 {
		// Synced before any connection: a read-ahead must never find a
		// transient entry of the previous run.
		sb := b.journal.batch()
		for _, d := range drop {
			sb.DeleteEntry(d.q, d.seq)
			sb.DeleteMessage(d.msg)
		}
		done := make(chan error, 1)
		b.journal.submit(sb, func(err error) { done <- err })
		if err := <-done; err != nil {
			return fmt.Errorf("dropping paged transient messages: %w", err)
		}
	}
	defs.MessagesInQueues = len(ids)
	b.nextMsgID.Store(stats.MaxMsgID)
	b.delayed.recovered()
	// queues: the durable queues declared, empty ones too (the store's line
	// counts queue ids with entries instead); messages_in_queues: the
	// messages restored into them, a copy per queue. messages and entries
	// are the store's: messages stored once, however many queues hold them,
	// and entries including the delayed schedule's and dropped transients.
	b.log.Info("recovered durable state",
		zap.Int("exchanges", defs.Exchanges), zap.Int("queues", defs.Queues), zap.Int("bindings", defs.Bindings),
		zap.Int("messages_in_queues", len(ids)),
		zap.Int("messages", stats.Messages), zap.Int("entries", stats.Entries),
		zap.Int("orphans_deleted", stats.Orphans), zap.Duration("took", time.Since(start)))
	return nil
}
