package raftlog

import "encoding/binary"

// Record kinds after the group id (doc.go: Key layout).
const (
	prefix       = 'r'
	kindEntry    = 'e'
	kindHard     = 'h'
	kindConf     = 'c'
	kindSnapshot = 's'
	kindTrunc    = 't'
	kindApplied  = 'a'
	kindMeta     = 'm'
)

// groupKey is 'r' | group | kind.
func groupKey(group uint64, kind byte) []byte {
	k := make([]byte, 10, 18)
	k[0] = prefix
	binary.BigEndian.PutUint64(k[1:9], group)
	k[9] = kind
	return k
}

// entryKey is 'r' | group | 'e' | index.
func entryKey(group, index uint64) []byte {
	return binary.BigEndian.AppendUint64(groupKey(group, kindEntry), index)
}

// entryIndex is the index in an entry key.
func entryIndex(k []byte) uint64 { return binary.BigEndian.Uint64(k[10:18]) }

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
