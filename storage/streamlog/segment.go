package streamlog

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// indexEntry is the sparse index: one per chunk.
type indexEntry struct {
	first     uint64
	timestamp int64
	pos       int64
}

// segment is one segment file as the index knows it. Its fields are
// guarded by Log.mu.
type segment struct {
	first uint64 // offset of its first record (its name)
	path  string
	size  int64        // committed bytes
	next  uint64       // offset after its last record
	index []indexEntry // one per chunk, in order
}

func segmentName(first uint64) string { return fmt.Sprintf("%020d.seg", first) }

// lastTimestamp is the timestamp of the segment's newest chunk (0: empty).
func (s *segment) lastTimestamp() int64 {
	if len(s.index) == 0 {
		return 0
	}
	return s.index[len(s.index)-1].timestamp
}

// chunkFor is the index of the chunk holding offset off (the last chunk
// whose first offset is <= off).
func (s *segment) chunkFor(off uint64) int {
	i := sort.Search(len(s.index), func(i int) bool { return s.index[i].first > off })
	if i > 0 {
		i--
	}
	return i
}

// listSegments returns the segment files in dir, oldest first.
func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var firsts []uint64
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".seg") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(name, ".seg"), 10, 64)
		if err != nil {
			continue // not ours
		}
		firsts = append(firsts, n)
	}
	sort.Slice(firsts, func(i, j int) bool { return firsts[i] < firsts[j] })
	return firsts, nil
}

// scanSegment reads the chunk headers of a segment file (and, with
// verify, every chunk's body and CRC) and builds its index. It stops at
// the first chunk that fails its checks and reports the valid length;
// torn reports that bytes follow it.
//
// With trailers set, it hands over each chunk's writers' sequences (the
// chunk's trailer, read alone unless verify reads the whole body) with
// the chunk's number in the segment.
func scanSegment(dir string, first uint64, verify bool, trailers func(ws []WriterSeq, snapshot bool, chunk int)) (seg *segment, torn bool, err error) {
	seg = &segment{first: first, next: first, path: filepath.Join(dir, segmentName(first))}
	f, err := os.Open(seg.path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	end := st.Size()
	var hb [headerSize]byte
	var body []byte
	pos := int64(0)
	for pos < end {
		if _, err := f.ReadAt(hb[:], pos); err != nil {
			if err == io.EOF {
				break
			}
			return nil, false, err
		}
		h, err := decodeHeader(hb[:])
		if err != nil || h.first != seg.next || pos+headerSize+int64(h.size) > end {
			break
		}
		if verify {
			if cap(body) < int(h.size) {
				body = make([]byte, h.size)
			}
			body = body[:h.size]
			if _, err := f.ReadAt(body, pos+headerSize); err != nil {
				break
			}
			if _, err := decodeBody(h, body); err != nil {
				break
			}
			if _, _, err := decodeTrailer(body[h.size-h.tsize:]); err != nil {
				break
			}
		}
		if trailers != nil && h.tsize > 0 {
			tb := make([]byte, h.tsize)
			if _, err := f.ReadAt(tb, pos+headerSize+int64(h.size-h.tsize)); err != nil {
				break
			}
			ws, snap, err := decodeTrailer(tb)
			if err != nil {
				break
			}
			trailers(ws, snap, len(seg.index))
		}
		seg.index = append(seg.index, indexEntry{first: h.first, timestamp: h.timestamp, pos: pos})
		seg.next = h.first + uint64(h.count)
		pos += headerSize + int64(h.size)
	}
	seg.size = pos
	return seg, pos < end, nil
}

// oldMagic starts the chunks of Warren's first log format ("WTC2"), before
// the osiris layout.
var oldMagic = []byte("WTC2")

// setAsideOldFormat renames the segments written in the first format to
// <name>.v1, kept for a conversion by hand, so that the log starts without
// them rather than truncating them as torn; it returns the others.
func setAsideOldFormat(dir string, firsts []uint64) []uint64 {
	kept := firsts[:0]
	for _, first := range firsts {
		path := filepath.Join(dir, segmentName(first))
		var head [4]byte
		f, err := os.Open(path)
		if err == nil {
			_, err = io.ReadFull(f, head[:])
			f.Close()
		}
		if err == nil && string(head[:]) == string(oldMagic) && os.Rename(path, path+".v1") == nil {
			continue
		}
		kept = append(kept, first)
	}
	return kept
}
