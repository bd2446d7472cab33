package streamserver

import (
	"io"
	"net"
	"syscall"

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
// follows. Every region is released, sent or not.
func (c *conn) writeOut(w io.Writer, rc syscall.RawConn, bufs net.Buffers, regs []queuedRegion) error {
	if rc != nil && len(regs) > 0 {
		// Each write and each sendfile would push its bytes as a packet
		// of its own: a Deliver's header alone, then its records. Corked,
		// the batch goes out in full-size packets, the rest when uncorked.
		cork(rc, true)
		defer cork(rc, false)
	}
	var err error
	from := 0
	for i := range regs {
		q := &regs[i]
		if err == nil && q.at > from {
			var n int64
			n, err = writeBufs(w, rc, bufs[from:q.at])
			c.bytesOut.Add(n)
		}
		if err == nil {
			var n int64
			if rc != nil {
				n, err = sendRegion(rc, &q.rg)
			} else {
				n, err = q.rg.WriteTo(w)
			}
			c.bytesOut.Add(n)
		}
		q.rg.Release()
		from = max(from, q.at)
	}
	if err == nil && from < len(bufs) {
		n, err := writeBufs(w, rc, bufs[from:])
		c.bytesOut.Add(n)
		return err
	}
	return err
}

// sendRegion writes rg to the socket behind rc with sendfile(2), waiting
// for room in the socket's buffer as a write does. The call is raw
// (rawio.go) when the range is in the page cache: then it cannot wait
// for the disk.
func sendRegion(rc syscall.RawConn, rg *streamlog.Region) (int64, error) {
	var written int64
	var serr error
	raw := rg.Cached()
	cerr := rg.Control(func(src uintptr) {
		off, remain := rg.Off, rg.Len
		werr := rc.Write(func(dst uintptr) bool {
			for remain > 0 {
				n, err := sendfile(int(dst), int(src), &off, int(min(remain, 1<<30)), raw)
				if n > 0 {
					written += int64(n)
					remain -= int64(n)
				}
				switch {
				case err == syscall.EAGAIN:
					return false // the socket's buffer is full: wait until writable
				case err == syscall.EINTR:
				case err != nil:
					serr = err
					return true
				case n == 0:
					serr = io.ErrUnexpectedEOF // the file ends before the range does
					return true
				}
			}
			return true
		})
		if serr == nil {
			serr = werr
		}
	})
	if serr == nil {
		serr = cerr
	}
	if serr != nil {
		return written, &net.OpError{Op: "sendfile", Net: "tcp", Err: serr}
	}
	return written, nil
}

// defaultSendfileMin is Config.SendfileMin's default.
const defaultSendfileMin = 0
