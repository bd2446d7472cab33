package streamserver

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/queue/stream"
)

// publisher is a declared publisher; the reader goroutine owns it.
type publisher struct {
	id     uint8
	ref    string // "": no deduplication
	name   string // the stream
	s      *stream.Stream
	last   uint64 // the highest publishing id taken (deduplication)
	hasRef bool
	n      pubCounts // for the management API (info.go)
}

// lookupStream is the stream called name in the connection's vhost, or
// nil.
func (c *conn) lookupStream(name string) *stream.Stream {
	q := c.vhost.Queue(name)
	if q == nil {
		return nil
	}
	s, _ := q.Stream.(*stream.Stream)
	return s
}

// readable is the stream name when the user may read it, else nil and
// the response code that says why.
func (c *conn) readable(name string) (*stream.Stream, uint16) {
	s := c.lookupStream(name)
	switch {
	case s == nil:
		return nil, codeStreamDoesNotExist
	case !c.permitted(name, broker.Read):
		return nil, codeAccessRefused
	}
	return s, codeOK
}

// permitted checks the user's permission on a queue (a stream).
func (c *conn) permitted(name string, a broker.Access) bool {
	return c.s.cfg.Broker.CheckAccess(c.vhost.Name(), c.user.Name, broker.ResourceQueue, name, a) == nil
}

func (c *conn) declarePublisher(d *decoder) {
	corr, id, ref, name := d.u32(), d.u8(), d.str(), d.str()
	if d.err != nil {
		return
	}
	code := uint16(codeOK)
	s := c.lookupStream(name)
	switch {
	case len(ref) > 256:
		code = codePreconditionFailed
	case s == nil:
		code = codeStreamDoesNotExist
	case !c.permitted(name, broker.Write):
		code = codeAccessRefused
	case c.pubs[id] != nil:
		code = codePreconditionFailed
	}
	if code == codeOK && ref != "" {
		// rabbitmq: one publisher per reference and stream on a connection.
		for _, p := range c.pubs {
			if p.ref == ref && p.name == name {
				code = codePreconditionFailed
			}
		}
	}
	if code == codeOK {
		p := &publisher{id: id, ref: ref, name: name, s: s, hasRef: ref != ""}
		if p.hasRef {
			p.last = s.PublisherSeq(ref)
		}
		c.pubs[id] = p
		c.mu.Lock()
		c.mu.pubs[id] = p
		c.mu.Unlock()
	}
	c.send(response(keyDeclarePublisher, corr, code).done())
}

func (c *conn) deletePublisher(d *decoder) {
	corr, id := d.u32(), d.u8()
	if d.err != nil {
		return
	}
	if c.pubs[id] == nil {
		c.send(response(keyDeletePublisher, corr, codePublisherDoesNotExist).done())
		return
	}
	delete(c.pubs, id)
	c.mu.Lock()
	delete(c.mu.pubs, id)
	c.mu.Unlock()
	c.send(response(keyDeletePublisher, corr, codeOK).done())
}

func (c *conn) queryPublisherSequence(d *decoder) {
	corr, ref, name := d.u32(), d.str(), d.str()
	if d.err != nil {
		return
	}
	s, code := c.readable(name)
	seq := uint64(0)
	if s != nil {
		seq = s.PublisherSeq(ref)
	}
	f := response(keyQueryPublisherSequence, corr, code)
	f.u64(seq)
	c.send(f.done())
}

// publishError sends publisher pid's errors: each publishing id with
// code.
func (c *conn) publishError(pid uint8, ids []uint64, code uint16) {
	if len(ids) == 0 {
		return
	}
	f := newFrame(keyPublishError, 1, 5+10*len(ids))
	f.u8(pid)
	f.u32(uint32(len(ids)))
	for _, id := range ids {
		f.u64(id)
		f.u16(code)
	}
	c.send(f.done())
}

// publish appends each message to the publisher's stream; a confirm goes
// out after the fsync. Version 2 carries a filter value per message. A
// sub-entry batch (compression none or gzip) is split into its records.
// The frame's records go to the log in one batch and alias the frame
// buffer, which the reader does not reuse after a publish.
func (c *conn) publish(d *decoder, version uint16) {
	pid := d.u8()
	n := d.count(12)
	p := c.pubs[pid]
	var failed []uint64
	var failCode uint16
	if p == nil {
		failCode = codePublisherDoesNotExist
	} else if c.stopped(p.s) {
		failCode = codeStreamNotAvailable
	}
	b := &publishBatch{c: c, p: p}
	for range n {
		id := d.u64()
		filter := ""
		if version >= 2 {
			if l := int16(d.u16()); l >= 0 {
				filter = string(d.take(int(l)))
			} else if len(d.b) >= 2 && d.b[0] == 0xFF && d.b[1] == 0xFF {
				// The Go client writes a null filter as an int32 -1.
				d.take(2)
			}
		}
		if d.err != nil {
			return
		}
		var sub [][]byte
		var rec []byte
		if len(d.b) > 0 && d.b[0]&0x80 != 0 {
			// Sub-entry: type (compression in bits 4-6), records, sizes.
			typ, cnt, _, size := d.u8(), d.u16(), d.u32(), d.u32()
			data := d.take(int(size))
			if d.err != nil {
				return
			}
			var err error
			sub, err = subEntryRecords((typ>>4)&0x7, cnt, data)
			if err != nil {
				c.log.Info("stream publish: a bad sub-entry", zap.Error(err))
				failed = append(failed, id)
				if failCode == 0 {
					failCode = codePreconditionFailed
				}
				continue
			}
		} else {
			rec = d.bytes()
			if d.err != nil {
				return
			}
		}
		if failCode != 0 {
			failed = append(failed, id)
			continue
		}
		if p.hasRef && id <= p.last {
			c.confirm(pid, id) // rabbitmq: a duplicate is confirmed, not written
			p.n.confirmed.Add(1)
			continue
		}
		if p.hasRef {
			p.last = id
		}
		b.ids = append(b.ids, id)
		if sub != nil {
			for _, r := range sub {
				b.add(r, filter)
			}
		} else {
			b.add(rec, filter)
		}
	}
	if p == nil || failCode != 0 {
		c.publishError(pid, failed, failCode)
	}
	if p != nil {
		p.n.published.Add(uint64(n))
		p.n.errored.Add(uint64(len(failed)))
	}
	if len(b.recs) > 0 {
		b.left.Store(int64(len(b.recs)))
		if p.hasRef {
			// The batch's last publishing id goes to disk with its
			// records (a chunk trailer): deduplication exact across a
			// crash.
			p.s.AppendRawBatchSeq(b.recs, b.filters, p.ref, b.ids[len(b.ids)-1], b.done)
		} else {
			p.s.AppendRawBatch(b.recs, b.filters, b.done)
		}
	}
}

// publishBatch is one publish frame's records, confirmed together once
// the last is on disk (they are written in order).
type publishBatch struct {
	c       *conn
	p       *publisher
	ids     []uint64
	recs    [][]byte
	filters []string // nil: no filter values
	left    atomic.Int64
	failed  atomic.Bool
}

func (b *publishBatch) add(rec []byte, filter string) {
	if filter != "" && b.filters == nil {
		b.filters = make([]string, len(b.recs), cap(b.recs))
	}
	b.recs = append(b.recs, rec)
	if b.filters != nil {
		b.filters = append(b.filters, filter)
	}
}

// done runs on the log's writer goroutine for each record.
func (b *publishBatch) done(_ uint64, err error) {
	if err != nil {
		b.failed.Store(true)
	}
	if b.left.Add(-1) != 0 {
		return
	}
	if b.failed.Load() {
		b.p.n.errored.Add(uint64(len(b.ids)))
		b.c.publishError(b.p.id, b.ids, codeInternalError)
		return
	}
	b.p.n.confirmed.Add(uint64(len(b.ids)))
	b.c.confirmAll(b.p.id, b.ids)
}

// stopped reports whether s was deleted.
func (c *conn) stopped(s *stream.Stream) bool {
	select {
	case <-s.Stopped():
		return true
	default:
		return false
	}
}

// subEntryRecords splits a sub-entry's data (records as u32 size and
// bytes) after decompressing it: 0 none, 1 gzip.
func subEntryRecords(compression uint8, n uint16, data []byte) ([][]byte, error) {
	switch compression {
	case 0:
		data = bytes.Clone(data)
	case 1:
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		if data, err = io.ReadAll(io.LimitReader(zr, 64<<20)); err != nil {
			return nil, err
		}
	default:
		return nil, errFrame
	}
	recs := make([][]byte, 0, n)
	for range n {
		if len(data) < 4 {
			return nil, errFrame
		}
		sz := binary.BigEndian.Uint32(data)
		if uint64(sz) > uint64(len(data)-4) {
			return nil, errFrame
		}
		recs = append(recs, data[4:4+sz:4+sz])
		data = data[4+sz:]
	}
	return recs, nil
}
