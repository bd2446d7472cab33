package storage

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
	"go.uber.org/zap"
)

// Errors returned by the store. Write errors reach the done callbacks
// wrapped, so test them with errors.Is.
var (
	ErrClosed   = errors.New("storage: store closed")
	ErrNotFound = errors.New("storage: not found")
	ErrTooLarge = errors.New("storage: message too large")
	ErrDiskFull = errors.New("storage: disk full")
	// ErrFailed wraps the first failed fsync: the store then fails every
	// later write, since what reached the disk before is unknown. Restart
	// to recover from what is on disk.
	ErrFailed = errors.New("storage: store failed")
)

// Store is the Badger-backed store of definitions and messages. All its
// methods are safe for concurrent use.
type Store struct {
	opts Options
	log  *zap.Logger
	db   *badger.DB
	lock *os.File
	dir  string // Badger's directory, Dir/db
	// bodies holds large message bodies (Dir/bodies); nil when
	// BodyThreshold is negative or InMemory.
	bodies *bodyLog

	wake     chan struct{}   // a group is pending, or closing
	full     chan struct{}   // a group reached MaxBatchBytes (MaxDelay waits for it)
	complete chan completion // writer -> notifier
	writerWG sync.WaitGroup  // writer and notifier
	gcStop   chan struct{}
	diskWake chan struct{} // the store just went short: GC at once
	gcWG     sync.WaitGroup
	gcMu     sync.Mutex // one RunGC at a time; taken before badgerMu
	// badgerMu keeps value-log GC and the writer's commits apart. Badger's
	// GC reads the memtable's max version without the lock its write path
	// updates it under (a data race in badger v4.9.6, caught by -race), and
	// must not overlap a DropPrefix either.
	badgerMu sync.Mutex

	mu struct {
		sync.Mutex
		groups       []*group // pending, oldest first; the last one takes submissions
		free         []*group
		pendingBytes int64 // submitted, done not yet called
		closing      bool
		failed       error
		messageOps   bool // a message or entry op was submitted (Recover must come first)
		recovered    bool
		readers      int  // reads (and GC runs) using Badger now; they may nest
		dbClosing    bool // Close waits for readers, then closes Badger
	}
	room *sync.Cond // on mu: pendingBytes went down, or closing
	// pending mirrors mu.pendingBytes for Throttle's lock-free check.
	pending atomic.Int64
	idle    *sync.Cond // on mu: readers dropped to 0

	m         metrics
	compacted atomic.Uint64 // m.syncs when compact last ran
}

// Open opens or creates the store in o.Dir. It fails, changing nothing,
// if another process holds the directory, or if the directory holds
// something that is not a readable Warren store.
func Open(o Options) (*Store, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	s := &Store{
		opts:     o,
		log:      o.Logger.Named("storage"),
		wake:     make(chan struct{}, 1),
		full:     make(chan struct{}, 1),
		complete: make(chan completion, 4),
		gcStop:   make(chan struct{}),
		diskWake: make(chan struct{}, 1),
	}
	s.m.diskFree.Store(-1)
	// The first compaction after Open always runs: the deletes replayed
	// from the write-ahead log at start-up count as garbage only once they
	// are flushed.
	s.compacted.Store(^uint64(0))
	s.room = sync.NewCond(&s.mu)
	s.idle = sync.NewCond(&s.mu)
	if !o.InMemory {
		if err := s.openDir(); err != nil {
			return nil, err
		}
	}
	db, err := badger.Open(o.badgerOptions(s.dir, s))
	if err != nil {
		unlockDir(s.lock)
		return nil, fmt.Errorf("storage: cannot open the database in %s (left as it is): %w", s.dir, err)
	}
	s.db = db
	if !o.InMemory && o.BodyThreshold > 0 {
		if s.bodies, err = openBodyLog(filepath.Join(o.Dir, bodiesDir), o.BodySegmentSize, s.log); err != nil {
			db.Close()
			unlockDir(s.lock)
			return nil, err
		}
	}
	s.writerWG.Add(2)
	go s.writeLoop()
	go s.notifyLoop()
	if o.GCInterval > 0 {
		s.gcWG.Add(1)
		go s.gcLoop()
	}
	s.m.minFree.Store(o.MinFreeBytes)
	if o.MinFreeBytes >= 0 {
		s.checkDisk() // a restart on a full disk is short from the start
		s.gcWG.Add(1)
		go s.diskLoop()
	}
	if o.ReleaseInterval > 0 && !o.InMemory {
		s.gcWG.Add(1)
		go s.releaseLoop()
	}
	return s, nil
}

// openDir creates Dir if needed, locks it, and checks that Dir/db is
// either absent or empty (a new store: FORMAT is written first, then db/
// is created) or a Warren store (FORMAT matches, MANIFEST is there).
// Nothing is opened by Badger, and so nothing changed, before those
// checks pass.
func (s *Store) openDir() error {
	dir := s.opts.Dir
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("storage: cannot create data directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("storage: cannot read data directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("storage: data directory %s is not a directory", dir)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return err
	}
	s.lock = lock
	s.dir = filepath.Join(dir, "db")
	if err := s.checkDir(); err != nil {
		unlockDir(lock)
		return err
	}
	return nil
}

func (s *Store) checkDir() error {
	formatPath := filepath.Join(s.opts.Dir, "FORMAT")
	format, ferr := os.ReadFile(formatPath)
	if ferr != nil && !errors.Is(ferr, os.ErrNotExist) {
		return fmt.Errorf("storage: cannot read %s: %w", formatPath, ferr)
	}
	if ferr == nil && !bytes.Equal(bytes.TrimSpace(format), formatValue) {
		return fmt.Errorf("storage: %s says %q, this Warren reads %q; left as it is", formatPath, bytes.TrimSpace(format), formatValue)
	}
	names, err := readDirNames(s.dir)
	switch {
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("storage: cannot read %s: %w", s.dir, err)
	case len(names) > 0 && ferr != nil:
		return fmt.Errorf("storage: %s holds a database but %s is missing: not a Warren store; left as it is", s.dir, formatPath)
	case len(names) > 0 && !names["MANIFEST"]:
		return fmt.Errorf("storage: %s holds files but no MANIFEST: not a Warren store, or damaged; left as it is", s.dir)
	case len(names) > 0:
		return nil
	}
	// A new store.
	if ferr != nil {
		if err := writeFileSync(formatPath, append(formatValue, '\n')); err != nil {
			return fmt.Errorf("storage: cannot create %s: %w", formatPath, err)
		}
	}
	if err := os.Mkdir(s.dir, 0o750); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("storage: cannot create %s: %w", s.dir, err)
	}
	return nil
}

// writeFileSync creates path with data, durably: the file and its
// directory entry are synced.
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func readDirNames(dir string) (map[string]bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make(map[string]bool, len(entries))
	for _, e := range entries {
		names[e.Name()] = true
	}
	return names, nil
}

// Close writes and syncs every pending group (their callbacks run), stops
// the writer and GC, closes Badger and releases the directory. Submit
// returns ErrClosed from the moment Close starts.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.mu.closing {
		s.mu.Unlock()
		return ErrClosed
	}
	s.mu.closing = true
	s.room.Broadcast()
	s.mu.Unlock()
	s.signal(s.wake)
	s.signal(s.full) // cut a MaxDelay wait short
	s.writerWG.Wait()
	close(s.gcStop)
	s.gcWG.Wait()

	s.mu.Lock()
	s.mu.dbClosing = true
	for s.mu.readers > 0 {
		s.idle.Wait()
	}
	s.mu.Unlock()
	err := s.db.Close()
	if s.bodies != nil {
		s.bodies.close()
	}
	if uerr := unlockDir(s.lock); err == nil {
		err = uerr
	}
	if err != nil {
		return fmt.Errorf("storage: close: %w", err)
	}
	return nil
}

// readable runs fn with Badger open, or returns ErrClosed. Calls may
// nest (a Recover callback may call Message); Close waits for them all.
func (s *Store) readable(fn func() error) error {
	s.mu.Lock()
	if s.mu.dbClosing {
		s.mu.Unlock()
		return ErrClosed
	}
	s.mu.readers++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.mu.readers--; s.mu.readers == 0 {
			s.idle.Broadcast()
		}
		s.mu.Unlock()
	}()
	return fn()
}

// Message returns a copy of a message's bytes, or an error wrapping
// ErrNotFound. A message whose PutMessage has not completed (its done
// callback has not run) may not be found yet.
func (s *Store) Message(msgID uint64) ([]byte, error) {
	var out []byte
	err := s.readable(func() error {
		return s.db.View(func(txn *badger.Txn) error {
			var err error
			out, err = s.getMessage(txn, msgID, nil)
			return err
		})
	})
	return out, err
}

// Messages reads several messages in one read transaction (read-ahead of
// bodies that live only on disk). out[i] is the message ids[i]; a missing
// one fails the whole call with an error wrapping ErrNotFound.
func (s *Store) Messages(ids []uint64) ([][]byte, error) {
	out := make([][]byte, len(ids))
	err := s.readable(func() error {
		return s.db.View(func(txn *badger.Txn) error {
			key := make([]byte, 0, messageKeyLen)
			for i, id := range ids {
				var err error
				if out[i], err = s.getMessage(txn, id, key); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) getMessage(txn *badger.Txn, msgID uint64, key []byte) ([]byte, error) {
	item, err := txn.Get(appendMessageKey(key[:0], msgID))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: message %d", ErrNotFound, msgID)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: read message %d: %w", msgID, err)
	}
	if item.UserMeta()&bodyMeta != 0 {
		return s.readBody(item, msgID)
	}
	return item.ValueCopy(nil)
}

// readBody reads a message kept in a body file, item being its pointer.
func (s *Store) readBody(item *badger.Item, msgID uint64) ([]byte, error) {
	if s.bodies == nil {
		return nil, fmt.Errorf("storage: message %d is in a body file, and body files are off (BodyThreshold < 0)", msgID)
	}
	var out []byte
	err := item.Value(func(ptr []byte) error {
		var err error
		out, err = s.bodies.read(ptr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("storage: read message %d: %w", msgID, err)
	}
	return out, nil
}

// PutDefinition stores value under (kind, key), replacing any previous
// one, and returns once it is on disk. kind is a short name ("vhost",
// "user", "exchange", "queue", "binding", ...) without NUL bytes; key and
// value are opaque.
func (s *Store) PutDefinition(kind, key string, value []byte) error {
	var b Batch
	b.PutDefinition(kind, key, value)
	return s.apply(&b)
}

// DeleteDefinition removes (kind, key), if present, and returns once that
// is on disk.
func (s *Store) DeleteDefinition(kind, key string) error {
	var b Batch
	b.DeleteDefinition(kind, key)
	return s.apply(&b)
}

// apply submits b and waits for its sync.
func (s *Store) apply(b *Batch) error {
	ch := make(chan error, 1)
	if err := s.Submit(b, func(err error) { ch <- err }); err != nil {
		return err
	}
	return <-ch
}

// Definitions calls fn for every definition of kind, in key order, with
// copies of key and value. It stops at, and returns, fn's first error.
// It reads what is committed: definitions submitted and not yet synced
// may be missing.
func (s *Store) Definitions(kind string, fn func(key string, value []byte) error) error {
	if err := checkKind(kind); err != nil {
		return err
	}
	prefix := definitionPrefix(kind)
	return s.readable(func() error {
		return s.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 100})
			defer it.Close()
			for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
				item := it.Item()
				v, err := item.ValueCopy(nil)
				if err != nil {
					return fmt.Errorf("storage: read definition: %w", err)
				}
				if err := fn(string(item.Key()[len(prefix):]), v); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// Metrics are counters since Open.
type Metrics struct {
	Groups        uint64 // group commits attempted
	Syncs         uint64 // group commits written and synced
	OpsWritten    uint64 // operations handed to Badger
	OpsCancelled  uint64 // operations never written: a put and its delete met in one group
	BytesWritten  uint64 // value bytes handed to Badger
	WriteErrors   uint64 // groups that failed (their callbacks got the error)
	DiskFull      uint64 // submissions refused with ErrDiskFull (the store's own compactions aside)
	DropsByPrefix uint64 // DropQueue done with Badger's DropPrefix
	DropsByKeys   uint64 // DropQueue done key by key
	GCRewrites    uint64 // value-log files rewritten by GC
	BodyBytes     uint64 // message bytes written to body files
	BodySegments  int    // body files on disk now
	BodyFileBytes int64  // their size
}

type metrics struct {
	groups, syncs, opsWritten, opsCancelled, bytesWritten atomic.Uint64
	bytesRead                                             atomic.Uint64 // messages read back by Entries
	writeErrors, dropsByPrefix, dropsByKeys, gcRewrites   atomic.Uint64
	diskFullRefusals                                      atomic.Uint64
	bodyBytes                                             atomic.Uint64
	msgDeletes                                            atomic.Uint64 // message deletes written (value-log garbage)
	diskShort                                             atomic.Bool   // free space below MinFreeBytes (Admit)
	diskFree                                              atomic.Int64  // the last reading; -1: none
	minFree                                               atomic.Int64  // MinFreeBytes, changed by SetMinFreeBytes
}

// Metrics returns the counters.
func (s *Store) Metrics() Metrics {
	m := Metrics{
		Groups:        s.m.groups.Load(),
		Syncs:         s.m.syncs.Load(),
		OpsWritten:    s.m.opsWritten.Load(),
		OpsCancelled:  s.m.opsCancelled.Load(),
		BytesWritten:  s.m.bytesWritten.Load(),
		WriteErrors:   s.m.writeErrors.Load(),
		DiskFull:      s.m.diskFullRefusals.Load(),
		DropsByPrefix: s.m.dropsByPrefix.Load(),
		DropsByKeys:   s.m.dropsByKeys.Load(),
		GCRewrites:    s.m.gcRewrites.Load(),
		BodyBytes:     s.m.bodyBytes.Load(),
	}
	if s.bodies != nil {
		m.BodySegments, m.BodyFileBytes = s.bodies.stats()
	}
	return m
}

// fail makes the store fail every later write with an error wrapping
// ErrFailed and err. The first failure wins.
func (s *Store) fail(err error) {
	s.mu.Lock()
	first := s.mu.failed == nil
	if first {
		s.mu.failed = fmt.Errorf("%w: %w", ErrFailed, err)
	}
	s.mu.Unlock()
	if first {
		s.log.Error("storage failed: every later write will fail; restart to recover from disk", zap.Error(err))
	}
}
