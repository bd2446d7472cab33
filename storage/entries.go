package storage

import (
	"encoding/binary"
	"errors"

	"github.com/dgraph-io/badger/v4"
)

// EntryRecord is one stored queue entry with its message.
type EntryRecord struct {
	Seq     uint64
	MsgID   uint64
	Meta    []byte
	Message []byte
}

// Entries reads up to max entries of a queue with seq >= from, in seq
// order, each with its message, stopping after the one that brings the
// messages to maxBytes (<= 0: no byte limit): the read-ahead of a queue whose bodies
// live only on disk. Only written entries are seen (those whose Submit
// callback ran). It seeks straight to from, so the tombstones of entries
// already acknowledged (all below from) are not scanned. An entry whose
// message is missing comes back with a nil Message.
func (s *Store) Entries(queueID, from uint64, max int, maxBytes int64) ([]EntryRecord, error) {
	var out []EntryRecord
	var bytes int64
	err := s.readable(func() error {
		return s.db.View(func(txn *badger.Txn) error {
			opts := badger.DefaultIteratorOptions
			opts.PrefetchValues = false
			opts.Prefix = appendQueuePrefix(nil, queueID)
			it := txn.NewIterator(opts)
			defer it.Close()
			key := make([]byte, 0, messageKeyLen)
			for it.Seek(appendEntryKey(nil, queueID, from)); it.Valid() && len(out) < max && (maxBytes <= 0 || bytes < maxBytes); it.Next() {
				item := it.Item()
				_, seq, ok := parseEntryKey(item.Key())
				if !ok {
					continue
				}
				v, err := item.ValueCopy(nil)
				if err != nil {
					return err
				}
				if len(v) < 8 {
					continue
				}
				r := EntryRecord{Seq: seq, MsgID: binary.BigEndian.Uint64(v), Meta: v[8:]}
				if r.Message, err = s.getMessage(txn, r.MsgID, key); err != nil && !isNotFound(err) {
					return err
				}
				out = append(out, r)
				bytes += int64(len(r.Message))
			}
			return nil
		})
	})
	s.m.bytesRead.Add(uint64(bytes))
	return out, err
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
