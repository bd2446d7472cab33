package raftlog

import (
	"encoding/binary"
	"errors"
	"hash/crc32"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Record kinds (doc.go: Records).
const (
	recEntry   = 1 // index uvarint | term uvarint | type u8 | data
	recHard    = 2 // term uvarint | vote uvarint | commit uvarint
	recConf    = 3 // raftpb.ConfState (protobuf)
	recTrunc   = 4 // index uvarint | term uvarint: entries up to index dropped
	recReset   = 5 // index uvarint | term uvarint: every entry dropped (snapshot installed)
	recSnap    = 6 // index uvarint | term uvarint | raftpb.ConfState: the snapshot file
	recApplied = 7 // index uvarint
	recMeta    = 8 // the caller's bytes
	recDelete  = 9 // (nothing): the group's records end here
)

// recHeader is a record's length u32 BE and CRC-32C u32 BE of its body;
// the body is kind u8 | group u64 BE | payload.
const (
	recHeader  = 8
	bodyHeader = 9
	// maxRecord bounds a record's body, so that a corrupt length is not
	// taken for a huge allocation.
	maxRecord = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var errBadRecord = errors.New("raftlog: a malformed record")

// beginRecord appends a record's header (length and CRC left for
// endRecord) and its kind and group; the payload follows.
func beginRecord(b []byte, kind byte, group uint64) ([]byte, int) {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0, kind)
	return binary.BigEndian.AppendUint64(b, group), start
}

// endRecord fills in the length and CRC of the record at start.
func endRecord(b []byte, start int) []byte {
	body := b[start+recHeader:]
	binary.BigEndian.PutUint32(b[start:], uint32(len(body)))
	binary.BigEndian.PutUint32(b[start+4:], crc32.Checksum(body, castagnoli))
	return b
}

// appendEntryRecord appends e as a record of group.
func appendEntryRecord(b []byte, group uint64, e *pb.Entry) []byte {
	b, start := beginRecord(b, recEntry, group)
	b = binary.AppendUvarint(b, e.GetIndex())
	b = binary.AppendUvarint(b, e.GetTerm())
	b = append(b, byte(e.GetType()))
	b = append(b, e.GetData()...)
	return endRecord(b, start)
}

// appendPairRecord appends a record whose payload is two uvarints.
func appendPairRecord(b []byte, kind byte, group, x, y uint64) []byte {
	b, start := beginRecord(b, kind, group)
	b = binary.AppendUvarint(b, x)
	b = binary.AppendUvarint(b, y)
	return endRecord(b, start)
}

// appendUintRecord appends a record whose payload is one uvarint.
func appendUintRecord(b []byte, kind byte, group, x uint64) []byte {
	b, start := beginRecord(b, kind, group)
	b = binary.AppendUvarint(b, x)
	return endRecord(b, start)
}

func appendHardRecord(b []byte, group uint64, hs *pb.HardState) []byte {
	b, start := beginRecord(b, recHard, group)
	b = binary.AppendUvarint(b, hs.GetTerm())
	b = binary.AppendUvarint(b, hs.GetVote())
	b = binary.AppendUvarint(b, hs.GetCommit())
	return endRecord(b, start)
}

func appendProtoRecord(b []byte, kind byte, group uint64, prefix []uint64, m proto.Message) ([]byte, error) {
	b, start := beginRecord(b, kind, group)
	for _, v := range prefix {
		b = binary.AppendUvarint(b, v)
	}
	b, err := proto.MarshalOptions{}.MarshalAppend(b, m)
	if err != nil {
		return b[:start], err
	}
	return endRecord(b, start), nil
}

func appendBytesRecord(b []byte, kind byte, group uint64, v []byte) []byte {
	b, start := beginRecord(b, kind, group)
	b = append(b, v...)
	return endRecord(b, start)
}

// nextRecord splits the first record off buf: its body and total size.
// ok is false when buf does not start with a whole record whose CRC
// matches (a torn or corrupt tail); a zero length is the end of what was
// written.
func nextRecord(buf []byte) (body []byte, size int, ok bool) {
	if len(buf) < recHeader {
		return nil, 0, false
	}
	n := binary.BigEndian.Uint32(buf)
	if n < bodyHeader || n > maxRecord || uint64(len(buf)-recHeader) < uint64(n) {
		return nil, 0, false
	}
	body = buf[recHeader : recHeader+int(n)]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(buf[4:]) {
		return nil, 0, false
	}
	return body, recHeader + int(n), true
}

// uvarints reads n uvarints from p and returns them with the rest.
func uvarints(p []byte, n int) ([]uint64, []byte, error) {
	out := make([]uint64, n)
	for i := range out {
		v, k := binary.Uvarint(p)
		if k <= 0 {
			return nil, nil, errBadRecord
		}
		out[i], p = v, p[k:]
	}
	return out, p, nil
}

// decodeEntry makes the entry of an entry record's payload; its data
// aliases p.
func decodeEntry(p []byte) (*pb.Entry, error) {
	v, rest, err := uvarints(p, 2)
	if err != nil || len(rest) < 1 {
		return nil, errBadRecord
	}
	typ := pb.EntryType(rest[0])
	e := &pb.Entry{Index: new(v[0]), Term: new(v[1]), Type: &typ}
	if len(rest) > 1 {
		e.Data = rest[1:]
	}
	return e, nil
}
