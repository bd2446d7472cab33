package streamlog

import (
	"fmt"
	"os"
	"sort"
)

// Reader is a cursor over a log's committed chunks, read from the files:
// a reader far behind costs page cache, not memory. One goroutine uses a
// Reader.
type Reader struct {
	// Match, if set, decides from a chunk's filter whether to read it: a
	// chunk it refuses is skipped without reading its records.
	Match func(Filter) bool

	l     *Log
	seg   uint64 // first offset of the segment it reads
	pos   int64  // file position of the next chunk
	start uint64 // records before this offset are skipped
	f     *segFile
	fseg  uint64
}

// Seek positions.
const (
	// SeekFirst is the first record kept.
	SeekFirst = iota
	// SeekLast is the first record of the last chunk written (RabbitMQ's
	// "last").
	SeekLast
	// SeekNext is the next record to be written.
	SeekNext
)

// NewReader returns a reader at where (SeekFirst, SeekLast, SeekNext).
func (l *Log) NewReader(where int) *Reader {
	r := &Reader{l: l}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch where {
	case SeekFirst:
		s := l.mu.segs[0]
		r.seg, r.pos, r.start = s.first, 0, 0
	case SeekLast:
		for i := len(l.mu.segs) - 1; i >= 0; i-- {
			s := l.mu.segs[i]
			if len(s.index) > 0 {
				e := s.index[len(s.index)-1]
				r.seg, r.pos, r.start = s.first, e.pos, e.first
				return r
			}
		}
		fallthrough
	default:
		r.seekNextLocked()
	}
	return r
}

func (r *Reader) seekNextLocked() {
	s := r.l.mu.segs[len(r.l.mu.segs)-1]
	r.seg, r.pos, r.start = s.first, s.size, s.next
}

// NewReaderAt returns a reader at offset off: the first record kept if
// off is before it, the next to be written if off is past the tail.
func (l *Log) NewReaderAt(off uint64) *Reader {
	r := &Reader{l: l, start: off}
	l.mu.Lock()
	defer l.mu.Unlock()
	segs := l.mu.segs
	i := sort.Search(len(segs), func(i int) bool { return segs[i].first > off })
	if i > 0 {
		i--
	}
	s := segs[i]
	if off >= s.next && i == len(segs)-1 {
		r.seg, r.pos = s.first, s.size
		return r
	}
	r.seg = s.first
	if len(s.index) > 0 {
		r.pos = s.index[s.chunkFor(off)].pos
	}
	return r
}

// NewReaderAtTime returns a reader at the first chunk committed at or
// after ms (Unix ms); past the newest, at the next record.
func (l *Log) NewReaderAtTime(ms int64) *Reader {
	r := &Reader{l: l}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.mu.segs {
		if s.lastTimestamp() < ms {
			continue
		}
		j := sort.Search(len(s.index), func(j int) bool { return s.index[j].timestamp >= ms })
		e := s.index[j]
		r.seg, r.pos, r.start = s.first, e.pos, e.first
		return r
	}
	r.seekNextLocked()
	return r
}

// Read returns the next committed chunk, its records before the
// reader's start offset removed, or ok false when the reader is at the
// tail (wait on Log.Changed, then Read again).
func (r *Reader) Read() (c Chunk, ok bool, err error) {
	for {
		path, end, next, found := r.locate()
		if !found {
			return Chunk{}, false, nil
		}
		if path == "" {
			continue // moved to another segment
		}
		_ = next
		f, err := r.open(path)
		if err != nil {
			return Chunk{}, false, err
		}
		if f == nil {
			continue // removed by retention: locate moves on
		}
		var hb [headerSize]byte
		if _, err := f.ReadAt(hb[:], r.pos); err != nil {
			return Chunk{}, false, fmt.Errorf("streamlog: reading %s at %d: %w", path, r.pos, err)
		}
		h, err := decodeHeader(hb[:])
		if err != nil || r.pos+headerSize+int64(h.size) > end {
			return Chunk{}, false, fmt.Errorf("streamlog: %s at %d: %w", path, r.pos, errCorrupt)
		}
		if r.Match != nil && h.first+uint64(h.count) > r.start {
			fb := make([]byte, h.fsize)
			if _, err := f.ReadAt(fb, r.pos+headerSize); err != nil {
				return Chunk{}, false, fmt.Errorf("streamlog: %w", err)
			}
			f, err := decodeFilter(fb)
			if err == nil && !r.Match(f) {
				r.pos += headerSize + int64(h.size) // skipped unread
				r.start = h.first + uint64(h.count)
				continue
			}
		}
		// A fresh buffer per chunk: the records handed out point into it
		// and may outlive the next Read (a delivery written from where it
		// lies, an unacknowledged entry).
		body := make([]byte, h.size)
		if _, err := f.ReadAt(body, r.pos+headerSize); err != nil {
			return Chunk{}, false, fmt.Errorf("streamlog: %w", err)
		}
		c, err := decodeBody(h, body)
		if err != nil {
			return Chunk{}, false, fmt.Errorf("streamlog: %s at %d: %w", path, r.pos, err)
		}
		r.pos += headerSize + int64(h.size)
		if c.First < r.start {
			skip := min(r.start-c.First, uint64(len(c.Records)))
			c.Records = c.Records[skip:]
			c.First += skip
		}
		if len(c.Records) == 0 {
			continue
		}
		r.start = c.First + uint64(len(c.Records))
		return c, true, nil
	}
}

// locate finds the reader's segment under Log.mu: its path and committed
// size. found is false at the tail; an empty path means the reader moved
// to another segment (its own was finished or removed).
func (r *Reader) locate() (path string, end int64, next uint64, found bool) {
	l := r.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.deleted {
		return "", 0, 0, false
	}
	if l.mu.deleted {
		return "", 0, 0, false
	}
	segs := l.mu.segs
	i := sort.Search(len(segs), func(i int) bool { return segs[i].first >= r.seg })
	if i == len(segs) || segs[i].first != r.seg {
		// Removed by retention (or never there): the first segment kept
		// after it.
		if i == len(segs) {
			i = len(segs) - 1
		}
		r.seg, r.pos = segs[i].first, 0
		return "", 0, 0, true
	}
	s := segs[i]
	if r.pos < s.size {
		return s.path, s.size, s.next, true
	}
	if i == len(segs)-1 {
		return "", 0, 0, false
	}
	r.seg, r.pos = segs[i+1].first, 0
	return "", 0, 0, true
}

// open returns the file of the reader's segment at path, opening it
// when the reader moved to another segment (nil: removed by retention).
func (r *Reader) open(path string) (*os.File, error) {
	if r.f != nil && r.fseg == r.seg {
		return r.f.f, nil
	}
	if r.f != nil {
		r.f.release() // closed once the regions handed out let go too
		r.f = nil
	}
	sf, err := openSegFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("streamlog: %w", err)
	}
	r.f, r.fseg = sf, r.seg
	return sf.f, nil
}

// Close releases the reader's file (closed once the regions it handed
// out are released too).
func (r *Reader) Close() {
	if r.f != nil {
		r.f.release()
		r.f = nil
	}
}

// RawChunk is a chunk as stored: Buf holds the caller's prefix bytes
// (left zero), then the chunk's header and its records, without the
// filter: what a stream protocol Deliver frame carries after its own
// header, sent as read, its records never decoded.
//
// From ReadSendable, a large chunk's records stay in the file: Buf ends
// with the header and Records is the records' range of the segment file,
// to send after Buf (sendfile) and then Release.
type RawChunk struct {
	First     uint64 // offset of the chunk's first record
	Count     uint32 // its records
	Timestamp int64  // Unix ms of the commit
	Buf       []byte
	Records   Region // Len 0: the records are in Buf
}

// Len is the chunk's bytes from its header on: what follows the
// caller's prefix.
func (c *RawChunk) Len(prefix int) int64 { return int64(len(c.Buf)-prefix) + c.Records.Len }

// ReadRaw is Read for a chunk as stored (see RawChunk), with prefix free
// bytes before it. It returns the whole chunk holding the reader's start
// offset (the client skips the records before it, as RabbitMQ's do);
// chunks wholly before the start and chunks Match refuses are skipped.
func (r *Reader) ReadRaw(prefix int) (c RawChunk, ok bool, err error) {
	return r.ReadRawInto(nil, prefix)
}

// ReadRawInto is ReadRaw reusing spare's memory when it is large enough
// (a buffer the caller is done with).
func (r *Reader) ReadRawInto(spare []byte, prefix int) (c RawChunk, ok bool, err error) {
	return r.readRaw(spare, prefix, -1)
}

// ReadSendable is ReadRawInto that leaves the records of a chunk of at
// least minFile records' bytes in the file (see RawChunk: Buf then holds
// the prefix and the header, Records the records' range, to Release once
// sent); smaller chunks are read whole into Buf. The records of a chunk
// are contiguous in the file (the filter is before them, the trailer
// after).
func (r *Reader) ReadSendable(spare []byte, prefix, minFile int) (c RawChunk, ok bool, err error) {
	return r.readRaw(spare, prefix, max(minFile, 0))
}

// readRaw is ReadRawInto and, with minFile >= 0, ReadSendable.
func (r *Reader) readRaw(spare []byte, prefix, minFile int) (c RawChunk, ok bool, err error) {
	for {
		path, end, _, found := r.locate()
		if !found {
			return RawChunk{}, false, nil
		}
		if path == "" {
			continue
		}
		f, err := r.open(path)
		if err != nil {
			return RawChunk{}, false, err
		}
		if f == nil {
			continue
		}
		var hb [headerSize]byte
		if _, err := r.f.readAt(hb[:], r.pos); err != nil { // cached.go
			return RawChunk{}, false, fmt.Errorf("streamlog: reading %s at %d: %w", path, r.pos, err)
		}
		h, err := decodeHeader(hb[:])
		if err != nil || r.pos+headerSize+int64(h.size) > end {
			return RawChunk{}, false, fmt.Errorf("streamlog: %s at %d: %w", path, r.pos, errCorrupt)
		}
		at := r.pos
		r.pos += headerSize + int64(h.size)
		if h.first+uint64(h.count) <= r.start {
			continue
		}
		if r.Match != nil && h.fsize > 0 {
			fb := make([]byte, h.fsize)
			if _, err := f.ReadAt(fb, at+headerSize); err != nil {
				return RawChunk{}, false, fmt.Errorf("streamlog: %w", err)
			}
			if f, err := decodeFilter(fb); err == nil && !r.Match(f) {
				r.start = h.first + uint64(h.count)
				continue
			}
		} else if r.Match != nil && !r.Match(Filter{Unfiltered: true}) {
			r.start = h.first + uint64(h.count)
			continue
		}
		dsize := int(h.dsize())
		inFile := minFile >= 0 && dsize >= minFile
		need := prefix + headerSize
		if !inFile {
			need += dsize
		}
		var buf []byte
		if cap(spare) >= need {
			buf = spare[:need]
		} else {
			buf = make([]byte, need)
		}
		copy(buf[prefix:], hb[:])
		buf[prefix+44] = 0                // the filter is not there
		clear(buf[prefix+40 : prefix+44]) // nor the trailer: clients read header and records only
		recs := at + headerSize + int64(h.fsize)
		c = RawChunk{First: h.first, Count: h.count, Timestamp: h.timestamp, Buf: buf}
		if inFile {
			r.f.refs.Add(1) // the region's, released once sent
			c.Records = Region{sf: r.f, Off: recs, Len: int64(dsize)}
		} else if _, err := f.ReadAt(buf[prefix+headerSize:], recs); err != nil {
			return RawChunk{}, false, fmt.Errorf("streamlog: %w", err)
		}
		r.start = h.first + uint64(h.count)
		return c, true, nil
	}
}

// RecordsOf splits the records of a RawChunk's buffer (from its header
// on, at prefix) for a reader that decodes them.
func RecordsOf(buf []byte) ([][]byte, error) {
	if len(buf) < headerSize {
		return nil, errCorrupt
	}
	h, err := decodeHeader(buf)
	if err != nil {
		return nil, err
	}
	c, err := decodeBody(header{first: h.first, count: h.count, size: h.dsize(), crc: h.crc}, buf[headerSize:])
	return c.Records, err
}
