package broker

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/stream"
	"github.com/warrenmq/warren/storage"
)

// streamOffsetsKind is the store's record of a stream's tracked offsets
// (store offset, automatic offset tracking, publisher sequences): key the
// queue's store id, value the JSON object {"name": offset, ...}.
const streamOffsetsKind = "stream_offsets"

// storeOffsets is a stream's stream.OffsetStore in the broker's store.
type storeOffsets struct {
	store *storage.Store
	key   string
}

func (o storeOffsets) Load() (map[string]uint64, error) {
	m := map[string]uint64{}
	err := o.store.Definitions(streamOffsetsKind, func(key string, value []byte) error {
		if key == o.key {
			return json.Unmarshal(value, &m)
		}
		return nil
	})
	return m, err
}

func (o storeOffsets) Save(m map[string]uint64) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return o.store.PutDefinition(streamOffsetsKind, o.key, b)
}

func (o storeOffsets) Drop() error { return o.store.DeleteDefinition(streamOffsetsKind, o.key) }

// streamRegistry opens the logs of stream queues and closes them at
// Close. Its mutex is a leaf.
type streamRegistry struct {
	dir   string         // StreamDir; empty: no streams
	store *storage.Store // tracked offsets; nil: a file beside each log
	mu    sync.Mutex
	all   map[*stream.Stream]struct{}
}

// streamArgsRefused are the queue arguments a stream refuses (rabbitmq
// rabbit_stream_queue:capabilities, checked in this order).
var streamArgsRefused = []string{
	"x-expires", "x-message-ttl", "x-dead-letter-exchange", "x-dead-letter-routing-key",
	"x-max-length", "x-max-priority", "x-overflow", "x-queue-mode", "x-single-active-consumer",
	"x-delivery-limit",
}

// checkNewStream validates a stream declaration as RabbitMQ 3.10 does.
func (v *Vhost) checkNewStream(c DeclareQueue) error {
	name := c.Name
	// rabbitmq: streams are durable, shared and not auto-deleted, checked
	// in this order. (A server-named one is refused by the front end,
	// which names it.)
	switch {
	case c.AutoDelete:
		return amqp.Errorf(amqp.PreconditionFailed, "invalid property 'auto-delete' for queue '%s' in vhost '%s'", name, v.name)
	case c.Exclusive:
		return amqp.Errorf(amqp.PreconditionFailed, "invalid property 'exclusive-owner' for queue '%s' in vhost '%s'", name, v.name)
	case !c.Durable:
		return amqp.Errorf(amqp.PreconditionFailed, "invalid property 'non-durable' for queue '%s' in vhost '%s'", name, v.name)
	}
	for _, arg := range streamArgsRefused {
		if _, ok := c.Args[arg]; ok {
			return amqp.Errorf(amqp.PreconditionFailed, "invalid arg '%s' for queue '%s' in vhost '%s' of queue type rabbit_stream_queue", arg, name, v.name)
		}
	}
	if _, err := stream.ParseRetention(c.Args); err != nil {
		ae := err.(*stream.ArgError)
		return amqp.Errorf(amqp.PreconditionFailed, "invalid arg '%s' for queue '%s' in vhost '%s': %s", ae.Arg, name, v.name, ae.Reason)
	}
	if v.b.streams.dir == "" {
		return amqp.Errorf(amqp.NotImplemented, "stream queues need a data directory: queue '%s' in vhost '%s'", name, v.name)
	}
	return nil
}

// open opens the log of a stream queue being declared or recovered, in
// dir/<queue id>, and sets cfg.Stream; other queues are left alone. A
// queue without a store id gets one from newID. A new stream (fresh)
// starts empty: a log left under its id by a crash between a delete's
// store write and the removal of its files is removed first.
func (r *streamRegistry) open(cfg *queue.Config, args map[string]any, newID func() uint64, fresh bool) error {
	if args["x-queue-type"] != "stream" || r.dir == "" {
		return nil
	}
	if cfg.ID == 0 {
		cfg.ID = newID()
	}
	ret, err := stream.ParseRetention(args)
	if err != nil {
		return amqp.Errorf(amqp.PreconditionFailed, "%v", err)
	}
	dir := filepath.Join(r.dir, strconv.FormatUint(cfg.ID, 10))
	if fresh {
		if err := os.RemoveAll(dir); err != nil {
			return amqp.Errorf(amqp.InternalError, "cannot create the stream '%s': %v", cfg.Name, err)
		}
	}
	opts := stream.Options{Dir: dir, Retention: ret}
	if r.store != nil {
		opts.Offsets = storeOffsets{store: r.store, key: strconv.FormatUint(cfg.ID, 10)}
		if fresh {
			r.store.DeleteDefinition(streamOffsetsKind, opts.Offsets.(storeOffsets).key)
		}
	}
	s, err := stream.Open(opts)
	if err != nil {
		return amqp.Errorf(amqp.InternalError, "cannot open the stream '%s': %v", cfg.Name, err)
	}
	r.mu.Lock()
	if r.all == nil {
		r.all = map[*stream.Stream]struct{}{}
	}
	r.all[s] = struct{}{}
	r.mu.Unlock()
	cfg.Stream = s
	return nil
}

// remove deletes the log of a deleted stream queue.
func (r *streamRegistry) remove(q *queue.Queue) {
	s, ok := q.Stream.(*stream.Stream)
	if !ok {
		return
	}
	r.mu.Lock()
	delete(r.all, s)
	r.mu.Unlock()
	s.Delete()
}

// CloseStreams stops the writers and readers of every stream queue,
// keeping their files (shutdown).
func (b *Broker) CloseStreams() {
	b.streams.mu.Lock()
	all := b.streams.all
	b.streams.all = nil
	b.streams.mu.Unlock()
	for s := range all {
		s.Close()
	}
}

// StreamInfo returns the log figures of a stream queue (ok false for
// other queues).
func StreamInfo(q *queue.Queue) (info stream.Info, ok bool) {
	s, ok := q.Stream.(*stream.Stream)
	if !ok {
		return info, false
	}
	return s.Info(), true
}

// appendStream appends a routed message to a stream queue; with a
// Confirm, publish seq waits for the append's fsync.
func appendStream(q *queue.Queue, msg *queue.Message, conf Confirm, seq uint64) {
	var done func(error)
	if conf != nil {
		conf.Wait(seq)
		done = func(err error) { conf.Done(seq, err, true) }
	}
	q.Stream.Append(msg, done)
}

// streamRetention is a stream's retention from its arguments and policy:
// for each limit the smaller of the two (rabbitmq rabbit_stream_queue:
// args_policy_lookup with min; max-age likewise).
func streamRetention(args map[string]any, a *AppliedPolicy) stream.Retention {
	r, _ := stream.ParseRetention(args)
	if a == nil {
		return r
	}
	d := a.Definition
	smaller := func(cur *int64, key string) {
		if n, ok := jsonInt(d[key]); ok && n > 0 && (*cur == 0 || n < *cur) {
			*cur = n
		}
	}
	smaller(&r.MaxBytes, "max-length-bytes")
	smaller(&r.MaxSegmentBytes, "stream-max-segment-size-bytes")
	if s, ok := d["max-age"].(string); ok {
		if age, err := stream.ParseAge(s); err == nil && (r.MaxAge == 0 || age < r.MaxAge) {
			r.MaxAge = age
		}
	}
	return r
}

// applyStreamPolicy sets a stream queue's retention from its arguments
// and the policy in its limits (queueLimits sets Source).
func applyStreamPolicy(q *queue.Queue) {
	s, ok := q.Stream.(*stream.Stream)
	if !ok {
		return
	}
	a, _ := q.Limits().Source.(*AppliedPolicy)
	s.SetRetention(streamRetention(q.Args, a))
}
