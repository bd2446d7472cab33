package amqp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ProtocolHeader opens every AMQP 0-9-1 connection.
const ProtocolHeader = "AMQP\x00\x00\x09\x01"

// FrameOverhead is the frame header (type, channel, size) plus the frame end.
const FrameOverhead = 8

// Frame is one frame as read from the wire. Payload aliases the reader's
// buffer and is valid only until the next ReadFrame.
type Frame struct {
	Type    uint8
	Channel uint16
	Payload []byte
}

// FrameReader reads frames from a buffered stream. A frame larger than the
// negotiated frame_max is an error returned before its payload is read or
// allocated, so memory per connection is bounded by frame_max.
type FrameReader struct {
	r        *bufio.Reader
	frameMax uint32
	buf      []byte

	// BodyDst, if set, may give the place for a body frame's payload of
	// size bytes (InPlaceMin or more) on channel ch (a slice of that
	// length), so that it is read there rather than copied there
	// afterwards; nil: the reader's own buffer.
	BodyDst func(ch uint16, size int) []byte

	// Direct, if set, is the reader r reads from. A body payload read in
	// place (BodyDst) then comes from it straight into place once r's
	// buffer is empty, and so do its frame end and the next frame's
	// header: through r, bufio would read ahead up to its size and copy
	// all of that again (half of each 128 KiB frame of a 1 MiB body).
	// r must read nothing but Direct from then on.
	Direct io.Reader
	next   [FrameHeaderSize]byte // a header read by readDirect through Direct
	hasHdr bool
}

// FrameHeaderSize is the bytes of a frame before its payload: type,
// channel, size.
const FrameHeaderSize = 7

// NewFrameReader returns a reader that accepts frames of at most frameMax
// bytes in all (0 means the minimum, FrameMinSize).
func NewFrameReader(r *bufio.Reader, frameMax uint32) *FrameReader {
	fr := &FrameReader{r: r}
	fr.SetFrameMax(frameMax)
	return fr
}

// SetFrameMax changes the largest frame accepted, after tuning.
func (fr *FrameReader) SetFrameMax(n uint32) {
	if n == 0 || n < FrameMinSize {
		n = FrameMinSize
	}
	fr.frameMax = n
}

// FrameMax returns the largest frame accepted.
func (fr *FrameReader) FrameMax() uint32 { return fr.frameMax }

// ErrBadProtocolHeader is returned by ReadProtocolHeader when the peer sent
// something other than AMQP 0-9-1's header. The server answers it by
// writing ProtocolHeader and closing the socket.
var ErrBadProtocolHeader = errors.New("amqp: bad protocol header")

// ReadProtocolHeader reads and checks the 8-byte protocol header.
func ReadProtocolHeader(r io.Reader) error {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return err
	}
	if string(h[:]) != ProtocolHeader {
		return fmt.Errorf("%w %q", ErrBadProtocolHeader, h[:])
	}
	return nil
}

// ReadFrame reads the next frame. I/O errors are returned as they are; a
// malformed frame is a *Error with code FRAME_ERROR.
func (fr *FrameReader) ReadFrame() (Frame, error) {
	var hdr []byte
	pending := fr.hasHdr
	if pending {
		hdr, fr.hasHdr = fr.next[:], false
	} else {
		var err error
		if hdr, err = fr.r.Peek(FrameHeaderSize); err != nil {
			if len(hdr) > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return Frame{}, err
		}
	}
	typ := hdr[0]
	ch := binary.BigEndian.Uint16(hdr[1:3])
	size := binary.BigEndian.Uint32(hdr[3:7])
	// spec 0-9-1 frame-max: the whole frame, header and end included, must fit.
	if uint64(size)+FrameOverhead > uint64(fr.frameMax) {
		return Frame{}, frameError(typ, nil, fmt.Sprintf("{frame_too_large,%d,%d}", size, fr.frameMax-FrameOverhead))
	}
	if !pending {
		if _, err := fr.r.Discard(FrameHeaderSize); err != nil {
			return Frame{}, err
		}
	}
	if typ == FrameBody && size >= InPlaceMin && fr.BodyDst != nil {
		if dst := fr.BodyDst(ch, int(size)); dst != nil {
			return fr.readInto(ch, dst)
		}
	}
	need := int(size) + 1
	if cap(fr.buf) < need {
		fr.buf = make([]byte, need)
	}
	buf := fr.buf[:need]
	if _, err := io.ReadFull(fr.r, buf); err != nil {
		return Frame{}, inFrame(err)
	}
	if buf[size] != FrameEnd {
		return Frame{}, badFrameEnd(typ, buf[:size], buf[size])
	}
	switch typ {
	case FrameMethod, FrameHeader, FrameBody, FrameHeartbeat:
	default:
		return Frame{}, frameError(typ, buf[:size], "unknown_frame")
	}
	return Frame{Type: typ, Channel: ch, Payload: buf[:size]}, nil
}

// AppendFrame appends one frame with the given payload.
func AppendFrame(b []byte, typ uint8, ch uint16, payload []byte) []byte {
	b = AppendFrameHeader(b, typ, ch, len(payload))
	b = append(b, payload...)
	return append(b, FrameEnd)
}

// AppendFrameHeader appends the 7-byte header of a frame whose payload of
// size bytes, and then FrameEnd, the caller sends separately: the frame
// of a body written from where it lies instead of copied.
func AppendFrameHeader(b []byte, typ uint8, ch uint16, size int) []byte {
	b = append(b, typ, byte(ch>>8), byte(ch))
	return appendUint32(b, uint32(size))
}

// InPlaceMin is the smallest body frame payload offered to BodyDst: below
// it, a copy costs less than asking.
const InPlaceMin = 4096

// readInto reads a body frame's payload into dst and its frame end.
func (fr *FrameReader) readInto(ch uint16, dst []byte) (Frame, error) {
	if fr.Direct != nil {
		return fr.readDirect(ch, dst)
	}
	if _, err := io.ReadFull(fr.r, dst); err != nil {
		return Frame{}, inFrame(err)
	}
	return fr.frameEnd(ch, dst)
}

func (fr *FrameReader) frameEnd(ch uint16, dst []byte) (Frame, error) {
	end, err := fr.r.ReadByte()
	if err != nil {
		return Frame{}, inFrame(err)
	}
	if end != FrameEnd {
		return Frame{}, badFrameEnd(FrameBody, dst, end)
	}
	return Frame{Type: FrameBody, Channel: ch, Payload: dst}, nil
}

// readDirect is readInto through Direct: what r holds is copied, the rest
// of the payload read from Direct into dst, and then, with r still empty,
// the frame end and the next header too, read from Direct with one small
// read that never waits for more than the frame end (the next frame may
// not have been sent).
func (fr *FrameReader) readDirect(ch uint16, dst []byte) (Frame, error) {
	n := 0
	if b := fr.r.Buffered(); b > 0 {
		n, _ = fr.r.Read(dst[:min(b, len(dst))]) // from the buffer only
	}
	if n < len(dst) {
		if _, err := io.ReadFull(fr.Direct, dst[n:]); err != nil {
			return Frame{}, inFrame(err)
		}
	}
	if fr.r.Buffered() > 0 {
		return fr.frameEnd(ch, dst)
	}
	var tail [1 + FrameHeaderSize]byte
	k, err := io.ReadAtLeast(fr.Direct, tail[:], 1)
	if err != nil {
		return Frame{}, inFrame(err)
	}
	if tail[0] != FrameEnd {
		return Frame{}, badFrameEnd(FrameBody, dst, tail[0])
	}
	if k > 1 {
		// A header begun is a header sent: the rest of it follows.
		if _, err := io.ReadFull(fr.Direct, tail[k:]); err != nil {
			return Frame{}, inFrame(err)
		}
		copy(fr.next[:], tail[1:])
		fr.hasHdr = true
	}
	return Frame{Type: FrameBody, Channel: ch, Payload: dst}, nil
}

// inFrame reports the end of input met inside a frame as
// io.ErrUnexpectedEOF.
func inFrame(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// badFrameEnd is RabbitMQ's error for a frame not closed by FrameEnd.
func badFrameEnd(typ uint8, payload []byte, end byte) *Error {
	return frameError(typ, payload, fmt.Sprintf("{invalid_frame_end_marker,%d}", end))
}

// beginFrame appends a frame header with a size to be patched by endFrame.
func beginFrame(b []byte, typ uint8, ch uint16) ([]byte, int) {
	b = append(b, typ, byte(ch>>8), byte(ch), 0, 0, 0, 0)
	return b, len(b)
}

func endFrame(b []byte, start int) []byte {
	patchLen(b, start-4)
	return append(b, FrameEnd)
}

// AppendMethodFrame appends a method frame. On error b is returned as it was.
func AppendMethodFrame(b []byte, ch uint16, m Method) ([]byte, error) {
	orig := len(b)
	b, start := beginFrame(b, FrameMethod, ch)
	b, err := AppendMethod(b, m)
	if err != nil {
		return b[:orig], err
	}
	return endFrame(b, start), nil
}

// AppendHeaderFrame appends a content header frame.
func AppendHeaderFrame(b []byte, ch uint16, classID uint16, bodySize uint64, p *Properties) ([]byte, error) {
	orig := len(b)
	b, start := beginFrame(b, FrameHeader, ch)
	b = appendUint16(b, classID)
	b = appendUint16(b, 0)
	b = appendUint64(b, bodySize)
	b, err := AppendProperties(b, p)
	if err != nil {
		return b[:orig], err
	}
	return endFrame(b, start), nil
}

// AppendRawHeaderFrame appends a content header frame whose properties are
// already encoded (as returned by SplitContentHeader).
func AppendRawHeaderFrame(b []byte, ch uint16, classID uint16, bodySize uint64, rawProps []byte) []byte {
	b, start := beginFrame(b, FrameHeader, ch)
	b = appendUint16(b, classID)
	b = appendUint16(b, 0)
	b = appendUint64(b, bodySize)
	b = append(b, rawProps...)
	return endFrame(b, start)
}

// AppendBodyFrames appends body as content body frames of at most frameMax
// bytes each. An empty body takes no frame.
func AppendBodyFrames(b []byte, ch uint16, body []byte, frameMax uint32) []byte {
	chunk := int(frameMax) - FrameOverhead
	if frameMax == 0 || chunk <= 0 {
		chunk = len(body)
	}
	for len(body) > 0 {
		n := min(chunk, len(body))
		b = AppendFrame(b, FrameBody, ch, body[:n])
		body = body[n:]
	}
	return b
}

// AppendHeartbeat appends a heartbeat frame.
func AppendHeartbeat(b []byte) []byte {
	return append(b, FrameHeartbeat, 0, 0, 0, 0, 0, 0, FrameEnd)
}

// frameError builds RabbitMQ's FRAME_ERROR text, which shows the frame's
// payload as an Erlang binary: "type 1, all octets = <<0,10>>: reason".
func frameError(typ uint8, payload []byte, reason string) *Error {
	return &Error{Code: FrameError, Text: fmt.Sprintf("FRAME_ERROR - type %d, all octets = %s: %s", typ, erlangBinary(payload), reason)}
}

// erlangBinary writes b as Erlang prints a binary, up to 64 bytes.
func erlangBinary(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	printable := len(b) > 0
	for _, c := range b {
		if c < 32 || c > 126 {
			printable = false
			break
		}
	}
	if printable {
		return fmt.Sprintf("<<%q>>", b)
	}
	out := []byte("<<")
	for i, c := range b {
		if i > 0 {
			out = append(out, ',')
		}
		out = strconv.AppendUint(out, uint64(c), 10)
	}
	return string(append(out, ">>"...))
}
