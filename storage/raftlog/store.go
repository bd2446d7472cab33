package raftlog

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

// Options configure a Store.
type Options struct {
	Dir    string      // Badger's directory (<data-dir>/raft)
	Logger *zap.Logger // nil: none
}

// Store holds the Raft logs of all the groups of a node.
type Store struct {
	db  *badger.DB
	log *zap.Logger
	mu  struct {
		sync.Mutex
		groups map[uint64]*Group
	}
}

// Open opens (creating if need be) the store in o.Dir.
func Open(o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Dir == "" {
		return nil, errors.New("raftlog: no directory")
	}
	// A Raft log is small and short-lived: small memtables so a restart
	// replays little, every commit synced (the Raft loop sends a Ready's
	// messages only after its Commit returns).
	bo := badger.DefaultOptions(o.Dir).
		WithLogger(badgerLogger{o.Logger}).
		WithLoggingLevel(badger.WARNING).
		WithSyncWrites(true).
		WithMetricsEnabled(false).
		WithDetectConflicts(false).
		WithNumVersionsToKeep(1).
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithNumCompactors(2).
		WithNumGoroutines(2).
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		WithValueLogFileSize(64 << 20)
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("raftlog: %w", err)
	}
	s := &Store{db: db, log: o.Logger}
	s.mu.groups = map[uint64]*Group{}
	return s, nil
}

// Close closes the store; its Groups must no longer be used.
func (s *Store) Close() error { return s.db.Close() }

// Group returns the log of group id, loading its state from disk the
// first time.
func (s *Store) Group(id uint64) (*Group, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.mu.groups[id]; g != nil {
		return g, nil
	}
	g := &Group{s: s, id: id}
	if err := s.db.View(func(txn *badger.Txn) error { return g.load(txn) }); err != nil {
		return nil, fmt.Errorf("raftlog: group %d: %w", id, err)
	}
	s.mu.groups[id] = g
	return g, nil
}

// getProto reads key into m; it reports false when the key is absent.
func getProto(txn *badger.Txn, key []byte, m proto.Message) (bool, error) {
	it, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, it.Value(func(v []byte) error { return proto.Unmarshal(v, m) })
}

func getBytes(txn *badger.Txn, key []byte) ([]byte, error) {
	it, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return it.ValueCopy(nil)
}

func readEntry(txn *badger.Txn, group, index uint64) (*pb.Entry, error) {
	e := &pb.Entry{}
	ok, err := getProto(txn, entryKey(group, index), e)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, nil
	}
	return e, nil
}

// badgerLogger sends Badger's log to zap.
type badgerLogger struct{ log *zap.Logger }

func (l badgerLogger) Errorf(f string, args ...any) {
	l.log.Error("raftlog badger: " + strings.TrimSpace(fmt.Sprintf(f, args...)))
}
func (l badgerLogger) Warningf(f string, args ...any) {
	l.log.Warn("raftlog badger: " + strings.TrimSpace(fmt.Sprintf(f, args...)))
}
func (l badgerLogger) Infof(f string, args ...any) {
	l.log.Debug("raftlog badger: " + strings.TrimSpace(fmt.Sprintf(f, args...)))
}
func (l badgerLogger) Debugf(f string, args ...any) {
	l.log.Debug("raftlog badger: " + strings.TrimSpace(fmt.Sprintf(f, args...)))
}
