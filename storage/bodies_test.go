package storage

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// bodyOptions: bodies of 1 KiB and more in body files of 8 KiB, so a few
// messages span several files.
func bodyOptions(o *Options) { o.BodyThreshold, o.BodySegmentSize = 1<<10, 8<<10 }

func segFiles(t *testing.T, s *Store) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(s.opts.Dir, bodiesDir, "*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestBodyFilesHoldLargeMessagesOnly(t *testing.T) {
	s := openT(t, t.TempDir(), bodyOptions)
	var b Batch
	small, large := body(1, 1023), body(2, 3000)
	head, tail := []byte("head;"), body(3, 2000)
	b.PutMessage(1, small)
	b.PutMessage(2, large)
	b.PutMessageParts(3, head, tail)
	b.PutMessageParts(4, head, []byte("tiny")) // parts below the threshold: joined, in Badger
	applyT(t, s, &b)
	want := map[uint64][]byte{1: small, 2: large, 3: append(append([]byte{}, head...), tail...), 4: []byte("head;tiny")}
	for id, w := range want {
		got, err := s.Message(id)
		if err != nil || !bytes.Equal(got, w) {
			t.Fatalf("message %d: %v, %d bytes, want %d", id, err, len(got), len(w))
		}
	}
	m := s.Metrics()
	if m.BodyBytes != uint64(len(large)+len(want[3])) {
		t.Fatalf("BodyBytes %d, want %d (messages 2 and 3 only)", m.BodyBytes, len(large)+len(want[3]))
	}
	if n := len(segFiles(t, s)); n != 1 {
		t.Fatalf("%d body files, want 1", n)
	}
	got, err := s.Messages([]uint64{4, 3, 2})
	if err != nil || !bytes.Equal(got[1], want[3]) || !bytes.Equal(got[2], large) {
		t.Fatalf("Messages: %v", err)
	}
}

// A file goes as soon as every body in it is settled, the one being
// written too; files with a live body stay.
func TestBodyFilesDeletedWhenSettled(t *testing.T) {
	s := openT(t, t.TempDir(), bodyOptions)
	var b Batch
	for id := uint64(1); id <= 12; id++ { // 3 KiB each: 4 files of 3 bodies (the 4th body starts a new file past 8 KiB)
		b.PutMessage(id, body(id, 3<<10))
		b.PutEntry(1, id, id, nil)
		applyT(t, s, &b)
		b.Reset()
	}
	if n := len(segFiles(t, s)); n != 4 {
		t.Fatalf("%d body files after 12 x 3 KiB in files of 8 KiB, want 4", n)
	}
	settle := func(ids ...uint64) {
		for _, id := range ids {
			b.DeleteEntry(1, id)
			b.DeleteMessage(id)
		}
		applyT(t, s, &b)
		b.Reset()
	}
	settle(1, 2, 3, 4) // the first file loses all, the second one of three
	if n := len(segFiles(t, s)); n != 3 {
		t.Fatalf("%d body files, want 3: the first one's bodies are all settled", n)
	}
	if got, err := s.Message(5); err != nil || !bytes.Equal(got, body(5, 3<<10)) {
		t.Fatalf("message 5 after its neighbour was settled: %v", err)
	}
	if _, err := s.Message(1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("settled message 1: %v, want ErrNotFound", err)
	}
	settle(5, 6, 7, 8, 9, 10, 11, 12)
	if n := len(segFiles(t, s)); n != 0 {
		t.Fatalf("%d body files once everything is settled, want none", n)
	}
	if m := s.Metrics(); m.BodySegments != 0 || m.BodyFileBytes != 0 {
		t.Fatalf("metrics say %d files, %d bytes, want none", m.BodySegments, m.BodyFileBytes)
	}
	// And writing goes on in a new file.
	b.PutMessage(13, body(13, 2000))
	applyT(t, s, &b)
	if got, err := s.Message(13); err != nil || !bytes.Equal(got, body(13, 2000)) {
		t.Fatalf("message 13: %v", err)
	}
}

// A put cancelled by its delete in the same group never reaches a file.
func TestBodyCancelledNeverWritten(t *testing.T) {
	g := newGate()
	s := openT(t, t.TempDir(), bodyOptions, func(o *Options) { o.hooks = &hooks{beforeWrite: g.hook} })
	recoverAll(t, s)
	var w waiter
	var b Batch
	b.PutMessage(99, nil) // held in the writer by the gate
	w.submit(t, s, &b)
	<-g.entered
	b.Reset()
	b.PutMessage(1, body(1, 4000))
	w.submit(t, s, &b)
	b.Reset()
	b.DeleteMessage(1)
	w.submit(t, s, &b)
	close(g.release)
	for _, err := range w.wait() {
		if err != nil {
			t.Fatal(err)
		}
	}
	if m := s.Metrics(); m.BodyBytes != 0 || len(segFiles(t, s)) != 0 {
		t.Fatalf("a cancelled body was written: %d bytes, %d files", m.BodyBytes, len(segFiles(t, s)))
	}
}

// Reopened, the store reads its bodies back; recovery deletes the bodies
// of orphaned messages and files no pointer references (a crash between a
// body's sync and its pointer's), and new files never reuse their names.
func TestBodyFilesRecovery(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, bodyOptions)
	var b Batch
	for id := uint64(1); id <= 6; id++ {
		b.PutMessage(id, body(id, 3<<10))
		if id <= 3 {
			b.PutEntry(1, id, id, nil) // 4, 5, 6: orphans, in the second file
		}
	}
	applyT(t, s, &b)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(dir, bodiesDir, segName(1000))
	if err := os.WriteFile(stray, bytes.Repeat([]byte("x"), 5000), 0o640); err != nil {
		t.Fatal(err)
	}
	notOurs := filepath.Join(dir, bodiesDir, "README")
	if err := os.WriteFile(notOurs, []byte("left alone"), 0o640); err != nil {
		t.Fatal(err)
	}

	s = openT(t, dir, bodyOptions)
	got, st := recoverAll(t, s)
	if len(got) != 3 || st.Orphans != 3 || st.Messages != 3 {
		t.Fatalf("recovered %d entries, %d messages, %d orphans; want 3, 3, 3", len(got), st.Messages, st.Orphans)
	}
	if st.BodySegmentsDeleted != 2 {
		t.Fatalf("BodySegmentsDeleted %d, want 2 (the orphans' file and the stray one)", st.BodySegmentsDeleted)
	}
	if _, err := os.Stat(stray); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stray body file still there: %v", err)
	}
	if _, err := os.Stat(notOurs); err != nil {
		t.Fatalf("a file that is not a body file was touched: %v", err)
	}
	if n := unreferencedSegments(t, s); n != 0 {
		t.Fatalf("%d files without a live body", n)
	}
	for id := uint64(1); id <= 3; id++ {
		if got, err := s.Message(id); err != nil || !bytes.Equal(got, body(id, 3<<10)) {
			t.Fatalf("message %d after reopen: %v", id, err)
		}
	}
	b.Reset()
	b.PutMessage(7, body(7, 3<<10))
	applyT(t, s, &b)
	if _, err := os.Stat(filepath.Join(dir, bodiesDir, segName(1001))); err != nil {
		t.Fatalf("the next body file is not numbered after the highest seen: %v", err)
	}
	// Settling the recovered ones deletes their file.
	b.Reset()
	for id := uint64(1); id <= 3; id++ {
		b.DeleteEntry(1, id)
		b.DeleteMessage(id)
	}
	applyT(t, s, &b)
	if n := len(segFiles(t, s)); n != 1 {
		t.Fatalf("%d body files, want 1 (message 7's)", n)
	}
}

// A body that cannot be written fails its group alone: the file is cut
// back, the store goes on.
func TestBodyWriteFailureFailsGroupAlone(t *testing.T) {
	s := openT(t, t.TempDir(), bodyOptions)
	var b Batch
	b.PutMessage(1, body(1, 2000))
	applyT(t, s, &b)
	b.Reset()
	b.PutMessage(2, body(2, 7000)) // the first file is full now
	applyT(t, s, &b)
	// Make the next file impossible to create: a directory has its name.
	blocker := filepath.Join(s.opts.Dir, bodiesDir, segName(2))
	if err := os.Mkdir(blocker, 0o750); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	b.PutMessage(3, body(3, 2000))
	b.PutEntry(1, 3, 3, nil)
	if err := s.apply(&b); !errors.Is(err, errBodyWrite) {
		t.Fatalf("put into an unwritable directory: %v, want a body write error", err)
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	b.PutMessage(4, body(4, 2000))
	applyT(t, s, &b)
	for _, id := range []uint64{1, 2, 4} {
		if _, err := s.Message(id); err != nil {
			t.Fatalf("message %d: %v", id, err)
		}
	}
	if _, err := s.Message(3); !errors.Is(err, ErrNotFound) {
		t.Fatalf("message 3 of the failed group: %v, want ErrNotFound", err)
	}
}
