package storage

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Key prefixes; see the layout in doc.go. One byte each: with millions of
// messages, every byte of key is paid in the memtable, the SSTables and
// their indexes.
const (
	prefixDefinition = 'd'
	prefixMessage    = 'm'
	prefixQueue      = 'q'
	prefixFlush      = 'z'
)

const (
	messageKeyLen = 1 + 8
	queueKeyLen   = 1 + 8
	entryKeyLen   = 1 + 8 + 8
	entryHeadLen  = 8 // the msgID at the start of every entry value
)

// flushKey is written and at once dropped by prefix to make Badger flush
// its memtables (see Store.compact).
var flushKey = []byte{prefixFlush}

// formatValue is the content of Dir/FORMAT. A directory whose db/ holds
// files but has no FORMAT, or another one, is not opened.
var formatValue = []byte("warren-storage 1")

func appendMessageKey(b []byte, msgID uint64) []byte {
	b = append(b, prefixMessage)
	return binary.BigEndian.AppendUint64(b, msgID)
}

func appendQueuePrefix(b []byte, queueID uint64) []byte {
	b = append(b, prefixQueue)
	return binary.BigEndian.AppendUint64(b, queueID)
}

func appendEntryKey(b []byte, queueID, seq uint64) []byte {
	b = appendQueuePrefix(b, queueID)
	return binary.BigEndian.AppendUint64(b, seq)
}

func appendEntryValue(b []byte, msgID uint64, meta []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, msgID)
	return append(b, meta...)
}

// definitionPrefix is 'd' kind 0x00; the key follows it.
func definitionPrefix(kind string) []byte {
	b := make([]byte, 0, 2+len(kind))
	b = append(b, prefixDefinition)
	b = append(b, kind...)
	return append(b, 0)
}

func definitionKey(kind, key string) []byte {
	return append(definitionPrefix(kind), key...)
}

func checkKind(kind string) error {
	if kind == "" || strings.IndexByte(kind, 0) >= 0 {
		return fmt.Errorf("storage: invalid definition kind %q: must be non-empty, without NUL", kind)
	}
	return nil
}

func parseEntryKey(k []byte) (queueID, seq uint64, ok bool) {
	if len(k) != entryKeyLen || k[0] != prefixQueue {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(k[1:9]), binary.BigEndian.Uint64(k[9:17]), true
}

func parseMessageKey(k []byte) (msgID uint64, ok bool) {
	if len(k) != messageKeyLen || k[0] != prefixMessage {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[1:]), true
}
