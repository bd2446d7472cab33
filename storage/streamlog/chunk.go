package streamlog

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"slices"
)

const (
	// chunkMagic is osiris's first byte: magic 5, version 1.
	chunkMagic = 0x51
	// chunkUser is osiris's chunk type of user records.
	chunkUser = 0
	// chunkEpoch is the epoch written in every chunk (a single node).
	chunkEpoch  = 1
	headerSize  = 48
	maxChunkLen = 1 << 30
	// maxFilterValues bounds a chunk's filter: past it (or past 255
	// bytes, osiris's one-byte filter size) the chunk says "any value"
	// and readers with a filter read it.
	maxFilterValues = 64
	maxFilterBytes  = 255
	// maxTrailerWriters and maxTrailerBytes bound a chunk's trailer
	// (writers' sequences): 65,535 writers of 256-byte names fit.
	maxTrailerWriters = 0xFFFF
	maxTrailerBytes   = 32 << 20
)

// errCorrupt is a chunk that fails its checks: a torn or damaged tail.
var errCorrupt = errors.New("streamlog: corrupt chunk")

// header is a chunk's header (osiris's layout, see doc.go).
type header struct {
	first     uint64
	count     uint32
	timestamp int64  // Unix ms
	size      uint32 // filter, records and trailer: the bytes after the header
	crc       uint32 // CRC-32 (IEEE) of the records
	fsize     uint32 // the filter's bytes, at the start of the body
	tsize     uint32 // the trailer's bytes, at the end of the body
}

// dsize is the records' bytes.
func (h *header) dsize() uint32 { return h.size - h.fsize - h.tsize }

func (h *header) encode(b []byte) {
	b[0] = chunkMagic
	b[1] = chunkUser
	// osiris: entries and records are equal (no sub-batch entries are
	// stored: a sub-batch is split into records when published).
	binary.BigEndian.PutUint16(b[2:], uint16(min(h.count, 0xFFFF)))
	binary.BigEndian.PutUint32(b[4:], h.count)
	binary.BigEndian.PutUint64(b[8:], uint64(h.timestamp))
	binary.BigEndian.PutUint64(b[16:], chunkEpoch)
	binary.BigEndian.PutUint64(b[24:], h.first)
	binary.BigEndian.PutUint32(b[32:], h.crc)
	binary.BigEndian.PutUint32(b[36:], h.dsize()) // data size
	binary.BigEndian.PutUint32(b[40:], h.tsize)   // trailer size
	b[44] = byte(h.fsize)
	b[45], b[46], b[47] = 0, 0, 0
}

func decodeHeader(b []byte) (header, error) {
	if len(b) < headerSize || b[0] != chunkMagic || b[1] != chunkUser {
		return header{}, errCorrupt
	}
	dsize := binary.BigEndian.Uint32(b[36:])
	h := header{
		count:     binary.BigEndian.Uint32(b[4:]),
		timestamp: int64(binary.BigEndian.Uint64(b[8:])),
		first:     binary.BigEndian.Uint64(b[24:]),
		crc:       binary.BigEndian.Uint32(b[32:]),
		fsize:     uint32(b[44]),
		tsize:     binary.BigEndian.Uint32(b[40:]),
	}
	if h.count == 0 || dsize > maxChunkLen || uint64(dsize) < 4*uint64(h.count) || h.tsize > maxTrailerBytes {
		return header{}, errCorrupt
	}
	h.size = dsize + h.fsize + h.tsize
	return h, nil
}

// encodeChunk appends a chunk of recs, the first at offset first, to dst.
// filters[i] is recs[i]'s filter value ("": none); filters may be nil.
// The trailer holds writers' sequences (none: no trailer); snapshot says
// they are every writer the log knows.
func encodeChunk(dst []byte, first uint64, ts int64, recs [][]byte, filters []string, writers []WriterSeq, snapshot bool) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, headerSize)...)
	dst = appendFilter(dst, filters)
	fsize := len(dst) - start - headerSize
	for _, r := range recs {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(r)))
		dst = append(dst, r...)
	}
	crc := crc32.ChecksumIEEE(dst[start+headerSize+fsize:])
	tstart := len(dst)
	dst = appendTrailer(dst, writers, snapshot)
	body := dst[start+headerSize:]
	h := header{first: first, count: uint32(len(recs)), timestamp: ts, size: uint32(len(body)), crc: crc,
		fsize: uint32(fsize), tsize: uint32(len(dst) - tstart)}
	h.encode(dst[start:])
	return dst
}

// WriterSeq is a writer's (a deduplicating publisher's) last sequence
// (publishing id) written.
type WriterSeq struct {
	Writer string
	Seq    uint64
}

// The chunk trailer: the sequences of the writers whose appends end in
// the chunk, so that a writer's sequence is on disk exactly when its
// records are (osiris keeps writers' sequences in its chunks' trailers
// too). A snapshot, in the first chunk of each segment, lists every
// writer the log knows, so the segments kept after retention still name
// them all.
//
//	+---------------------+-----------+------------------------------------------+-----------+
//	| flags u8 (1: snap.) | count u16 | count x ( len u16 | writer | seq u64 )   | crc32 u32 |
//	+---------------------+-----------+------------------------------------------+-----------+
func appendTrailer(dst []byte, writers []WriterSeq, snapshot bool) []byte {
	if len(writers) == 0 && !snapshot {
		return dst
	}
	if len(writers) > maxTrailerWriters {
		writers = writers[:maxTrailerWriters] // a snapshot past it keeps the first ones
	}
	start := len(dst)
	flags := byte(0)
	if snapshot {
		flags = 1
	}
	dst = append(dst, flags)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(writers)))
	for _, w := range writers {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(w.Writer)))
		dst = append(dst, w.Writer...)
		dst = binary.BigEndian.AppendUint64(dst, w.Seq)
	}
	return binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:]))
}

// decodeTrailer reads a chunk trailer (empty: no writers).
func decodeTrailer(b []byte) (writers []WriterSeq, snapshot bool, err error) {
	if len(b) == 0 {
		return nil, false, nil
	}
	if len(b) < 7 || crc32.ChecksumIEEE(b[:len(b)-4]) != binary.BigEndian.Uint32(b[len(b)-4:]) {
		return nil, false, errCorrupt
	}
	snapshot = b[0]&1 != 0
	n := binary.BigEndian.Uint16(b[1:])
	b = b[3 : len(b)-4]
	for range n {
		if len(b) < 2 {
			return nil, false, errCorrupt
		}
		l := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+l+8 {
			return nil, false, errCorrupt
		}
		writers = append(writers, WriterSeq{Writer: string(b[2 : 2+l]), Seq: binary.BigEndian.Uint64(b[2+l:])})
		b = b[2+l+8:]
	}
	if len(b) != 0 {
		return nil, false, errCorrupt
	}
	return writers, snapshot, nil
}

// Chunk is one chunk read back: its records share one buffer.
type Chunk struct {
	First     uint64 // offset of Records[0]
	Timestamp int64  // Unix ms of the commit
	Records   [][]byte
}

// decodeBody checks body (filter, records, trailer) against h and splits
// it into records.
func decodeBody(h header, body []byte) (Chunk, error) {
	if uint32(len(body)) != h.size || crc32.ChecksumIEEE(body[h.fsize:h.size-h.tsize]) != h.crc {
		return Chunk{}, errCorrupt
	}
	body = body[h.fsize : h.size-h.tsize]
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

// The chunk filter (RabbitMQ 3.13's stream filtering, exact rather than a
// Bloom filter): the distinct filter values of the chunk's records and
// whether some record has none. Empty (fsize 0) when no record has one.
//
//	+-----------+-------------+-------------------------------+
//	| count u16 | unfiltered  | count x ( len u8 | value )    |
//	|           | u8 (0 or 1) |   count 0xFFFF: any value     |
//	+-----------+-------------+-------------------------------+
func appendFilter(dst []byte, filters []string) []byte {
	var vals []string
	unfiltered, any := false, false
	size := 3 // count and the unfiltered flag
	for _, f := range filters {
		if f == "" {
			unfiltered = true
			continue
		}
		if slices.Contains(vals, f) {
			continue
		}
		if len(vals) == maxFilterValues || size+1+len(f) > maxFilterBytes {
			any = true
			continue
		}
		size += 1 + len(f)
		vals = append(vals, f)
	}
	if len(vals) == 0 && !any {
		return dst
	}
	n := uint16(len(vals))
	if any {
		n, vals = 0xFFFF, nil
	}
	dst = binary.BigEndian.AppendUint16(dst, n)
	if unfiltered {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	for _, v := range vals {
		dst = append(dst, byte(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

// Filter is a chunk's filter as a reader sees it.
type Filter struct {
	Values     []string
	Any        bool // too many values to list: any may be there
	Unfiltered bool // some record has no filter value
}

// decodeFilter reads a chunk filter; an empty one is all unfiltered.
func decodeFilter(b []byte) (Filter, error) {
	if len(b) == 0 {
		return Filter{Unfiltered: true}, nil
	}
	if len(b) < 3 {
		return Filter{}, errCorrupt
	}
	n := binary.BigEndian.Uint16(b)
	f := Filter{Unfiltered: b[2] == 1}
	b = b[3:]
	if n == 0xFFFF {
		f.Any = true
		return f, nil
	}
	for range n {
		if len(b) < 1 || len(b) < 1+int(b[0]) {
			return Filter{}, errCorrupt
		}
		f.Values = append(f.Values, string(b[1:1+b[0]]))
		b = b[1+b[0]:]
	}
	return f, nil
}
