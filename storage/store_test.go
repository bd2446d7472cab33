package storage

import (
	"errors"
	"fmt"
	"github.com/dgraph-io/badger/v4"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestDefinitionsRoundTripAndReopen(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	defs := map[string]map[string]string{
		"vhost":    {"/": "v1", "prod": "v2"},
		"queue":    {"/\x00orders": "durable", "/\x00audit": "args", "prod\x00x": ""},
		"exchange": {"/\x00amq.direct": "direct"},
	}
	for kind, kv := range defs {
		for k, v := range kv {
			if err := s.PutDefinition(kind, k, []byte(v)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Overwrite one, delete one, delete one that never existed.
	if err := s.PutDefinition("vhost", "prod", []byte("v3")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDefinition("queue", "/\x00audit"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDefinition("queue", "nope"); err != nil {
		t.Fatal(err)
	}
	defs["vhost"]["prod"] = "v3"
	delete(defs["queue"], "/\x00audit")

	check := func(s *Store) {
		t.Helper()
		for kind, want := range defs {
			got := map[string]string{}
			var order []string
			err := s.Definitions(kind, func(k string, v []byte) error {
				got[k] = string(v)
				order = append(order, k)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: got %q, want %q", kind, got, want)
			}
			for i := 1; i < len(order); i++ {
				if order[i-1] >= order[i] {
					t.Errorf("%s: keys out of order: %q", kind, order)
				}
			}
		}
		// A kind that is a prefix of another one sees only its own.
		n := 0
		s.Definitions("vhos", func(string, []byte) error { n++; return nil })
		if n != 0 {
			t.Errorf("kind 'vhos' saw %d definitions of 'vhost'", n)
		}
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir)
	check(s)
	_, st := recoverAll(t, s)
	if st.Definitions != 5 {
		t.Errorf("recovery counted %d definitions, want 5", st.Definitions)
	}

	stop := errors.New("stop")
	if err := s.Definitions("vhost", func(string, []byte) error { return stop }); err != stop {
		t.Errorf("Definitions did not return the callback's error: %v", err)
	}
	for _, kind := range []string{"", "a\x00b"} {
		if err := s.PutDefinition(kind, "k", nil); err == nil {
			t.Errorf("PutDefinition(%q) accepted an invalid kind", kind)
		}
		if err := s.Definitions(kind, func(string, []byte) error { return nil }); err == nil {
			t.Errorf("Definitions(%q) accepted an invalid kind", kind)
		}
	}
}

// Messages routed to several queues survive a reopen, once each, with
// every queue's entries in order.
func TestMessagesSurviveReopenInOrderStoredOnce(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	recoverAll(t, s)
	const n = 300
	queues := []uint64{3, 1, 2} // routed to all three: stored once
	var w waiter
	for id := uint64(1); id <= n; id++ {
		var b Batch
		b.PutMessage(id, body(id, 100+int(id)*7)) // some inline, most in the value log
		for _, q := range queues {
			b.PutEntry(q, id*10, id, []byte{byte(q)})
		}
		if id%3 == 0 { // also to a queue of its own
			b.PutEntry(9, id, id, nil)
		}
		w.submit(t, s, &b)
	}
	for _, err := range w.wait() {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openT(t, dir)
	got, st := recoverAll(t, s)
	if st.Messages != n || st.Entries != 3*n+n/3 || st.Queues != 4 || st.Orphans != 0 || st.MaxMsgID != n {
		t.Fatalf("stats %+v", st)
	}
	perQueue := map[uint64][]recovered{}
	lastQueue := uint64(0)
	for _, e := range got {
		if e.queue < lastQueue {
			t.Fatalf("queue %d after queue %d: recovery is not queue by queue", e.queue, lastQueue)
		}
		lastQueue = e.queue
		perQueue[e.queue] = append(perQueue[e.queue], e)
	}
	for _, q := range queues {
		es := perQueue[q]
		if len(es) != n {
			t.Fatalf("queue %d: %d entries", q, len(es))
		}
		for i, e := range es {
			id := uint64(i + 1)
			if e.seq != id*10 || e.msgID != id || e.meta != string([]byte{byte(q)}) {
				t.Fatalf("queue %d entry %d: %+v", q, i, e)
			}
		}
	}
	ids := make([]uint64, 0, n)
	for id := uint64(1); id <= n; id++ {
		ids = append(ids, id)
	}
	bodies, err := s.Messages(ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range bodies {
		if string(b) != string(body(ids[i], 100+int(ids[i])*7)) {
			t.Fatalf("message %d: wrong body", ids[i])
		}
	}
	if _, err := s.Message(n + 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Message(missing) = %v, want ErrNotFound", err)
	}
	if _, err := s.Messages([]uint64{1, n + 1}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Messages(with a missing one) = %v, want ErrNotFound", err)
	}
}

func TestAckedNeverComeBack(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	recoverAll(t, s)
	for id := uint64(1); id <= 100; id++ {
		var b Batch
		b.PutMessage(id, body(id, 512))
		b.PutEntry(1, id, id, nil)
		b.PutEntry(2, id, id, nil)
		applyT(t, s, &b) // one group each: every put reaches the disk
	}
	// Ack: queue 1 acks everything, queue 2 acks the even ones; messages
	// go when no queue holds them.
	var b Batch
	for id := uint64(1); id <= 100; id++ {
		b.DeleteEntry(1, id)
		if id%2 == 0 {
			b.DeleteEntry(2, id)
			b.DeleteMessage(id)
		}
	}
	applyT(t, s, &b)
	s.Close()

	s = openT(t, dir)
	got, st := recoverAll(t, s)
	if st.Entries != 50 || st.Messages != 50 || st.Orphans != 0 {
		t.Fatalf("stats %+v", st)
	}
	for _, e := range got {
		if e.queue != 2 || e.msgID%2 == 0 {
			t.Fatalf("acked entry came back: %+v", e)
		}
	}
	if _, err := s.Message(2); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted message 2 came back: %v", err)
	}
}

func TestDropQueue(t *testing.T) {
	for _, tc := range []struct {
		name             string
		above            int
		byKeys, byPrefix uint64
	}{
		{"by keys", 1000, 2, 0},
		{"by prefix", 10, 0, 2},
		// Queue 2 takes 400 steps: 200 live entries, and the put and the
		// tombstone of each of 100 acked ones. Queue 3, 200.
		{"tombstones count", 350, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, dir, func(o *Options) { o.DropPrefixAbove = tc.above })
			recoverAll(t, s)
			for id := uint64(1); id <= 200; id++ {
				var b Batch
				b.PutMessage(id, body(id, 300))
				b.PutEntry(1, id, id, nil)
				b.PutEntry(2, id, id, nil)
				b.PutEntry(3, id, id, nil)
				applyT(t, s, &b)
			}
			if tc.name == "tombstones count" {
				var b Batch
				for id := uint64(201); id <= 300; id++ {
					b.PutEntry(2, id, 1, nil)
				}
				applyT(t, s, &b)
				b.Reset()
				for id := uint64(201); id <= 300; id++ {
					b.DeleteEntry(2, id)
				}
				applyT(t, s, &b)
			}
			// Purge queue 2 and put one new entry after it in the same
			// batch (a purged queue keeps its id); a pending put of
			// queue 3 before its drop is dropped with it.
			var b Batch
			b.PutEntry(3, 1000, 1, nil)
			b.DropQueue(2)
			b.DropQueue(3)
			b.PutEntry(2, 500, 7, []byte("after"))
			applyT(t, s, &b)
			m := s.Metrics()
			if m.DropsByKeys != tc.byKeys || m.DropsByPrefix != tc.byPrefix {
				t.Errorf("metrics %+v", m)
			}
			s.Close()

			s = openT(t, dir)
			got, st := recoverAll(t, s)
			if st.Entries != 201 || st.Messages != 200 {
				t.Fatalf("stats %+v", st)
			}
			for _, e := range got {
				switch {
				case e.queue == 1:
				case e.queue == 2 && e.seq == 500 && e.meta == "after":
				default:
					t.Fatalf("dropped entry came back: %+v", e)
				}
			}
		})
	}
}

func TestSecondOpenFailsClearly(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	_, err := Open(testOptions(t, dir))
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	want := fmt.Sprintf("data directory %s is in use by another Warren (pid %d)", dir, os.Getpid())
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	var le *LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() {
		t.Errorf("error %#v does not carry the pid", err)
	}
	// The failed Open changed nothing: the first store still works.
	if err := s.PutDefinition("vhost", "/", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestUnreadableDirectoryIsLeftAlone(t *testing.T) {
	// A store with some data in it, to damage in various ways.
	populated := func(t *testing.T) string {
		dir := t.TempDir()
		s := openT(t, dir)
		recoverAll(t, s)
		var b Batch
		b.PutMessage(1, body(1, 1000))
		b.PutEntry(1, 1, 1, nil)
		b.PutDefinition("vhost", "/", []byte("x"))
		applyT(t, s, &b)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T) (dir string)
		wantErr string
	}{
		{"dir is a file", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "data")
			os.WriteFile(p, []byte("not a directory"), 0o644)
			return p
		}, "data directory"},
		{"db is a file", func(t *testing.T) string {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "db"), []byte("not a directory"), 0o644)
			return dir
		}, "not a directory"},
		{"db without MANIFEST", func(t *testing.T) string {
			dir := populated(t)
			os.Rename(filepath.Join(dir, "db", "MANIFEST"), filepath.Join(dir, "db", "MANIFEST.moved"))
			return dir
		}, "no MANIFEST"},
		{"MANIFEST with a bad magic", func(t *testing.T) string {
			dir := populated(t)
			corrupt(t, filepath.Join(dir, "db", "MANIFEST"), 0)
			return dir
		}, "MANIFEST"},
		{"MANIFEST with a bad checksum", func(t *testing.T) string {
			dir := populated(t)
			corrupt(t, filepath.Join(dir, "db", "MANIFEST"), 12)
			return dir
		}, "checksum"},
		{"another Badger database", func(t *testing.T) string {
			dir := t.TempDir()
			db, err := badger.Open(badger.DefaultOptions(filepath.Join(dir, "db")).WithLogger(nil))
			if err != nil {
				t.Fatal(err)
			}
			db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("k"), []byte("v")) })
			db.Close()
			return dir
		}, "FORMAT is missing"},
		{"another format", func(t *testing.T) string {
			dir := populated(t)
			os.WriteFile(filepath.Join(dir, "FORMAT"), []byte("warren-storage 2\n"), 0o644)
			return dir
		}, "warren-storage 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.damage(t)
			before := snapshot(t, dir)
			_, err := Open(testOptions(t, dir))
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not mention %q", err, tc.wantErr)
			}
			t.Logf("error: %v", err)
			after := snapshot(t, dir)
			for p, b := range before {
				if filepath.Base(p) == "LOCK" && filepath.Dir(p) == dir {
					continue // ours: it gets our pid
				}
				if a, ok := after[p]; !ok {
					t.Errorf("%s was removed", p)
				} else if a != b {
					t.Errorf("%s was changed", p)
				}
			}
			for p := range after {
				if _, ok := before[p]; !ok && !(filepath.Base(p) == "LOCK" && filepath.Dir(p) == dir) {
					t.Errorf("%s was created", p)
				}
			}
		})
	}
}

// corrupt flips the byte at off.
func corrupt(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := []byte{0}
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// A copy of the lock's descriptor (what a child forked by another
// goroutine holds until its exec) must not keep the directory locked once
// the store is closed: the same process reopens it at once.
func TestCloseReleasesLockHeldByACopy(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	fd, err := syscall.Dup(int(s.lock.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(testOptions(t, dir))
	if err != nil {
		t.Fatalf("reopen while a copy of the old lock descriptor is open: %v", err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
}
