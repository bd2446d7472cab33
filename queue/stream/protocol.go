package stream

import (
	"github.com/warrenmq/warren/storage/streamlog"
)

// What the stream protocol front end (amqp/streamserver) needs beyond the
// AMQP 0-9-1 side: raw records, chunks as stored, offsets stored by
// reference and publishers' sequences for deduplication. Both are kept
// with the tracked offsets (tracking.go), under keys of their own.

const (
	refKey = "\x00o:" // a stored offset (store offset / query offset)
	pubKey = "\x00p:" // a publisher's last publishing id
)

// AppendRaw appends an AMQP 1.0 message as it came (rec is kept, not
// copied), with its filter value ("": none); done runs after the fsync
// with the record's offset.
func (s *Stream) AppendRaw(rec []byte, filter string, done func(offset uint64, err error)) {
	s.log.AppendFilter(rec, filter, done)
	s.published.Add(1)
}

// AppendRawBatch appends AMQP 1.0 messages as they came, in order (recs
// are kept, not copied); filters[i] is recs[i]'s filter value (nil: none);
// done runs after the fsync for each record.
func (s *Stream) AppendRawBatch(recs [][]byte, filters []string, done func(offset uint64, err error)) {
	s.log.AppendBatch(recs, filters, done)
	s.published.Add(uint64(len(recs)))
}

// AppendRawBatchSeq is AppendRawBatch for deduplicating publisher ref's
// messages up to publishing id seq: the sequence goes in the trailer of
// the chunk that ends the batch, on disk with the records (PublisherSeq
// reads it back, after a crash too).
func (s *Stream) AppendRawBatchSeq(recs [][]byte, filters []string, ref string, seq uint64, done func(offset uint64, err error)) {
	s.log.AppendBatchSeq(recs, filters, ref, seq, done)
	s.published.Add(uint64(len(recs)))
}

// StoreOffset stores ref's offset (it may go back, as RabbitMQ's does).
func (s *Stream) StoreOffset(ref string, off uint64) { s.setKey(refKey+ref, off, false) }

// QueryOffset is ref's stored offset.
func (s *Stream) QueryOffset(ref string) (uint64, bool) { return s.Tracked(refKey + ref) }

// PublisherSeq is the last publishing id written for publisher ref (0:
// none): the log's (chunk trailers), or the tracked one a log written
// before trailers left.
func (s *Stream) PublisherSeq(ref string) uint64 {
	n, _ := s.Tracked(pubKey + ref)
	return max(n, s.log.WriterSeq(ref))
}

func (s *Stream) setKey(key string, n uint64, monotonic bool) {
	s.mu.Lock()
	if cur, ok := s.mu.offsets[key]; ok && (cur == n || monotonic && cur > n) {
		s.mu.Unlock()
		return
	}
	s.mu.offsets[key] = n
	s.mu.offsetsDirty = true
	s.mu.Unlock()
	select {
	case s.trackKick <- struct{}{}:
	default:
	}
}

// Stopped is closed when the stream is deleted or closed.
func (s *Stream) Stopped() <-chan struct{} { return s.stop }

// Changed is closed at the log's next commit.
func (s *Stream) Changed() <-chan struct{} { return s.log.Changed() }

// ChunkReader reads a stream's chunks as stored, for the stream protocol's
// Deliver. One goroutine uses it.
type ChunkReader struct {
	s *Stream
	r *streamlog.Reader
}

// Chunks opens a chunk reader at start (its Filter, if any, skips chunks
// that hold no wanted value).
func (s *Stream) Chunks(start Start) *ChunkReader {
	lr := s.logReader(start) // reader.go
	if start.Filter != nil {
		lr.Match = start.Filter.matchChunk
	}
	return &ChunkReader{s: s, r: lr}
}

// Next is the next chunk behind prefix free bytes, or ok false at the
// tail.
func (c *ChunkReader) Next(prefix int) (streamlog.RawChunk, bool, error) {
	return c.counted(c.r.ReadRaw(prefix))
}

// NextInto is Next reusing spare's memory when it is large enough.
func (c *ChunkReader) NextInto(spare []byte, prefix int) (streamlog.RawChunk, bool, error) {
	return c.counted(c.r.ReadRawInto(spare, prefix))
}

// NextSendable is NextInto leaving the records of a chunk of at least
// minFile bytes in the file, to send with sendfile (streamlog's
// ReadSendable: release the chunk's Records once sent).
func (c *ChunkReader) NextSendable(spare []byte, prefix, minFile int) (streamlog.RawChunk, bool, error) {
	return c.counted(c.r.ReadSendable(spare, prefix, minFile))
}

// counted counts a chunk read as its records delivered (the client may
// skip a few before its start offset, as RabbitMQ's clients do).
func (c *ChunkReader) counted(ch streamlog.RawChunk, ok bool, err error) (streamlog.RawChunk, bool, error) {
	if ok && err == nil {
		c.s.delivered.Add(uint64(ch.Count))
	}
	return ch, ok, err
}

// Close releases the reader's file.
func (c *ChunkReader) Close() { c.r.Close() }
