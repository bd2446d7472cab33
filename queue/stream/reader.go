package stream

import (
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/storage/streamlog"
)

// Deliver hands one message at offset to a consumer. It returns false,
// taking nothing, when the consumer cannot take it now (no credit, output
// full); the reader offers it again after Wake or the next commit.
type Deliver func(e queue.Entry, offset uint64) bool

// Reader is one consumer's reader goroutine.
type Reader struct {
	s      *Stream
	r      *streamlog.Reader
	d      Deliver
	filter *Filter
	quit   chan struct{}
	done   chan struct{}
}

// Read starts a reader at start, delivering through d until Stop.
func (s *Stream) Read(start Start, d Deliver) *Reader {
	lr := s.logReader(start)
	r := &Reader{s: s, r: lr, d: d, filter: start.Filter, quit: make(chan struct{}), done: make(chan struct{})}
	if start.Filter != nil {
		lr.Match = start.Filter.matchChunk
	}
	go r.run()
	return r
}

// Stop stops the reader and waits for its goroutine.
func (r *Reader) Stop() {
	select {
	case <-r.quit:
	default:
		close(r.quit)
	}
	<-r.done
}

func (r *Reader) run() {
	defer close(r.done)
	defer r.r.Close()
	s := r.s
	for {
		changed := s.log.Changed()
		c, ok, err := r.r.Read()
		if err != nil || !ok {
			// At the tail (or a read error: wait for the next commit and
			// try again; the log repairs nothing under a live reader).
			select {
			case <-changed:
				continue
			case <-r.quit:
				return
			case <-s.stop:
				return
			}
		}
		for i := 0; i < len(c.Records); {
			m, fv, err := decodeRecord(c.Records[i])
			if err != nil || r.filter != nil && !r.filter.match(fv) {
				i++
				continue
			}
			off := c.First + uint64(i)
			// Seq carries the offset, for the front end's header.
			e := queue.Entry{Msg: m, Seq: off}
			if r.d(e, off) {
				s.delivered.Add(1)
				i++
				continue
			}
			// Refused: take the wake channel, then offer once more, so a
			// Wake between the refusal and the wait is not lost.
			wake := s.wakeChan()
			if r.d(e, off) {
				s.delivered.Add(1)
				i++
				continue
			}
			select {
			case <-wake:
			case <-r.quit:
				return
			case <-s.stop:
				return
			}
		}
	}
}

// logReader opens a log reader where start says: first, last, an offset,
// a time, or next.
func (s *Stream) logReader(start Start) *streamlog.Reader {
	switch start.Kind {
	case StartFirst:
		return s.log.NewReader(streamlog.SeekFirst)
	case StartLast:
		return s.log.NewReader(streamlog.SeekLast)
	case StartOffset:
		return s.log.NewReaderAt(start.Offset)
	case StartTime:
		return s.log.NewReaderAtTime(start.Time.UnixMilli())
	default:
		return s.log.NewReader(streamlog.SeekNext)
	}
}
