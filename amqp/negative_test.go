package amqp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

// allGoldenFrames returns every hand-written frame.
func allGoldenFrames(tb testing.TB) [][]byte {
	var frames [][]byte
	for _, g := range goldenMethods {
		frames = append(frames, wire(tb, g.hex))
	}
	for _, g := range goldenHeaders {
		frames = append(frames, wire(tb, g.hex))
	}
	for _, h := range goldenOther {
		frames = append(frames, wire(tb, h))
	}
	return frames
}

func asError(t *testing.T, err error, code ReplyCode) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err %v (%T), want *Error", err, err)
	}
	// The wording is RabbitMQ's and may change; the code and its name lead.
	if e.Code != code || !strings.HasPrefix(e.Text, code.String()+" - ") {
		t.Fatalf("code %d text %q, want %d and the text to start with %s", e.Code, e.Text, code, code)
	}
	return e
}

// TestTruncatedFrames cuts every golden frame at every offset: reading it is
// io.EOF at 0 and io.ErrUnexpectedEOF after, and decoding a cut payload is
// a *Error, never a panic.
func TestTruncatedFrames(t *testing.T) {
	for _, raw := range allGoldenFrames(t) {
		for i := range len(raw) {
			fr := NewFrameReader(bufio.NewReaderSize(bytes.NewReader(raw[:i]), 16), 1<<20)
			_, err := fr.ReadFrame()
			want := io.ErrUnexpectedEOF
			if i == 0 {
				want = io.EOF
			}
			if err != want {
				t.Fatalf("%x cut at %d: err %v, want %v", raw, i, err, want)
			}
		}
		payload := raw[7 : len(raw)-1]
		for i := range len(payload) {
			cut := payload[:i]
			switch raw[0] {
			case FrameMethod:
				m, err := DecodeMethod(cut)
				if err == nil {
					t.Fatalf("%x cut at %d decoded as %v", payload, i, m)
				}
				if i < 4 { // not even the class and method ids
					asError(t, err, FrameError)
				} else {
					asError(t, err, SyntaxError)
				}
			case FrameHeader:
				_, err := DecodeContentHeader(cut)
				asError(t, err, FrameError)
				if i >= 14 {
					if _, err := DecodeProperties(cut[12:]); err == nil {
						t.Fatalf("%x cut at %d: properties decoded", payload, i)
					}
				} else if _, _, _, err := SplitContentHeader(cut); err == nil {
					t.Fatalf("SplitContentHeader of %d bytes: no error", i)
				}
			}
		}
	}
}

func TestBadFrameEnd(t *testing.T) {
	for _, raw := range allGoldenFrames(t) {
		raw = bytes.Clone(raw)
		raw[len(raw)-1] = 0
		_, err := NewFrameReader(bufio.NewReader(bytes.NewReader(raw)), 1<<20).ReadFrame()
		asError(t, err, FrameError)
	}
}

func TestUnknownFrameType(t *testing.T) {
	for _, typ := range []byte{0, 4, 5, 7, 9, 0xce, 0xff} {
		raw := wire(t, `00 0001 00000000 ce`)
		raw[0] = typ
		_, err := NewFrameReader(bufio.NewReader(bytes.NewReader(raw)), 4096).ReadFrame()
		asError(t, err, FrameError)
	}
	// HTTP arriving where a frame should be: refused on its first 7 bytes.
	_, err := NewFrameReader(bufio.NewReader(strings.NewReader("GET / HTTP/1.1\r\n\r\n")), 4096).ReadFrame()
	asError(t, err, FrameError)
}

// headerOnly returns the 7 header bytes and then fails the test if read
// further.
type headerOnly struct {
	t    *testing.T
	hdr  []byte
	done bool
}

func (r *headerOnly) Read(p []byte) (int, error) {
	if r.done {
		r.t.Error("read past the frame header")
		return 0, errors.New("read past the frame header")
	}
	r.done = true
	return copy(p, r.hdr), nil
}

func TestOversizeFrameRefusedBeforeRead(t *testing.T) {
	const frameMax = 4096
	for _, tc := range []struct {
		size uint32
		ok   bool
	}{
		{frameMax - FrameOverhead, true},
		{frameMax - FrameOverhead + 1, false},
		{1 << 20, false},
		{1<<32 - 1, false},
	} {
		hdr := []byte{FrameBody, 0, 1, byte(tc.size >> 24), byte(tc.size >> 16), byte(tc.size >> 8), byte(tc.size)}
		if tc.ok {
			raw := append(append(hdr, make([]byte, tc.size)...), FrameEnd)
			if _, err := NewFrameReader(bufio.NewReader(bytes.NewReader(raw)), frameMax).ReadFrame(); err != nil {
				t.Errorf("size %d: %v", tc.size, err)
			}
			continue
		}
		fr := NewFrameReader(bufio.NewReader(&headerOnly{t: t, hdr: hdr}), frameMax)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := fr.ReadFrame()
		runtime.ReadMemStats(&after)
		asError(t, err, FrameError)
		if cap(fr.buf) != 0 {
			t.Errorf("size %d: buffer of %d bytes allocated", tc.size, cap(fr.buf))
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
			t.Errorf("size %d: %d bytes allocated", tc.size, n)
		}
		// Only the error is allocated, far less than a payload buffer
		// even at the smallest frame_max.
		br := bytes.NewReader(hdr)
		bufr := bufio.NewReaderSize(br, 16)
		fr = NewFrameReader(bufr, frameMax)
		const runs = 100
		runtime.ReadMemStats(&before)
		for range runs {
			br.Reset(hdr)
			bufr.Reset(br)
			if _, err := fr.ReadFrame(); err == nil {
				t.Fatal("no error")
			}
		}
		runtime.ReadMemStats(&after)
		if n := (after.TotalAlloc - before.TotalAlloc) / runs; n > 1024 || cap(fr.buf) != 0 {
			t.Errorf("size %d: %d bytes allocated per frame, buffer of %d bytes", tc.size, n, cap(fr.buf))
		}
	}
	// SetFrameMax raises the limit; below the minimum it means the minimum.
	fr := NewFrameReader(bufio.NewReader(bytes.NewReader(nil)), 0)
	if fr.FrameMax() != FrameMinSize {
		t.Errorf("FrameMax() = %d", fr.FrameMax())
	}
	fr.SetFrameMax(100)
	if fr.FrameMax() != FrameMinSize {
		t.Errorf("FrameMax() = %d after SetFrameMax(100)", fr.FrameMax())
	}
	fr.SetFrameMax(1 << 17)
	if fr.FrameMax() != 1<<17 {
		t.Errorf("FrameMax() = %d", fr.FrameMax())
	}
}

func TestUnknownClassAndMethod(t *testing.T) {
	_, err := DecodeMethod(wire(t, `0063 0001`))
	e := asError(t, err, CommandInvalid)
	if e.ClassID != 99 || e.MethodID != 1 || !strings.Contains(e.Text, "99") || !e.Hard() {
		t.Errorf("unknown class: %+v", e)
	}
	if !strings.Contains(e.Error(), "99.1") {
		t.Errorf("Error() = %q", e.Error())
	}
	_, err = DecodeMethod(wire(t, `003c 00ff 00`))
	e = asError(t, err, NotImplemented)
	if e.ClassID != 60 || e.MethodID != 255 || !strings.Contains(e.Text, "basic") || !strings.Contains(e.Text, "255") {
		t.Errorf("unknown method: %+v", e)
	}
	if !strings.Contains(e.Error(), "basic.255") {
		t.Errorf("Error() = %q", e.Error())
	}
	for _, n := range []int{0, 1, 3} {
		_, err := DecodeMethod(make([]byte, n))
		asError(t, err, FrameError)
	}
}

func TestShortStrTooLong(t *testing.T) {
	long := strings.Repeat("x", 256)
	for _, m := range []Method{
		&QueueDeclare{Queue: long},
		&BasicPublish{RoutingKey: long},
		&ExchangeDeclare{Exchange: "e", Type: long, Arguments: Table{"a": "b"}},
		&ConnectionStartOk{Mechanism: "PLAIN", Locale: long},
		&ChannelClose{ReplyText: long},
		&BasicDeliver{ConsumerTag: long, Exchange: "e"},
	} {
		if b, err := m.AppendArgs([]byte("p")); err == nil || string(b) != "p" {
			t.Errorf("%s: AppendArgs = %q, %v", m.Name(), b, err)
		}
		if b, err := AppendMethodFrame([]byte("p"), 1, m); err == nil || string(b) != "p" {
			t.Errorf("%s: AppendMethodFrame = %q, %v", m.Name(), b, err)
		}
		if b, err := AppendMethod([]byte("p"), m); err == nil || string(b) != "p" {
			t.Errorf("%s: AppendMethod = %q, %v", m.Name(), b, err)
		}
	}
	// Each of the 11 shortstr properties.
	for _, set := range []func(*Properties){
		func(p *Properties) { p.ContentType = long },
		func(p *Properties) { p.ContentEncoding = long },
		func(p *Properties) { p.CorrelationID = long },
		func(p *Properties) { p.ReplyTo = long },
		func(p *Properties) { p.Expiration = long },
		func(p *Properties) { p.MessageID = long },
		func(p *Properties) { p.Type = long },
		func(p *Properties) { p.UserID = long },
		func(p *Properties) { p.AppID = long },
		func(p *Properties) { p.ClusterID = long },
		func(p *Properties) { p.Headers = Table{long: true} },
	} {
		p := Properties{ContentType: "a", Headers: Table{"h": int32(1)}, Priority: 1, AppID: "z"}
		set(&p)
		if b, err := AppendProperties([]byte("p"), &p); err == nil || string(b) != "p" {
			t.Errorf("AppendProperties(%+v) = %q, %v", p, b, err)
		}
		if b, err := AppendHeaderFrame([]byte("p"), 1, ClassBasic, 0, &p); err == nil || string(b) != "p" {
			t.Errorf("AppendHeaderFrame = %q, %v", b, err)
		}
	}
}

func TestTrailingBytes(t *testing.T) {
	for _, g := range goldenMethods {
		raw := wire(t, g.hex)
		payload := append(bytes.Clone(raw[7:len(raw)-1]), 0)
		_, err := DecodeMethod(payload)
		e := asError(t, err, SyntaxError)
		if !strings.Contains(e.Text, "trailing") || e.ClassID != ClassOf(g.want.ID()) || e.MethodID != MethodOf(g.want.ID()) {
			t.Errorf("%s: %+v", g.name, e)
		}
	}
	for _, g := range goldenHeaders {
		raw := wire(t, g.hex)
		payload := append(bytes.Clone(raw[7:len(raw)-1]), 0)
		_, err := DecodeContentHeader(payload)
		asError(t, err, FrameError)
		if _, err := DecodeProperties(payload[12:]); err == nil {
			t.Errorf("%s: DecodeProperties accepted a trailing byte", g.name)
		}
	}
}

func TestDeclaredLengthPastFrame(t *testing.T) {
	for _, tc := range []struct {
		name string
		hex  string
	}{
		{"start-ok response longstr", `000a 000b 00000000 05 "PLAIN" ffffffff 00`},
		{"start-ok response one too long", `000a 000b 00000000 05 "PLAIN" 00000002 00 05 "en_US"`},
		{"start mechanisms longstr", `000a 000a 00 09 00000000 7fffffff`},
		{"queue.declare arguments table", `0032 000a 0000 01 "q" 00 7fffffff 00`},
		{"queue.declare arguments one too long", `0032 000a 0000 01 "q" 00 00000001`},
		{"start-ok client-properties", `000a 000b fffffff0`},
		{"shortstr past the end", `003c 0028 0000 ff "logs"`},
		{"channel.open-ok reserved longstr", `0014 000b 00000010`},
	} {
		payload := wire(t, tc.hex)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := DecodeMethod(payload)
		runtime.ReadMemStats(&after)
		asError(t, err, SyntaxError)
		if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
			t.Errorf("%s: %d bytes allocated", tc.name, n)
		}
	}
	// Headers whose table claims more than the header holds.
	_, err := DecodeContentHeader(wire(t, `003c 0000 0000000000000000 2000 7fffffff`))
	asError(t, err, FrameError)
}

func TestHeaderWeightMustBeZero(t *testing.T) {
	payload := wire(t, `003c 0001 0000000000000000 0000`)
	_, err := DecodeContentHeader(payload)
	asError(t, err, FrameError)
	_, _, _, err = SplitContentHeader(payload)
	asError(t, err, FrameError)
}

func TestPropertyFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		hex  string
	}{
		{"bit 1 set", `0002`},
		{"continuation word with bits", `0001 8000 00`},
		{"continuation word missing", `0001`},
		{"second continuation word with bits", `0001 0001 0004`},
	} {
		if _, err := DecodeProperties(wire(t, tc.hex)); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	// Several empty continuation words are accepted and dropped.
	p, err := DecodeProperties(wire(t, `8001 0001 0000 01 "x"`))
	if err != nil || p.ContentType != "x" || p.Flags != FlagContentType {
		t.Errorf("DecodeProperties = %+v, %v", p, err)
	}
}

func TestProtocolHeader(t *testing.T) {
	if err := ReadProtocolHeader(strings.NewReader(ProtocolHeader)); err != nil {
		t.Fatalf("valid header: %v", err)
	}
	for _, h := range []string{
		"AMQP\x00\x00\x09\x00",
		"AMQP\x01\x01\x00\x09", // 0-9 (pre 0-9-1)
		"AMQP\x00\x01\x00\x00", // 1-0
		"AMQP\x03\x01\x00\x0a",
		"GET / HT",
		"amqp\x00\x00\x09\x01",
	} {
		err := ReadProtocolHeader(strings.NewReader(h))
		if !errors.Is(err, ErrBadProtocolHeader) {
			t.Errorf("%q: err %v, want ErrBadProtocolHeader", h, err)
		}
	}
	if err := ReadProtocolHeader(strings.NewReader("AMQP")); err != io.ErrUnexpectedEOF {
		t.Errorf("short header: %v", err)
	}
	if err := ReadProtocolHeader(strings.NewReader("")); err != io.EOF {
		t.Errorf("no header: %v", err)
	}
}

func TestErrorType(t *testing.T) {
	e := Errorf(NotFound, "no queue '%s' in vhost '%s'", "orders", "/")
	if e.Text != "NOT_FOUND - no queue 'orders' in vhost '/'" || e.Hard() {
		t.Errorf("Errorf = %+v", e)
	}
	on := e.On(QueueDeclareID)
	if on.ClassID != 50 || on.MethodID != 10 || e.ClassID != 0 {
		t.Errorf("On = %+v (original %+v)", on, e)
	}
	if got := on.Error(); got != "amqp 404: NOT_FOUND - no queue 'orders' in vhost '/' (queue.declare)" {
		t.Errorf("Error() = %q", got)
	}
	if got := e.Error(); got != "amqp 404: NOT_FOUND - no queue 'orders' in vhost '/'" {
		t.Errorf("Error() = %q", got)
	}
	hard := map[ReplyCode]bool{
		ReplySuccess: false, ContentTooLarge: false, NoRoute: false, NoConsumers: false, AccessRefused: false,
		NotFound: false, ResourceLocked: false, PreconditionFailed: false,
		ConnectionForced: true, InvalidPath: true, FrameError: true, SyntaxError: true, CommandInvalid: true,
		ChannelError: true, UnexpectedFrame: true, ResourceError: true, NotAllowed: true, NotImplemented: true,
		InternalError: true,
	}
	for c, h := range hard {
		if c.IsHard() != h || strings.HasPrefix(c.String(), "REPLY_") {
			t.Errorf("%d: IsHard %t String %q", c, c.IsHard(), c)
		}
	}
	if NotFound.String() != "NOT_FOUND" || ReplySuccess.String() != "OK" || ReplyCode(999).String() != "REPLY_999" {
		t.Errorf("String: %v %v %v", NotFound, ReplySuccess, ReplyCode(999))
	}
	if MethodName(7, 8) != "7.8" || MethodName(60, 40) != "basic.publish" || MethodName(90, 99) != "tx.99" {
		t.Errorf("MethodName: %s %s %s", MethodName(7, 8), MethodName(60, 40), MethodName(90, 99))
	}
}

// A body frame read into the place BodyDst gives lands there whole; a
// bad frame end or a cut frame is still a FRAME_ERROR or
// io.ErrUnexpectedEOF; frames of other types, and bodies BodyDst refuses,
// use the reader's own buffer.
func TestBodyFrameReadInPlace(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), InPlaceMin/10+1)
	small := AppendFrame(nil, FrameBody, 3, body[:InPlaceMin-1]) // under InPlaceMin: not offered
	raw := AppendFrame(nil, FrameBody, 3, body)
	raw = AppendFrame(raw, FrameBody, 4, body) // refused by BodyDst below
	raw = AppendHeartbeat(raw)
	dst := make([]byte, len(body)+10)
	var asked []uint16
	fr := NewFrameReader(bufio.NewReader(bytes.NewReader(append(small, raw...))), 1<<20)
	fr.BodyDst = func(ch uint16, size int) []byte {
		asked = append(asked, ch)
		if ch != 3 || size != len(body) {
			return nil
		}
		return dst[5 : 5+size]
	}
	f, err := fr.ReadFrame()
	if err != nil || len(f.Payload) != InPlaceMin-1 {
		t.Fatalf("small body: frame %+v, err %v", f, err)
	}
	f, err = fr.ReadFrame()
	if err != nil || f.Channel != 3 || &f.Payload[0] != &dst[5] || string(dst[5:5+len(body)]) != string(body) {
		t.Fatalf("frame %+v, err %v: not read in place", f, err)
	}
	f, err = fr.ReadFrame()
	if err != nil || f.Channel != 4 || string(f.Payload) != string(body) || &f.Payload[0] == &dst[5] {
		t.Fatalf("refused body: frame %+v, err %v", f, err)
	}
	if f, err = fr.ReadFrame(); err != nil || f.Type != FrameHeartbeat {
		t.Fatalf("heartbeat: frame %+v, err %v", f, err)
	}
	if len(asked) != 2 {
		t.Fatalf("BodyDst asked for channels %v, want only the two body frames", asked)
	}

	bad := AppendFrame(nil, FrameBody, 3, body)
	bad[len(bad)-1] = 0
	fr = NewFrameReader(bufio.NewReader(bytes.NewReader(bad)), 1<<20)
	fr.BodyDst = func(uint16, int) []byte { return make([]byte, len(body)) }
	_, err = fr.ReadFrame()
	asError(t, err, FrameError)
	for cut := 8; cut < len(bad); cut++ {
		fr = NewFrameReader(bufio.NewReader(bytes.NewReader(raw[:cut])), 1<<20)
		fr.BodyDst = func(uint16, int) []byte { return make([]byte, len(body)) }
		if _, err := fr.ReadFrame(); err != io.ErrUnexpectedEOF {
			t.Fatalf("cut at %d: %v, want io.ErrUnexpectedEOF", cut, err)
		}
	}
}
