package streamlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ErrClosed is the error of an append the log did not take before Close.
var ErrClosed = errors.New("streamlog: log closed")

// Options configure a Log.
type Options struct {
	Dir string // the log's own directory, created if missing
	// MaxSegmentBytes is the size at which a new segment starts
	// (x-stream-max-segment-size-bytes); 0: 500 MB, RabbitMQ's default.
	MaxSegmentBytes int64
	MaxBytes        int64         // x-max-length-bytes; 0: no limit
	MaxAge          time.Duration // x-max-age; 0: no limit
	// MaxChunkRecords bounds one chunk; 0: 4096.
	MaxChunkRecords int
	Now             func() time.Time // the clock; nil: time.Now
}

// Append is one record handed to the writer.
type pendingAppend struct {
	rec    []byte
	filter string
	done   func(offset uint64, err error)
	writer string // with seq: a batch of writer's ends here (AppendBatchSeq)
	seq    uint64
}

// Log is one stream's segmented log. See the package doc.
type Log struct {
	opts Options
	now  func() time.Time

	wmu struct { // the append queue
		sync.Mutex
		pending []pendingAppend
		bytes   int64
		closed  bool
	}
	wake  chan struct{} // signals the writer (capacity 1)
	room  *sync.Cond    // on wmu: a full queue has room again
	done  chan struct{} // closed when the writer has returned
	af    *os.File      // the active segment, the writer's alone
	afNew bool          // the directory must be synced for af

	mu struct {
		sync.Mutex
		segs    []*segment
		deleted bool // Delete ran: its segments are gone
		changed chan struct{}
		ret     Retention // SetRetention changes it live
		// writers are the writers' last sequences on disk (the chunk
		// trailers'; WriterSeq).
		writers map[string]uint64
	}
}

// Retention is what a log keeps: whole segments go past MaxBytes or
// MaxAge (0: no limit); a new segment starts at MaxSegmentBytes.
type Retention struct {
	MaxBytes        int64
	MaxAge          time.Duration
	MaxSegmentBytes int64
}

// SetRetention changes the retention (a policy changed) and applies it.
// A MaxSegmentBytes of 0 keeps the current one.
func (l *Log) SetRetention(r Retention) {
	l.mu.Lock()
	if r.MaxSegmentBytes <= 0 {
		r.MaxSegmentBytes = l.mu.ret.MaxSegmentBytes
	}
	l.mu.ret = r
	l.mu.Unlock()
	l.retain()
}

const maxPendingBytes = 64 << 20

// Open opens (or creates) the log in opts.Dir, repairing a torn tail.
func Open(opts Options) (*Log, error) {
	if opts.MaxSegmentBytes <= 0 {
		opts.MaxSegmentBytes = 500_000_000
	}
	if opts.MaxChunkRecords <= 0 {
		opts.MaxChunkRecords = 4096
	}
	l := &Log{opts: opts, now: opts.Now, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if l.now == nil {
		l.now = time.Now
	}
	l.room = sync.NewCond(&l.wmu.Mutex)
	l.mu.changed = make(chan struct{})
	l.mu.ret = Retention{MaxBytes: opts.MaxBytes, MaxAge: opts.MaxAge, MaxSegmentBytes: opts.MaxSegmentBytes}
	l.mu.writers = map[string]uint64{}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("streamlog: %w", err)
	}
	firsts, err := listSegments(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("streamlog: %w", err)
	}
	firsts = setAsideOldFormat(opts.Dir, firsts)
	for i, first := range firsts {
		last := i == len(firsts)-1
		seg, torn, err := scanSegment(opts.Dir, first, last, nil)
		if err != nil {
			return nil, fmt.Errorf("streamlog: %w", err)
		}
		if torn {
			// A torn tail (a crash mid-write): cut it off.
			if err := os.Truncate(seg.path, seg.size); err != nil {
				return nil, fmt.Errorf("streamlog: repairing %s: %w", seg.path, err)
			}
		}
		l.mu.segs = append(l.mu.segs, seg)
	}
	if len(l.mu.segs) == 0 {
		if err := l.newSegment(0); err != nil {
			return nil, err
		}
	} else {
		act := l.mu.segs[len(l.mu.segs)-1]
		f, err := os.OpenFile(act.path, os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("streamlog: %w", err)
		}
		l.af = f
	}
	if err := l.recoverWriters(); err != nil {
		return nil, err
	}
	l.retain()
	go l.writer()
	return l, nil
}

// recoverWriters reads the writers' sequences from the chunk trailers,
// newest segment first, down to the first segment that starts with a
// snapshot (segments of logs written before trailers have none: all are
// read).
func (l *Log) recoverWriters() error {
	for i := len(l.mu.segs) - 1; i >= 0; i-- {
		seg := l.mu.segs[i]
		var snap bool
		_, _, err := scanSegment(l.opts.Dir, seg.first, false, func(ws []WriterSeq, snapshot bool, chunk int) {
			for _, w := range ws {
				if w.Seq > l.mu.writers[w.Writer] {
					l.mu.writers[w.Writer] = w.Seq
				}
			}
			snap = snap || snapshot && chunk == 0
		})
		if err != nil {
			return fmt.Errorf("streamlog: %w", err)
		}
		if snap {
			return nil
		}
	}
	return nil
}

// WriterSeq is writer's last sequence on disk (0: none): the highest
// AppendBatchSeq gave for it whose records are all written.
func (l *Log) WriterSeq(writer string) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.writers[writer]
}

// newSegment creates the segment starting at first and makes it active.
// It runs at Open and on the writer goroutine.
func (l *Log) newSegment(first uint64) error {
	path := filepath.Join(l.opts.Dir, segmentName(first))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("streamlog: %w", err)
	}
	if l.af != nil {
		l.af.Close()
	}
	l.af, l.afNew = f, true
	l.mu.Lock()
	l.mu.segs = append(l.mu.segs, &segment{first: first, next: first, path: path})
	l.mu.Unlock()
	return nil
}

// Append queues rec; done runs (on the writer goroutine) once rec is on
// disk, with its offset, or with an error. Append blocks while more than
// 64 MiB wait to be written.
func (l *Log) Append(rec []byte, done func(offset uint64, err error)) {
	l.AppendFilter(rec, "", done)
}

// AppendFilter is Append for a record with a filter value ("": none),
// which its chunk's filter lists (see Filter).
func (l *Log) AppendFilter(rec []byte, filter string, done func(offset uint64, err error)) {
	l.wmu.Lock()
	for l.wmu.bytes > maxPendingBytes && !l.wmu.closed {
		l.room.Wait()
	}
	if l.wmu.closed {
		l.wmu.Unlock()
		if done != nil {
			done(0, ErrClosed)
		}
		return
	}
	l.wmu.pending = append(l.wmu.pending, pendingAppend{rec: rec, filter: filter, done: done})
	l.wmu.bytes += int64(len(rec))
	l.wmu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// AppendBatch queues recs in order under one lock acquisition; filters[i]
// is recs[i]'s filter value (nil: none). done runs for each record, as
// Append's. It blocks while more than 64 MiB wait to be written.
func (l *Log) AppendBatch(recs [][]byte, filters []string, done func(offset uint64, err error)) {
	l.AppendBatchSeq(recs, filters, "", 0, done)
}

// AppendBatchSeq is AppendBatch for writer's records up to sequence seq
// (a deduplicating publisher's publishing id): the chunk that ends the
// batch carries seq in its trailer, written with the records in one
// write, and WriterSeq(writer) reports it once they are on disk, also
// after a crash and Open. writer "": none.
func (l *Log) AppendBatchSeq(recs [][]byte, filters []string, writer string, seq uint64, done func(offset uint64, err error)) {
	n := 0
	for _, r := range recs {
		n += len(r)
	}
	l.wmu.Lock()
	for l.wmu.bytes > maxPendingBytes && !l.wmu.closed {
		l.room.Wait()
	}
	if l.wmu.closed {
		l.wmu.Unlock()
		if done != nil {
			for range recs {
				done(0, ErrClosed)
			}
		}
		return
	}
	for i, r := range recs {
		f := ""
		if filters != nil {
			f = filters[i]
		}
		l.wmu.pending = append(l.wmu.pending, pendingAppend{rec: r, filter: f, done: done})
	}
	if writer != "" && len(recs) > 0 {
		last := &l.wmu.pending[len(l.wmu.pending)-1]
		last.writer, last.seq = writer, seq
	}
	l.wmu.bytes += int64(n)
	l.wmu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// writer is the log's one writer goroutine: group commit.
func (l *Log) writer() {
	defer close(l.done)
	var batch []pendingAppend
	var buf []byte
	var recs [][]byte
	var filters []string
	var writers []WriterSeq
	for {
		l.wmu.Lock()
		for len(l.wmu.pending) == 0 && !l.wmu.closed {
			l.wmu.Unlock()
			<-l.wake
			l.wmu.Lock()
		}
		if len(l.wmu.pending) == 0 && l.wmu.closed {
			l.wmu.Unlock()
			if l.af != nil {
				l.af.Close()
			}
			return
		}
		n := min(len(l.wmu.pending), l.opts.MaxChunkRecords)
		batch = append(batch[:0], l.wmu.pending[:n]...)
		rest := copy(l.wmu.pending, l.wmu.pending[n:])
		clear(l.wmu.pending[rest:])
		l.wmu.pending = l.wmu.pending[:rest]
		for _, p := range batch {
			l.wmu.bytes -= int64(len(p.rec))
		}
		l.room.Broadcast()
		l.wmu.Unlock()

		recs, filters, writers = recs[:0], filters[:0], writers[:0]
		filtered := false
		for _, p := range batch {
			recs = append(recs, p.rec)
			filters = append(filters, p.filter)
			filtered = filtered || p.filter != ""
			if p.writer != "" {
				writers = addWriter(writers, p.writer, p.seq)
			}
		}
		fs := filters
		if !filtered {
			fs = nil
		}
		first, err := l.writeChunk(&buf, recs, fs, writers)
		for i, p := range batch {
			if p.done != nil {
				p.done(first+uint64(i), err)
			}
		}
		clear(batch)
	}
}

// addWriter sets writer's sequence in ws to seq if higher.
func addWriter(ws []WriterSeq, writer string, seq uint64) []WriterSeq {
	for i := range ws {
		if ws[i].Writer == writer {
			ws[i].Seq = max(ws[i].Seq, seq)
			return ws
		}
	}
	return append(ws, WriterSeq{writer, seq})
}

// writeChunk writes recs as one chunk with the writers' sequences in its
// trailer (every known writer's when the chunk starts a segment), syncs
// it, and publishes it.
func (l *Log) writeChunk(buf *[]byte, recs [][]byte, filters []string, writers []WriterSeq) (uint64, error) {
	l.mu.Lock()
	act := l.mu.segs[len(l.mu.segs)-1]
	first, size := act.next, act.size
	maxSeg := l.mu.ret.MaxSegmentBytes
	l.mu.Unlock()
	if size >= maxSeg {
		if err := l.newSegment(first); err != nil {
			return 0, err
		}
		l.mu.Lock()
		act = l.mu.segs[len(l.mu.segs)-1]
		l.mu.Unlock()
		size = 0
	}
	ts := l.now().UnixMilli()
	snapshot := size == 0
	if snapshot {
		l.mu.Lock()
		for w, seq := range l.mu.writers {
			writers = addWriter(writers, w, seq)
		}
		l.mu.Unlock()
	}
	*buf = encodeChunk((*buf)[:0], first, ts, recs, filters, writers, snapshot)
	if _, err := l.af.Write(*buf); err != nil {
		// Cut a partial write off so the file stays a sequence of chunks.
		l.af.Truncate(size)
		return 0, fmt.Errorf("streamlog: %w", err)
	}
	if err := l.af.Sync(); err != nil {
		return 0, fmt.Errorf("streamlog: %w", err)
	}
	if l.afNew {
		if d, err := os.Open(l.opts.Dir); err == nil {
			d.Sync()
			d.Close()
		}
		l.afNew = false
	}
	l.mu.Lock()
	act.index = append(act.index, indexEntry{first: first, timestamp: ts, pos: size})
	act.size = size + int64(len(*buf))
	act.next = first + uint64(len(recs))
	for _, w := range writers {
		if w.Seq > l.mu.writers[w.Writer] {
			l.mu.writers[w.Writer] = w.Seq
		}
	}
	close(l.mu.changed)
	l.mu.changed = make(chan struct{})
	l.mu.Unlock()
	l.retain()
	return first, nil
}

// retain removes whole segments past the retention limits, oldest first,
// never the active one.
func (l *Log) retain() {
	now := l.now()
	var gone []string
	l.mu.Lock()
	ret := l.mu.ret
	if ret.MaxBytes <= 0 && ret.MaxAge <= 0 {
		l.mu.Unlock()
		return
	}
	cutoff := now.Add(-ret.MaxAge).UnixMilli()
	total := int64(0)
	for _, s := range l.mu.segs {
		total += s.size
	}
	for len(l.mu.segs) > 1 {
		s := l.mu.segs[0]
		over := ret.MaxBytes > 0 && total > ret.MaxBytes
		old := ret.MaxAge > 0 && s.lastTimestamp() < cutoff
		if !over && !old {
			break
		}
		total -= s.size
		gone = append(gone, s.path)
		l.mu.segs[0] = nil
		l.mu.segs = l.mu.segs[1:]
	}
	l.mu.Unlock()
	for _, p := range gone {
		os.Remove(p)
	}
}

// Changed returns a channel closed at the next commit.
func (l *Log) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.changed
}

// Info is a log's figures.
type Info struct {
	First, Next    uint64 // first offset kept, offset of the next record
	Bytes          int64
	Segments       int
	FirstTimestamp int64 // Unix ms of the oldest chunk; 0: empty
	LastTimestamp  int64
	LastChunk      uint64 // first offset of the newest chunk (0 when empty)
}

// Info returns the log's figures now.
func (l *Log) Info() Info {
	l.mu.Lock()
	defer l.mu.Unlock()
	var in Info
	in.Segments = len(l.mu.segs)
	for _, s := range l.mu.segs {
		in.Bytes += s.size
		if in.FirstTimestamp == 0 && len(s.index) > 0 {
			in.FirstTimestamp = s.index[0].timestamp
			in.First = s.index[0].first
		}
		if ts := s.lastTimestamp(); ts != 0 {
			in.LastTimestamp = ts
			in.LastChunk = s.index[len(s.index)-1].first
		}
	}
	in.Next = l.mu.segs[len(l.mu.segs)-1].next
	if in.FirstTimestamp == 0 {
		in.First = in.Next
	}
	return in
}

// Close stops the writer once the queued appends are written.
func (l *Log) Close() {
	l.wmu.Lock()
	if l.wmu.closed {
		l.wmu.Unlock()
		<-l.done
		return
	}
	l.wmu.closed = true
	l.room.Broadcast()
	l.wmu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	<-l.done
}

// Delete closes the log and removes its directory. Readers see a log
// with no segments from then on (at the tail; they do not look for the
// removed files).
func (l *Log) Delete() error {
	l.Close()
	l.mu.Lock()
	l.mu.deleted = true
	l.mu.Unlock()
	return os.RemoveAll(l.opts.Dir)
}
