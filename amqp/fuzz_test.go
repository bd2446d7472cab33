package amqp

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The seed corpora under testdata/fuzz are written from the golden frames
// by `go test -run TestFuzzSeeds ./amqp -write-seeds`.
var writeSeeds = flag.Bool("write-seeds", false, "rewrite the fuzz seed corpora in testdata/fuzz")

// twoHalves returns the first half of its input, then the second, as a
// network might split it.
type twoHalves struct{ parts [][]byte }

func (r *twoHalves) Read(p []byte) (int, error) {
	for len(r.parts) > 0 && len(r.parts[0]) == 0 {
		r.parts = r.parts[1:]
	}
	if len(r.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.parts[0])
	r.parts[0] = r.parts[0][n:]
	return n, nil
}

const fuzzFrameMax = 4096

// FuzzReadFrame reads frames from arbitrary bytes delivered in two halves:
// it never panics, never buffers more than frame_max, returns only frames
// within frame_max that re-encode to the bytes they were read from, and
// fails only with an I/O error or a FRAME_ERROR. Frames are then decoded by
// type and must re-encode stably.
func FuzzReadFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var first []byte
		for _, size := range []int{16, 4096} {
			half := len(data) / 2
			fr := NewFrameReader(bufio.NewReaderSize(&twoHalves{parts: [][]byte{data[:half], data[half:]}}, size), fuzzFrameMax)
			var got []byte
			for {
				fm, err := fr.ReadFrame()
				if cap(fr.buf) > fuzzFrameMax {
					t.Fatalf("frame buffer of %d bytes, frame_max %d", cap(fr.buf), fuzzFrameMax)
				}
				if err != nil {
					var e *Error
					if err != io.EOF && err != io.ErrUnexpectedEOF && !(errors.As(err, &e) && e.Code == FrameError) {
						t.Fatalf("unexpected error %v", err)
					}
					break
				}
				if len(fm.Payload)+FrameOverhead > fuzzFrameMax {
					t.Fatalf("frame of %d bytes", len(fm.Payload)+FrameOverhead)
				}
				got = AppendFrame(got, fm.Type, fm.Channel, fm.Payload)
				checkFramePayload(t, fm)
			}
			if !bytes.HasPrefix(data, got) {
				t.Fatalf("frames re-encode as\n %x\nnot a prefix of the input\n %x", got, data)
			}
			if size == 16 {
				first = got
			} else if !bytes.Equal(got, first) {
				t.Fatalf("buffer sizes disagree:\n %x\n %x", first, got)
			}
		}
	})
}

func checkFramePayload(t *testing.T, fm Frame) {
	switch fm.Type {
	case FrameMethod:
		checkMethodStable(t, fm.Payload)
	case FrameHeader:
		h, err := DecodeContentHeader(fm.Payload)
		class, size, raw, splitErr := SplitContentHeader(fm.Payload)
		if splitErr == nil {
			checkScanProperties(t, raw)
		}
		if err != nil {
			asFuzzError(t, err, FrameError)
			return
		}
		if splitErr != nil || class != h.ClassID || size != h.BodySize {
			t.Fatalf("SplitContentHeader = %d %d %v, DecodeContentHeader %+v", class, size, splitErr, h)
		}
		if out := AppendRawHeaderFrame(nil, fm.Channel, class, size, raw); !bytes.Equal(out[7:len(out)-1], fm.Payload) {
			t.Fatalf("AppendRawHeaderFrame changed the header")
		}
		enc1, err := AppendHeaderFrame(nil, fm.Channel, h.ClassID, h.BodySize, &h.Properties)
		if err != nil {
			t.Fatalf("a decoded header does not encode: %v", err)
		}
		h2, err := DecodeContentHeader(enc1[7 : len(enc1)-1])
		if err != nil {
			t.Fatalf("re-encoded header does not decode: %v\n%x", err, enc1)
		}
		enc2, err := AppendHeaderFrame(nil, fm.Channel, h2.ClassID, h2.BodySize, &h2.Properties)
		if err != nil || !bytes.Equal(enc1, enc2) {
			t.Fatalf("header re-encoding unstable:\n %x\n %x", enc1, enc2)
		}
	}
}

// checkScanProperties checks that ScanProperties accepts exactly what
// DecodeProperties accepts and summarises it faithfully.
func checkScanProperties(t *testing.T, raw []byte) {
	t.Helper()
	s, scanErr := ScanProperties(raw)
	p, decErr := DecodeProperties(raw)
	if (scanErr == nil) != (decErr == nil) {
		t.Fatalf("ScanProperties err %v, DecodeProperties err %v on %x", scanErr, decErr, raw)
	}
	if scanErr != nil {
		asFuzzError(t, scanErr, FrameError)
		return
	}
	str := func(b []byte, flag uint16) string {
		if (b != nil) != (p.Flags&flag != 0) {
			t.Fatalf("flag %#04x set %t, summary %q", flag, p.Flags&flag != 0, b)
		}
		return string(b)
	}
	if s.DeliveryMode != p.DeliveryMode || s.Priority != p.Priority || s.HasPriority != (p.Flags&FlagPriority != 0) ||
		str(s.Expiration, FlagExpiration) != p.Expiration || str(s.UserID, FlagUserID) != p.UserID {
		t.Fatalf("ScanProperties %+v, DecodeProperties %+v", s, p)
	}
	if (s.Headers != nil) != (p.Flags&FlagHeaders != 0) {
		t.Fatalf("headers flag %t, summary %x", p.Flags&FlagHeaders != 0, s.Headers)
	}
	if s.Headers != nil {
		tab, err := DecodeTable(s.Headers)
		want, _ := AppendTable(nil, p.Headers)
		got, _ := AppendTable(nil, tab)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("summary headers %x (%v), decoded %x", got, err, want)
		}
	}
}

func asFuzzError(t *testing.T, err error, codes ...ReplyCode) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err %v (%T), want *Error", err, err)
	}
	for _, c := range codes {
		if e.Code == c {
			return
		}
	}
	t.Fatalf("err %v, want one of codes %v", e, codes)
}

// checkMethodStable decodes a method payload and, if it is valid, checks
// that decode, encode, decode, encode gives the same bytes twice. The
// re-encodings are compared, not the values: NaN floats are not DeepEqual.
func checkMethodStable(t *testing.T, payload []byte) {
	m, err := DecodeMethod(payload)
	if err != nil {
		asFuzzError(t, err, FrameError, SyntaxError, CommandInvalid, NotImplemented)
		return
	}
	_ = m.String()
	enc1, err := AppendMethod(nil, m)
	if err != nil {
		t.Fatalf("decoded %s does not encode: %v", m.Name(), err)
	}
	m2, err := DecodeMethod(enc1)
	if err != nil {
		t.Fatalf("re-encoded %s does not decode: %v\n%x", m.Name(), err, enc1)
	}
	enc2, err := AppendMethod(nil, m2)
	if err != nil || !bytes.Equal(enc1, enc2) {
		t.Fatalf("%s re-encoding unstable:\n %x\n %x", m.Name(), enc1, enc2)
	}
	if len(enc1) > len(payload) {
		t.Fatalf("%s re-encodes longer (%d) than its input (%d)", m.Name(), len(enc1), len(payload))
	}
}

func FuzzDecodeMethod(f *testing.F) {
	f.Fuzz(func(t *testing.T, payload []byte) {
		checkMethodStable(t, payload)
	})
}

func FuzzTable(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := DecodeTable(data)
		if err != nil {
			return
		}
		enc1, err := AppendTable(nil, tab)
		if err != nil {
			t.Fatalf("a decoded table does not encode: %v", err)
		}
		tab2, err := DecodeTable(enc1)
		if err != nil {
			t.Fatalf("re-encoded table does not decode: %v\n%x", err, enc1)
		}
		enc2, err := AppendTable(nil, tab2)
		if err != nil || !bytes.Equal(enc1, enc2) {
			t.Fatalf("table re-encoding unstable:\n %x\n %x", enc1, enc2)
		}
		if len(enc1) > len(data) {
			t.Fatalf("table re-encodes longer (%d) than its input (%d)", len(enc1), len(data))
		}
	})
}

// seeds returns the seed inputs of each fuzz target, named, all built from
// valid frames.
func seeds(tb testing.TB) map[string]map[string][]byte {
	s := map[string]map[string][]byte{"FuzzReadFrame": {}, "FuzzDecodeMethod": {}, "FuzzTable": {}}
	for _, g := range goldenMethods {
		raw := wire(tb, g.hex)
		s["FuzzReadFrame"]["golden-"+g.name] = raw
		s["FuzzDecodeMethod"]["golden-"+g.name] = raw[7 : len(raw)-1]
	}
	for i, g := range goldenHeaders {
		s["FuzzReadFrame"][fmt.Sprintf("golden-header-%d", i)] = wire(tb, g.hex)
	}
	for i, h := range goldenOther {
		s["FuzzReadFrame"][fmt.Sprintf("golden-other-%d", i)] = wire(tb, h)
	}
	// A whole publish: method, header and a body over two frames.
	var pub []byte
	pub = append(pub, wire(tb, goldenMethodNamed(tb, "basic.publish").hex)...)
	pub = append(pub, wire(tb, goldenHeaders[0].hex)...)
	pub = AppendBodyFrames(pub, 1, []byte("hello world"), 14)
	pub = AppendHeartbeat(pub)
	s["FuzzReadFrame"]["publish-sequence"] = pub

	// Every method, once with random values.
	rng := rand.New(rand.NewPCG(1, 1))
	for _, id := range allMethodIDs() {
		m := newMethod(id)
		fill(tb, rng, reflect.ValueOf(m).Elem(), 2)
		for _, v := range reflect.ValueOf(m).Elem().Fields() { // keep seeds small
			switch x := v.Interface().(type) {
			case Table:
				v.Set(reflect.ValueOf(randTable(rng, 2)))
			case string:
				v.SetString(x[:min(len(x), 16)])
			}
		}
		b, err := AppendMethod(nil, m)
		if err != nil {
			tb.Fatal(err)
		}
		s["FuzzDecodeMethod"]["random-"+m.Name()] = b
	}

	s["FuzzTable"]["golden-every-type"] = wire(tb, goldenTableHex)
	s["FuzzTable"]["empty"] = []byte{0, 0, 0, 0}
	for _, n := range []int{3, MaxTableDepth} {
		for _, kind := range []byte{'F', 'A'} {
			s["FuzzTable"][fmt.Sprintf("nested-%c-%d", kind, n)] = nestedWire(n, kind)
		}
	}
	for _, name := range []string{"connection.start", "exchange.declare", "queue.declare"} {
		g := goldenMethodNamed(tb, name)
		for _, v := range reflect.ValueOf(g.want).Elem().Fields() {
			if tab, ok := v.Interface().(Table); ok {
				b, err := AppendTable(nil, tab)
				if err != nil {
					tb.Fatal(err)
				}
				s["FuzzTable"]["golden-"+name] = b
			}
		}
	}
	return s
}

func goldenMethodNamed(tb testing.TB, name string) goldenMethod {
	for _, g := range goldenMethods {
		if g.name == name {
			return g
		}
	}
	tb.Fatalf("no golden %s", name)
	return goldenMethod{}
}

// TestFuzzSeeds checks that the committed corpora hold every seed, or with
// -write-seeds writes them.
func TestFuzzSeeds(t *testing.T) {
	for target, files := range seeds(t) {
		dir := filepath.Join("testdata", "fuzz", target)
		if *writeSeeds {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for name, data := range files {
			path := filepath.Join(dir, name)
			want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
			if *writeSeeds {
				if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != want {
				t.Errorf("%s is missing or stale (%v): go test -run TestFuzzSeeds ./amqp -write-seeds", path, err)
			}
		}
	}
}
