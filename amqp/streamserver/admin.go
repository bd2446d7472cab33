package streamserver

import (
	"errors"
	"strconv"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/queue/stream"
)

// streamArgs converts create's string arguments to the queue arguments
// of a stream (rabbitmq rabbit_stream_utils:parse_map): max-length-bytes,
// max-age, stream-max-segment-size-bytes; queue-leader-locator and
// initial-cluster-size are accepted and have no effect on one node.
func streamArgs(in map[string]string) (map[string]any, bool) {
	args := map[string]any{"x-queue-type": "stream"}
	for k, v := range in {
		switch k {
		case "max-length-bytes", "stream-max-segment-size-bytes":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, false
			}
			args["x-"+k] = n
		case "max-age":
			if _, err := stream.ParseAge(v); err != nil {
				return nil, false
			}
			args["x-max-age"] = v
		case "queue-leader-locator", "initial-cluster-size":
		default:
			return nil, false
		}
	}
	return args, true
}

// declareStream creates a stream and answers with a response code.
func (c *conn) declareStream(name string, in map[string]string) uint16 {
	args, ok := streamArgs(in)
	switch {
	case name == "" || len(name) > 255:
		return codePreconditionFailed
	case !c.permitted(name, broker.Configure):
		return codeAccessRefused
	case c.vhost.Queue(name) != nil:
		return codeStreamAlreadyExists
	case !ok:
		return codePreconditionFailed
	}
	if _, err := c.vhost.Apply(broker.DeclareQueue{Name: name, Durable: true, Args: args}); err != nil {
		return c.errorCode("create stream", name, err)
	}
	return codeOK
}

// errorCode maps a broker error to a response code.
func (c *conn) errorCode(what, name string, err error) uint16 {
	var ae *amqp.Error
	if errors.As(err, &ae) {
		switch ae.Code {
		case amqp.PreconditionFailed, amqp.NotAllowed:
			return codePreconditionFailed
		case amqp.AccessRefused:
			return codeAccessRefused
		case amqp.NotFound:
			return codeStreamDoesNotExist
		}
	}
	c.log.Warn("stream command failed", zap.String("command", what), zap.String("name", name), zap.Error(err))
	return codeInternalError
}

func (c *conn) createStream(d *decoder) {
	corr, name, args := d.u32(), d.str(), d.strMap()
	if d.err != nil {
		return
	}
	c.send(response(keyCreate, corr, c.declareStream(name, args)).done())
}

// removeStream deletes a stream and tells the connections using it.
func (c *conn) removeStream(name string) uint16 {
	switch {
	case c.lookupStream(name) == nil:
		return codeStreamDoesNotExist
	case !c.permitted(name, broker.Configure):
		return codeAccessRefused
	}
	if _, err := c.vhost.Apply(broker.DeleteQueue{Name: name}); err != nil {
		return c.errorCode("delete stream", name, err)
	}
	c.s.streamGone(c.vhost.Name(), name)
	return codeOK
}

func (c *conn) deleteStream(d *decoder) {
	corr, name := d.u32(), d.str()
	if d.err != nil {
		return
	}
	c.send(response(keyDelete, corr, c.removeStream(name)).done())
}

// metadata answers with this node as the only broker and the leader of
// every stream that exists (no response code: the format has none).
func (c *conn) metadata(d *decoder) {
	corr := d.u32()
	names := d.strings()
	if d.err != nil {
		return
	}
	host, port := c.advertised()
	f := newFrame(keyMetadata|responseBit, 1, 32)
	f.u32(corr)
	f.u32(1)
	f.u16(0)
	f.str(host)
	f.u32(uint32(port))
	f.u32(uint32(len(names)))
	for _, n := range names {
		f.str(n)
		if c.lookupStream(n) == nil {
			f.u16(codeStreamDoesNotExist)
			f.u16(0xFFFF)
			f.u32(0)
			continue
		}
		f.u16(codeOK)
		f.u16(0)
		f.u32(0) // no replicas
	}
	c.send(f.done())
}

// streamStats answers first_chunk_id, last_chunk_id and
// committed_chunk_id (-1 when the stream is empty).
func (c *conn) streamStats(d *decoder) {
	corr, name := d.u32(), d.str()
	if d.err != nil {
		return
	}
	s := c.lookupStream(name)
	if s == nil {
		f := response(keyStreamStats, corr, codeStreamDoesNotExist)
		f.u32(0)
		c.send(f.done())
		return
	}
	if !c.permitted(name, broker.Read) {
		f := response(keyStreamStats, corr, codeAccessRefused)
		f.u32(0)
		c.send(f.done())
		return
	}
	in := s.Info()
	first, last := int64(-1), int64(-1)
	if in.Next > in.First {
		first, last = int64(in.First), int64(in.LastChunk)
	}
	f := response(keyStreamStats, corr, codeOK)
	f.u32(3)
	for _, kv := range []struct {
		k string
		v int64
	}{{"first_chunk_id", first}, {"last_chunk_id", last}, {"committed_chunk_id", last}} {
		f.str(kv.k)
		f.u64(uint64(kv.v))
	}
	c.send(f.done())
}

func (c *conn) exchangeVersions(d *decoder) {
	corr := d.u32()
	n := d.count(6)
	for range n {
		d.u16()
		d.u16()
		d.u16()
	}
	if d.err != nil {
		return
	}
	f := response(keyExchangeVersions, corr, codeOK)
	f.u32(uint32(len(commandVersions)))
	for _, v := range commandVersions {
		f.u16(v[0])
		f.u16(v[1])
		f.u16(v[2])
	}
	c.send(f.done())
}
