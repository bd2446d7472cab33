package stream

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/storage/streamlog"
)

// Options configure a Stream.
type Options struct {
	Dir       string // the stream's own directory (Dir/streams/<queue id>)
	Retention Retention
	Now       func() time.Time // nil: time.Now
	// Offsets keeps the tracked offsets (the broker's store); nil: the
	// file Dir/offsets.
	Offsets OffsetStore
}

// Stream is one stream queue's log. It implements queue.Stream.
type Stream struct {
	log  *streamlog.Log
	dir  string
	now  func() time.Time
	stop chan struct{} // closed by Delete and Close: readers return

	// published and delivered count messages appended (both protocols)
	// and handed to readers (an AMQP 0-9-1 reader's deliveries, a stream
	// protocol reader's chunk records): the queue's message_stats publish
	// and deliver (StreamCounts). Atomics: appends and readers hold no lock.
	published, delivered atomic.Uint64

	offsets   OffsetStore   // nil: the file Dir/offsets
	trackKick chan struct{} // wakes the tracker goroutine (tracking.go)
	trackDone chan struct{} // closed when it has returned

	mu struct {
		sync.Mutex
		wake         chan struct{} // closed by Wake
		stopped      bool
		offsets      map[string]uint64 // tracked offsets by consumer tag
		offsetsDirty bool
		active       map[string]*activeSet // single active consumer by tag (active.go)
		claims       uint64                // the last claim id
	}
}

var _ queue.Stream = (*Stream)(nil)

// Open opens (or creates) a stream's log, repairing a torn tail.
func Open(o Options) (*Stream, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	l, err := streamlog.Open(streamlog.Options{
		Dir:             o.Dir,
		MaxSegmentBytes: o.Retention.MaxSegmentBytes,
		MaxBytes:        o.Retention.MaxBytes,
		MaxAge:          o.Retention.MaxAge,
		Now:             o.Now,
	})
	if err != nil {
		return nil, err
	}
	s := &Stream{log: l, dir: o.Dir, now: o.Now, offsets: o.Offsets, stop: make(chan struct{}), trackKick: make(chan struct{}, 1), trackDone: make(chan struct{})}
	s.mu.wake = make(chan struct{})
	s.mu.offsets = s.loadOffsets()
	go s.tracker()
	return s, nil
}

// Append implements queue.Stream: done runs after the fsync.
func (s *Stream) Append(m *queue.Message, done func(error)) {
	var cb func(uint64, error)
	if done != nil {
		cb = func(_ uint64, err error) { done(err) }
	}
	f := filterValue(m.Props)
	s.log.AppendFilter(encodeRecord(m, f), f, cb)
	s.published.Add(1)
}

// StreamCounts implements queue.StreamCounter: messages appended and
// delivered since the stream was opened.
func (s *Stream) StreamCounts() (published, delivered uint64) {
	return s.published.Load(), s.delivered.Load()
}

// Wake implements queue.Stream.
func (s *Stream) Wake() {
	s.mu.Lock()
	close(s.mu.wake)
	s.mu.wake = make(chan struct{})
	s.mu.Unlock()
}

func (s *Stream) wakeChan() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.wake
}

func (s *Stream) halt() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.stopped {
		return false
	}
	s.mu.stopped = true
	close(s.stop)
	return true
}

// Delete implements queue.Stream: the readers stop and the files go.
func (s *Stream) Delete() {
	s.halt()
	<-s.trackDone
	if s.offsets != nil {
		s.offsets.Drop()
	}
	s.log.Delete()
}

// Close implements queue.Stream: the readers stop; the files stay.
func (s *Stream) Close() {
	s.halt()
	<-s.trackDone
	s.log.Close()
}

// SetRetention changes the stream's retention live (a policy changed).
func (s *Stream) SetRetention(r Retention) {
	s.log.SetRetention(streamlog.Retention{MaxBytes: r.MaxBytes, MaxAge: r.MaxAge, MaxSegmentBytes: r.MaxSegmentBytes})
}

// Info is a stream's figures: offsets, bytes, segments, timestamps.
type Info = streamlog.Info

// Info returns the log's figures now.
func (s *Stream) Info() Info { return s.log.Info() }
