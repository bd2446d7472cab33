package storage

import (
	"errors"
	"testing"
)

// Recovery deletes messages no entry references: those left by a crash
// between an ack and its message delete, and those of skipped queues.
func TestRecoveryDeletesOrphansAndSkippedQueues(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	recoverAll(t, s)
	var b Batch
	for id := uint64(1); id <= 30; id++ {
		b.PutMessage(id, body(id, 700))
	}
	for id := uint64(1); id <= 10; id++ { // queue 1 holds 1..10
		b.PutEntry(1, id, id, nil)
	}
	for id := uint64(5); id <= 20; id++ { // queue 2 (to be skipped) holds 5..20
		b.PutEntry(2, id, id, nil)
	}
	b.PutEntry(3, 1, 99, nil) // message 99 is missing: a dangling entry
	// 21..30 have no entry at all: orphans.
	applyT(t, s, &b)
	s.Close()

	s = openT(t, dir)
	var kept []recovered
	st, err := s.Recover(func(q, seq, id uint64, meta []byte) error {
		if q == 2 {
			return ErrSkipQueue
		}
		kept = append(kept, recovered{q, seq, id, string(meta)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := RecoveryStats{Queues: 3, Entries: 11, Messages: 10, Orphans: 20, Dangling: 1, SkippedQueues: 1, MaxMsgID: 99}
	st.Duration = 0
	if st != want {
		t.Fatalf("stats\n got %+v\nwant %+v", st, want)
	}
	if len(kept) != 11 {
		t.Fatalf("kept %+v", kept)
	}
	for id := uint64(11); id <= 30; id++ {
		if _, err := s.Message(id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("orphan %d still there: %v", id, err)
		}
	}
	s.Close()

	s = openT(t, dir)
	_, st = recoverAll(t, s)
	st.Duration = 0
	if want := (RecoveryStats{Queues: 2, Entries: 11, Messages: 10, Dangling: 1, MaxMsgID: 99}); st != want {
		t.Fatalf("second recovery\n got %+v\nwant %+v", st, want)
	}
}

func TestRecoveryStopsAtCallbackError(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	recoverAll(t, s)
	var b Batch
	b.PutMessage(1, nil)
	b.PutEntry(1, 1, 1, nil)
	b.PutEntry(1, 2, 1, nil)
	applyT(t, s, &b)
	s.Close()
	s = openT(t, dir)
	bad := errors.New("bad entry")
	calls := 0
	_, err := s.Recover(func(q, seq, id uint64, meta []byte) error { calls++; return bad })
	if err != bad || calls != 1 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
}

// A Recover callback may read messages (the engine loads bodies as it
// goes): reads nest inside recovery.
func TestRecoverCallbackMayReadMessages(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	recoverAll(t, s)
	var b Batch
	b.PutMessage(1, body(1, 2000))
	b.PutEntry(1, 1, 1, nil)
	applyT(t, s, &b)
	s.Close()
	s = openT(t, dir)
	_, err := s.Recover(func(q, seq, id uint64, meta []byte) error {
		m, err := s.Message(id)
		if err == nil && string(m) != string(body(1, 2000)) {
			err = errors.New("wrong body")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
