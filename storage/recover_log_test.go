package storage

import (
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// Recovery's log line says what it counted, in the store's terms: keys on
// disk, queue ids with entries (a queue without messages has none; one the
// engine dropped still has them), entries and the messages they share.
// The engine's own line counts the queues it declared; the two must not
// both say "queues".
func TestRecoveryLogLine(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	recoverAll(t, s)
	var b Batch
	b.PutDefinition("queue", "/q1", []byte("{}"))
	b.PutDefinition("queue", "/q3", []byte("{}"))
	b.PutDefinition("queue", "/empty", []byte("{}"))
	for id := uint64(1); id <= 4; id++ {
		b.PutMessage(id, body(id, 100))
	}
	b.PutEntry(1, 1, 1, nil) // queue 1: messages 1 and 2
	b.PutEntry(1, 2, 2, nil)
	b.PutEntry(3, 1, 1, nil) // queue 3 shares message 1
	b.PutEntry(2, 1, 3, nil) // queue 2's definition is gone: dropped
	// Message 4 has no entry: an orphan.
	applyT(t, s, &b)
	s.Close()

	core, logs := observer.New(zapcore.InfoLevel)
	s = openT(t, dir, func(o *Options) { o.Logger = zap.New(core) })
	if _, err := s.Recover(func(q, seq, id uint64, meta []byte) error {
		if q == 2 {
			return ErrSkipQueue
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The message stays "recovered" (logger "storage"): cmd/warren's crash
	// test reads dangling_entries from it.
	es := logs.FilterMessage("recovered").All()
	if len(es) != 1 || es[0].LoggerName != "storage" {
		t.Fatalf("%d 'recovered' lines, want 1 from logger storage; the log: %v", len(es), logs.All())
	}
	got := es[0].ContextMap()
	for k, v := range map[string]int64{
		"definition_keys":         3,
		"queue_ids_with_entries":  3,
		"queue_ids_dropped":       1,
		"entries_kept":            3,
		"messages_kept":           2,
		"orphan_messages_deleted": 2,
		"dangling_entries":        0,
	} {
		if got[k] != v {
			t.Errorf("%s = %v, want %d (all: %v)", k, got[k], v, got)
		}
	}
	if _, ok := got["queues"]; ok {
		t.Errorf("the store's line says \"queues\", which the engine's line counts differently: %v", got)
	}
}
