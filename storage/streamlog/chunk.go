package streamlog

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

const (
	chunkMagic  = 0x5754_4331 // "WTC1"
	headerSize  = 32
	maxChunkLen = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt is a chunk that fails its checks: a torn or damaged tail.
var errCorrupt = errors.New("streamlog: corrupt chunk")

// header is a chunk's header.
type header struct {
	first     uint64
	count     uint32
	timestamp int64 // Unix ms
	size      uint32
	crc       uint32
}

func (h *header) encode(b []byte) {
	binary.BigEndian.PutUint32(b[0:], chunkMagic)
	binary.BigEndian.PutUint64(b[4:], h.first)
	binary.BigEndian.PutUint32(b[12:], h.count)
	binary.BigEndian.PutUint64(b[16:], uint64(h.timestamp))
	binary.BigEndian.PutUint32(b[24:], h.size)
	binary.BigEndian.PutUint32(b[28:], h.crc)
}

func decodeHeader(b []byte) (header, error) {
	if len(b) < headerSize || binary.BigEndian.Uint32(b) != chunkMagic {
		return header{}, errCorrupt
	}
	h := header{
		first:     binary.BigEndian.Uint64(b[4:]),
		count:     binary.BigEndian.Uint32(b[12:]),
		timestamp: int64(binary.BigEndian.Uint64(b[16:])),
		size:      binary.BigEndian.Uint32(b[24:]),
		crc:       binary.BigEndian.Uint32(b[28:]),
	}
	if h.count == 0 || h.size > maxChunkLen || uint64(h.size) < 4*uint64(h.count) {
		return header{}, errCorrupt
	}
	return h, nil
}

// encodeChunk appends a chunk of recs, the first at offset first, to dst.
func encodeChunk(dst []byte, first uint64, ts int64, recs [][]byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, headerSize)...)
	for _, r := range recs {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(r)))
		dst = append(dst, r...)
	}
	body := dst[start+headerSize:]
	h := header{first: first, count: uint32(len(recs)), timestamp: ts, size: uint32(len(body)), crc: crc32.Checksum(body, castagnoli)}
	h.encode(dst[start:])
	return dst
}

// Chunk is one chunk read back: its records share one buffer.
type Chunk struct {
	First     uint64 // offset of Records[0]
	Timestamp int64  // Unix ms of the commit
	Records   [][]byte
}

// decodeBody checks body against h and splits it into records.
func decodeBody(h header, body []byte) (Chunk, error) {
	if uint32(len(body)) != h.size || crc32.Checksum(body, castagnoli) != h.crc {
		return Chunk{}, errCorrupt
	}
	c := Chunk{First: h.first, Timestamp: h.timestamp, Records: make([][]byte, 0, h.count)}
	for i := uint32(0); i < h.count; i++ {
		if len(body) < 4 {
			return Chunk{}, errCorrupt
		}
		n := binary.BigEndian.Uint32(body)
		body = body[4:]
		if uint64(n) > uint64(len(body)) {
			return Chunk{}, errCorrupt
		}
		c.Records = append(c.Records, body[:n:n])
		body = body[n:]
	}
	if len(body) != 0 {
		return Chunk{}, errCorrupt
	}
	return c, nil
}
