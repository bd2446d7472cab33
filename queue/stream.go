package queue

// Stream is a queue type that keeps a log rather than a queue
// (x-queue-type stream; queue/stream implements it). The broker's Queue
// stands for it in the registry (name, flags, arguments, bindings,
// consumers for listings and exclusivity) and the core routes to it like
// to any queue; publishes are appended to the log instead of enqueued,
// and the Queue's own ready list stays empty. A front end attaches its
// stream consumers both to the Queue (AddConsumer, for counting and
// cancellation) and to the Stream's readers; acks and returns only give
// credit back: they Wake the readers and settle nothing.
type Stream interface {
	// Append appends m; done runs once it is on disk (or failed).
	Append(m *Message, done func(error))
	// Wake tells the stream's readers that credit may be back.
	Wake()
	// Delete removes the log; its readers stop.
	Delete()
	// Close stops the log's writer (shutdown), keeping its files.
	Close()
}

// StreamCounter is a Stream that counts its own traffic: messages
// appended and delivered, which never pass through the queue's
// structures. Counters adds them to Published and Delivered.
type StreamCounter interface {
	StreamCounts() (published, delivered uint64)
}

// wakeStream handles Dispatch, Ack, Requeue and Reject for a stream:
// credit is back; nothing is settled.
func (q *Queue) wakeStream() bool {
	if q.Stream == nil {
		return false
	}
	q.Stream.Wake()
	return true
}
