package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// openT opens a store in dir with test-sized Badger files and closes it
// at cleanup if the test did not.
func openT(t testing.TB, dir string, mod ...func(*Options)) *Store {
	t.Helper()
	s, err := Open(testOptions(t, dir, mod...))
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testOptions(t testing.TB, dir string, mod ...func(*Options)) Options {
	o := Options{
		Dir:              dir,
		Logger:           zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		MemTableSize:     4 << 20,
		ValueLogFileSize: 4 << 20,
		GCInterval:       -1,
	}
	for _, m := range mod {
		m(&o)
	}
	return o
}

// apply submits b and waits for its callback.
func applyT(t testing.TB, s *Store, b *Batch) {
	t.Helper()
	if err := s.apply(b); err != nil {
		t.Fatalf("apply: %v", err)
	}
}

// waiter counts callbacks and keeps the first error.
type waiter struct {
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
}

func (w *waiter) submit(t testing.TB, s *Store, b *Batch) {
	t.Helper()
	w.wg.Add(1)
	if err := s.Submit(b, w.done); err != nil {
		w.wg.Done()
		t.Fatalf("Submit: %v", err)
	}
}

func (w *waiter) done(err error) {
	w.mu.Lock()
	w.errs = append(w.errs, err)
	w.mu.Unlock()
	w.wg.Done()
}

func (w *waiter) wait() []error {
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.errs
}

// gate blocks the writer inside its first write until released, so that
// what is submitted meanwhile piles up into the next group.
type gate struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func newGate() *gate {
	return &gate{entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *gate) hook() error {
	first := false
	g.once.Do(func() { first = true })
	if first {
		close(g.entered)
		<-g.release
	}
	return nil
}

type recovered struct {
	queue, seq, msgID uint64
	meta              string
}

func recoverAll(t testing.TB, s *Store) ([]recovered, RecoveryStats) {
	t.Helper()
	var out []recovered
	st, err := s.Recover(func(q, seq, id uint64, meta []byte) error {
		out = append(out, recovered{q, seq, id, string(meta)})
		return nil
	})
	if err != nil {
		t.Fatalf("Recover: %v", err)
	}
	return out, st
}

func body(id uint64, n int) []byte {
	b := make([]byte, n)
	s := fmt.Sprintf("message %d;", id)
	for i := range b {
		b[i] = s[i%len(s)]
	}
	return b
}

// snapshot maps every regular file under dir to its contents.
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[p] = string(b)
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("snapshot %s: %v", dir, err)
	}
	return out
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// unreferencedSegments counts the body files on disk that no stored
// message points into (recovery must have deleted them), and fails if the
// store and the directory disagree on which files there are.
func unreferencedSegments(t testing.TB, s *Store) int {
	t.Helper()
	all, err := readDirNames(filepath.Join(s.opts.Dir, bodiesDir))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for name := range all {
		if _, ok := parseSegName(name); ok {
			names[name] = true
		}
	}
	l := s.bodies
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(names) != len(l.mu.segs) {
		t.Errorf("%d files in %s, the store knows %d", len(names), bodiesDir, len(l.mu.segs))
	}
	n := 0
	for _, seg := range l.mu.segs {
		if !names[segName(seg.num)] {
			t.Errorf("segment %s is not on disk", segName(seg.num))
		}
		if seg.live <= 0 {
			n++
		}
	}
	return n
}

// valueLogFiles counts Badger's value-log files.
func (s *Store) valueLogFiles() int {
	names, _ := filepath.Glob(filepath.Join(s.dir, "*.vlog"))
	return len(names)
}
