package streamserver

import (
	"io"
	"net"

	"github.com/warrenmq/warren/amqp/rawsock"
	"github.com/warrenmq/warren/storage/streamlog"
)

// A Deliver's records go from the segment file to the socket with
// sendfile(2) (osiris does the same): the frame's prefix and the chunk's
// rewritten header are queued as bytes, followed by the records' range
// of the segment file (a streamlog.Region, which keeps the file open
// until it is released, whatever retention or a deletion does
// meanwhile). The writer sends the bytes queued before a region with
// one writev, then the region with sendfile, and releases it. Over TLS,
// and where the socket is not a TCP socket, the records are read into
// memory as before (Config.SendfileMin).

// queuedRegion is a region to send after the first at frames of the
// writer's queue.
type queuedRegion struct {
	at int
	rg streamlog.Region
}

// writeOut writes a batch: bufs, with each region after the frame it
// follows, on rs (the socket, raw calls) or, if rs is nil, on w
// (TLS). Every region is released, sent or not.
func (c *conn) writeOut(w io.Writer, rs *rawsock.Sock, bufs net.Buffers, regs []queuedRegion) error {
	if rs != nil && len(regs) > 0 {
		// Each write and each sendfile would push its bytes as a packet
		// of its own: a Deliver's header alone, then its records. Corked,
		// the batch goes out in full-size packets, the rest when uncorked.
		rs.Cork(true)
		defer rs.Cork(false)
	}
	write := func(bufs net.Buffers) (int64, error) {
		if rs != nil {
			return rs.Writev(bufs)
		}
		tls := bufs // on the heap (WriteTo's pointer receiver): declared here, the raw path allocates nothing
		return tls.WriteTo(w)
	}
	var err error
	from := 0
	for i := range regs {
		q := &regs[i]
		if err == nil && q.at > from {
			var n int64
			n, err = write(bufs[from:q.at])
			c.bytesOut.Add(n)
		}
		if err == nil {
			var n int64
			if rs != nil {
				// Raw when the range is in the page cache: then the
				// call cannot wait for the disk.
				n, err = rs.Sendfile(q.rg.Fd(), q.rg.Off, q.rg.Len, q.rg.Cached())
			} else {
				n, err = q.rg.WriteTo(w)
			}
			c.bytesOut.Add(n)
		}
		q.rg.Release()
		from = max(from, q.at)
	}
	if err == nil && from < len(bufs) {
		n, err := write(bufs[from:])
		c.bytesOut.Add(n)
		return err
	}
	return err
}

// defaultSendfileMin is Config.SendfileMin's default.
const defaultSendfileMin = 0
