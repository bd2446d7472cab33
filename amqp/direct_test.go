package amqp

import (
	"bufio"
	"bytes"
	"io"
	"testing"
	"time"
)

// chunkReader hands out its bytes at most n at a time, and counts them.
type chunkReader struct {
	data []byte
	n    int
	read int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), c.n)], c.data)
	c.data = c.data[k:]
	c.read += k
	return k, nil
}

type countReader struct {
	r io.Reader
	n int
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// With Direct, body payloads read in place come from the underlying
// reader, not through the buffer; every frame around them is read as
// before, whatever sizes the reads return (a header split across reads
// included), and a bad frame end is still a FRAME_ERROR.
func TestBodyFrameReadDirect(t *testing.T) {
	body := bytes.Repeat([]byte("abcdefghij"), 3000) // 30,000 bytes
	var raw []byte
	raw = AppendFrame(raw, FrameMethod, 1, []byte{0, 60, 0, 40, 0, 0, 0, 0})
	raw = AppendFrame(raw, FrameBody, 1, body[:12000])
	raw = AppendFrame(raw, FrameBody, 1, body[12000:24000])
	raw = AppendFrame(raw, FrameBody, 1, body[24000:])
	raw = AppendHeartbeat(raw)
	raw = AppendFrame(raw, FrameMethod, 1, []byte{0, 60, 0, 40, 1})
	for _, chunk := range []int{1, 3, 5, 7, 8, 9, 4096, 12008, 1 << 20} {
		cr := &chunkReader{data: raw, n: chunk}
		direct := &countReader{r: cr}
		fr := NewFrameReader(bufio.NewReaderSize(cr, 512), 1<<20)
		fr.Direct = direct
		dst := make([]byte, len(body))
		got := 0
		fr.BodyDst = func(ch uint16, size int) []byte {
			d := dst[got : got+size]
			got += size
			return d
		}
		var types []uint8
		for {
			f, err := fr.ReadFrame()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("chunks of %d: %v after frames %v", chunk, err, types)
			}
			types = append(types, f.Type)
			if f.Type == FrameMethod && len(types) == 6 && !bytes.Equal(f.Payload, []byte{0, 60, 0, 40, 1}) {
				t.Fatalf("chunks of %d: last method %x", chunk, f.Payload)
			}
		}
		if want := []uint8{FrameMethod, FrameBody, FrameBody, FrameBody, FrameHeartbeat, FrameMethod}; !bytes.Equal(types, want) {
			t.Fatalf("chunks of %d: frames %v, want %v", chunk, types, want)
		}
		if !bytes.Equal(dst, body) {
			t.Fatalf("chunks of %d: body not read whole in place", chunk)
		}
		if direct.n < len(body)-3*512 {
			t.Fatalf("chunks of %d: %d of %d body bytes read directly; the rest went through the buffer", chunk, direct.n, len(body))
		}
	}

	bad := AppendFrame(nil, FrameBody, 3, body[:5000])
	bad[len(bad)-1] = 0
	cr := &chunkReader{data: bad, n: 5007}
	fr := NewFrameReader(bufio.NewReaderSize(cr, 512), 1<<20)
	fr.Direct = cr
	fr.BodyDst = func(uint16, int) []byte { return make([]byte, 5000) }
	_, err := fr.ReadFrame()
	asError(t, err, FrameError)
}

// After a body frame read directly, the reader returns the frame as soon
// as its frame end is in: it does not wait for the next frame's header,
// which a client may send only after a reply.
func TestBodyFrameReadDirectDoesNotWaitForNext(t *testing.T) {
	pr, pw := io.Pipe()
	fr := NewFrameReader(bufio.NewReaderSize(pr, 512), 1<<20)
	fr.Direct = pr
	fr.BodyDst = func(_ uint16, size int) []byte { return make([]byte, size) }
	body := bytes.Repeat([]byte("z"), 8000)
	go pw.Write(AppendFrame(nil, FrameBody, 1, body))
	got := make(chan error, 1)
	go func() {
		f, err := fr.ReadFrame()
		if err == nil && !bytes.Equal(f.Payload, body) {
			err = io.ErrShortBuffer
		}
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadFrame waits for the next frame after a complete body frame")
	}
	pw.Close()
}
