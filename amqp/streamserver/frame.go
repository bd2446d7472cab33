package streamserver

import (
	"encoding/binary"
	"errors"
	"io"
)

// Command keys (PROTOCOL.adoc); a response sets the top bit.
const (
	keyDeclarePublisher       = 0x0001
	keyPublish                = 0x0002
	keyPublishConfirm         = 0x0003
	keyPublishError           = 0x0004
	keyQueryPublisherSequence = 0x0005
	keyDeletePublisher        = 0x0006
	keySubscribe              = 0x0007
	keyDeliver                = 0x0008
	keyCredit                 = 0x0009
	keyStoreOffset            = 0x000a
	keyQueryOffset            = 0x000b
	keyUnsubscribe            = 0x000c
	keyCreate                 = 0x000d
	keyDelete                 = 0x000e
	keyMetadata               = 0x000f
	keyMetadataUpdate         = 0x0010
	keyPeerProperties         = 0x0011
	keySaslHandshake          = 0x0012
	keySaslAuthenticate       = 0x0013
	keyTune                   = 0x0014
	keyOpen                   = 0x0015
	keyClose                  = 0x0016
	keyHeartbeat              = 0x0017
	keyRoute                  = 0x0018
	keyPartitions             = 0x0019
	keyConsumerUpdate         = 0x001a
	keyExchangeVersions       = 0x001b
	keyStreamStats            = 0x001c
	keyCreateSuperStream      = 0x001d
	keyDeleteSuperStream      = 0x001e

	responseBit = 0x8000
)

// Response codes.
const (
	codeOK                       = 0x01
	codeStreamDoesNotExist       = 0x02
	codeSubscriptionIDExists     = 0x03
	codeSubscriptionIDNotExist   = 0x04
	codeStreamAlreadyExists      = 0x05
	codeStreamNotAvailable       = 0x06
	codeSaslMechanismUnsupported = 0x07
	codeAuthenticationFailure    = 0x08
	codeSaslError                = 0x09
	codeVirtualHostAccessFailure = 0x0c
	codeUnknownFrame             = 0x0d
	codeFrameTooLarge            = 0x0e
	codeInternalError            = 0x0f
	codeAccessRefused            = 0x10
	codePreconditionFailed       = 0x11
	codePublisherDoesNotExist    = 0x12
	codeNoOffset                 = 0x13
)

// commandVersions is what exchange command versions answers: key, min,
// max.
var commandVersions = [][3]uint16{
	{keyDeclarePublisher, 1, 1}, {keyPublish, 1, 2}, {keyPublishConfirm, 1, 1}, {keyPublishError, 1, 1},
	{keyQueryPublisherSequence, 1, 1}, {keyDeletePublisher, 1, 1}, {keySubscribe, 1, 1}, {keyDeliver, 1, 1},
	{keyCredit, 1, 1}, {keyStoreOffset, 1, 1}, {keyQueryOffset, 1, 1}, {keyUnsubscribe, 1, 1},
	{keyCreate, 1, 1}, {keyDelete, 1, 1}, {keyMetadata, 1, 1}, {keyMetadataUpdate, 1, 1},
	{keyPeerProperties, 1, 1}, {keySaslHandshake, 1, 1}, {keySaslAuthenticate, 1, 1}, {keyTune, 1, 1},
	{keyOpen, 1, 1}, {keyClose, 1, 1}, {keyHeartbeat, 1, 1}, {keyRoute, 1, 1}, {keyPartitions, 1, 1},
	{keyConsumerUpdate, 1, 1}, {keyExchangeVersions, 1, 1}, {keyStreamStats, 1, 1},
	{keyCreateSuperStream, 1, 1}, {keyDeleteSuperStream, 1, 1},
}

var errFrame = errors.New("streamserver: malformed frame")

// readFrame reads one frame's body (after its size) into buf, growing it;
// a frame over max is refused before it is read.
func readFrame(r io.Reader, buf []byte, max uint32) ([]byte, error) {
	var sz [4]byte
	if _, err := io.ReadFull(r, sz[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(sz[:])
	if n < 4 {
		return nil, errFrame
	}
	if max > 0 && n > max {
		return nil, errTooLarge
	}
	if uint32(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, err := io.ReadFull(r, buf)
	return buf, err
}

var errTooLarge = errors.New("streamserver: frame too large")

// decoder reads a frame's fields; the first error sticks and every later
// read returns zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil || n < 0 || n > len(d.b) {
		d.err, d.b = errFrame, nil
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() uint8 {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if b := d.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if b := d.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// str reads a string: int16 length (-1: null, read as "").
func (d *decoder) str() string {
	n := int16(d.u16())
	if n < 0 {
		return ""
	}
	return string(d.take(int(n)))
}

// bytes reads bytes: int32 length (-1: null).
func (d *decoder) bytes() []byte {
	n := int32(d.u32())
	if n < 0 {
		return nil
	}
	return d.take(int(n))
}

// count reads an array's int32 length, bounded by the bytes left (each
// element at least min bytes).
func (d *decoder) count(min int) int {
	n := int32(d.u32())
	if n < 0 || d.err == nil && int(n)*min > len(d.b) {
		d.err, d.b = errFrame, nil
		return 0
	}
	return int(n)
}

func (d *decoder) strings() []string {
	n := d.count(2)
	out := make([]string, 0, n)
	for range n {
		out = append(out, d.str())
	}
	return out
}

// strMap reads a map of strings; absent (no bytes left) is empty.
func (d *decoder) strMap() map[string]string {
	m := map[string]string{}
	if d.err != nil || len(d.b) == 0 {
		return m
	}
	n := d.count(4)
	for range n {
		k := d.str()
		m[k] = d.str()
	}
	return m
}

// frame builds one outgoing frame: start, the fields, then done fills in
// its size.
type frame struct{ b []byte }

func newFrame(key, version uint16, hint int) *frame {
	f := &frame{b: make([]byte, 4, 8+hint)}
	f.u16(key)
	f.u16(version)
	return f
}

func (f *frame) u8(v uint8)   { f.b = append(f.b, v) }
func (f *frame) u16(v uint16) { f.b = binary.BigEndian.AppendUint16(f.b, v) }
func (f *frame) u32(v uint32) { f.b = binary.BigEndian.AppendUint32(f.b, v) }
func (f *frame) u64(v uint64) { f.b = binary.BigEndian.AppendUint64(f.b, v) }
func (f *frame) str(s string) {
	f.u16(uint16(len(s)))
	f.b = append(f.b, s...)
}

func (f *frame) done() []byte {
	binary.BigEndian.PutUint32(f.b, uint32(len(f.b)-4))
	return f.b
}

// response starts a response frame to key with its correlation id and
// code.
func response(key uint16, corr uint32, code uint16) *frame {
	f := newFrame(key|responseBit, 1, 16)
	f.u32(corr)
	f.u16(code)
	return f
}
