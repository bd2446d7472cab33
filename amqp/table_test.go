package amqp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestTableRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	for range 500 {
		want := randTable(rng, 6)
		b, err := AppendTable(nil, want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeTable(b)
		if err != nil {
			t.Fatalf("DecodeTable: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip\n %#v\ngave\n %#v", want, got)
		}
	}
}

// TestTableEveryTypeNested puts a value of every field type at every level
// of tables and arrays nested several deep, alternating the two.
func TestTableEveryTypeNested(t *testing.T) {
	every := func() []any {
		return []any{true, int8(-1), uint8(200), int16(-300), uint16(60000), int32(-70000), uint32(4e9),
			int64(-5e18), float32(-0.25), 1e300, Decimal{Scale: 3, Value: 12345}, "string",
			[]byte{0, 0xff}, time.Unix(-1, 0).UTC(), nil, Table{}, []any{}}
	}
	var v any = Table{}
	for level := range 10 {
		vals := every()
		if level%2 == 0 {
			tab := Table{"inner": v}
			for i, x := range vals {
				tab[string(rune('a'+i))] = x
			}
			v = tab
		} else {
			v = append(vals, v)
		}
	}
	want := Table{"root": v}
	b, err := AppendTable(nil, want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeTable(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip differs")
	}
}

func TestTableSpecialValues(t *testing.T) {
	// NaN and the infinities survive bit for bit.
	for _, v := range []any{math.NaN(), math.Inf(1), math.Inf(-1), float32(math.NaN()), math.Copysign(0, -1)} {
		b, err := AppendTable(nil, Table{"v": v})
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeTable(b)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := AppendTable(nil, got)
		if !bytes.Equal(again, b) {
			t.Errorf("%v: %x re-encodes as %x", v, b, again)
		}
	}
	// Go types the decoder does not return are still accepted on encoding.
	for _, tc := range []struct {
		in   any
		want any
	}{
		{int(-7), int64(-7)},
		{map[string]any{"k": "v"}, Table{"k": "v"}},
		{time.Date(2024, 1, 2, 3, 4, 5, 999, time.FixedZone("x", 3600)), time.Date(2024, 1, 2, 2, 4, 5, 0, time.UTC)},
		{[]byte(nil), []byte{}},
	} {
		b, err := AppendTable(nil, Table{"v": tc.in})
		if err != nil {
			t.Fatalf("%T: %v", tc.in, err)
		}
		got, err := DecodeTable(b)
		if err != nil || !reflect.DeepEqual(got["v"], tc.want) {
			t.Errorf("%#v decodes as %#v (%v), want %#v", tc.in, got["v"], err, tc.want)
		}
	}
	// A nil table is written as an empty one.
	if b, err := AppendTable(nil, nil); err != nil || !bytes.Equal(b, []byte{0, 0, 0, 0}) {
		t.Errorf("AppendTable(nil) = %x, %v", b, err)
	}
}

// nested returns n levels of tables (kind 'F') or of arrays ('A') below a
// table: the outermost level is always a table, the innermost is empty.
func nested(n int, kind byte) Table {
	var v any
	for i := n; i >= 2; i-- {
		switch {
		case kind == 'F' && v == nil:
			v = Table{}
		case kind == 'F':
			v = Table{"n": v}
		case v == nil:
			v = []any{}
		default:
			v = []any{v}
		}
	}
	if v == nil {
		return Table{}
	}
	return Table{"n": v}
}

// nestedWire writes the wire form of nested(n, kind) directly, without the
// encoder (which refuses more than MaxTableDepth levels).
func nestedWire(n int, kind byte) []byte {
	body := []byte{0, 0, 0, 0} // the innermost level, empty
	for i := n - 1; i >= 1; i-- {
		var content []byte
		if i == 1 || kind == 'F' {
			content = append(content, 1, 'n') // level i is a table
		}
		content = append(content, kind)
		content = append(content, body...)
		body = append(binary.BigEndian.AppendUint32(nil, uint32(len(content))), content...)
	}
	return body
}

func TestTableDepth(t *testing.T) {
	for _, kind := range []byte{'F', 'A'} {
		t.Run(string(kind), func(t *testing.T) {
			depth := func(v any) int {
				n := 0
				for v != nil {
					n++
					switch x := v.(type) {
					case Table:
						v = x["n"]
					case []any:
						if len(x) == 0 {
							v = nil
						} else {
							v = x[0]
						}
					}
				}
				return n
			}
			ok := nested(MaxTableDepth, kind)
			if d := depth(ok); d != MaxTableDepth {
				t.Fatalf("test helper: depth %d", d)
			}
			b, err := AppendTable(nil, ok)
			if err != nil {
				t.Fatalf("%d levels: %v", MaxTableDepth, err)
			}
			got, err := DecodeTable(b)
			if err != nil || !reflect.DeepEqual(got, ok) {
				t.Fatalf("%d levels: decode %v", MaxTableDepth, err)
			}

			tooDeep := nested(MaxTableDepth+1, kind)
			if b, err := AppendTable([]byte("x"), tooDeep); !errors.Is(err, errTooDeep) || string(b) != "x" {
				t.Fatalf("%d levels: AppendTable = %q, %v; want errTooDeep and b unchanged", MaxTableDepth+1, b, err)
			}
			if want := nestedWire(MaxTableDepth, kind); !bytes.Equal(b, want) {
				t.Fatalf("%d levels: encoded\n %x\nwant\n %x", MaxTableDepth, b, want)
			}
			deeper := nestedWire(MaxTableDepth+1, kind)
			if _, err := DecodeTable(deeper); !errors.Is(err, errTooDeep) {
				t.Fatalf("%d levels: DecodeTable err %v", MaxTableDepth+1, err)
			}
			// The same inside a method and a content header.
			m := append([]byte{0, 50, 0, 10, 0, 0, 1, 'q', 0}, deeper...)
			if _, err := DecodeMethod(m); err == nil || !strings.Contains(err.Error(), "deeper") {
				t.Fatalf("queue.declare: err %v", err)
			}
			if _, err := DecodeProperties(append([]byte{0x20, 0}, deeper...)); err == nil {
				t.Fatal("properties: no error")
			}
		})
	}
}

// TestTableHostileDepth decodes arrays nested a million deep: the depth
// bound stops the recursion long before the stack would.
func TestTableHostileDepth(t *testing.T) {
	const n = 1 << 20
	b := make([]byte, 0, 4+5*n)
	b = binary.BigEndian.AppendUint32(b, uint32(2+5*n))
	b = append(b, 1, 'n')
	for i := n - 1; i >= 0; i-- {
		b = append(b, 'A')
		b = binary.BigEndian.AppendUint32(b, uint32(5*i))
	}
	if _, err := DecodeTable(b); !errors.Is(err, errTooDeep) {
		t.Fatalf("err %v, want errTooDeep", err)
	}
}

func TestTableUnsupportedTypes(t *testing.T) {
	for _, v := range []any{
		uint(1), uint64(1), int8ptr(), struct{}{}, []string{"a"}, map[string]string{"a": "b"},
		[]int{1}, make(chan int), complex(1, 2), &Table{}, []Table{{}},
	} {
		for _, tab := range []Table{
			{"k": v},
			{"a": "ok", "k": []any{int32(1), v}},
			{"k": Table{"deeper": []any{Table{"x": v}}}},
		} {
			b, err := AppendTable([]byte("prefix"), tab)
			if !errors.Is(err, errUnsupported) {
				t.Errorf("%T: err %v, want errUnsupported", v, err)
			}
			if string(b) != "prefix" {
				t.Errorf("%T: AppendTable appended %q on error", v, b)
			}
		}
	}
	// The error names the key.
	_, err := AppendTable(nil, Table{"bad-key": uint(1)})
	if err == nil || !strings.Contains(err.Error(), "bad-key") || !strings.Contains(err.Error(), "uint") {
		t.Errorf("err %v, want it to name the key and type", err)
	}
	// A key longer than a shortstr.
	if _, err := AppendTable(nil, Table{strings.Repeat("k", 256): true}); err == nil {
		t.Error("256-byte key accepted")
	}
	if _, err := AppendTable(nil, Table{strings.Repeat("k", 255): true}); err != nil {
		t.Errorf("255-byte key refused: %v", err)
	}
	// A method with such arguments appends nothing.
	m := &QueueDeclare{Queue: "q", Arguments: Table{"x": uint(1)}}
	if b, err := AppendMethodFrame([]byte("p"), 1, m); err == nil || string(b) != "p" {
		t.Errorf("AppendMethodFrame = %q, %v", b, err)
	}
	if b, err := AppendMethod([]byte("p"), m); err == nil || string(b) != "p" || !strings.Contains(err.Error(), "arguments") {
		t.Errorf("AppendMethod = %q, %v", b, err)
	}
	if b, err := m.AppendArgs([]byte("p")); err == nil || string(b) != "p" {
		t.Errorf("AppendArgs = %q, %v", b, err)
	}
	p := &Properties{ContentType: "x", Headers: Table{"x": uint(1)}}
	if b, err := AppendHeaderFrame([]byte("p"), 1, ClassBasic, 0, p); err == nil || string(b) != "p" {
		t.Errorf("AppendHeaderFrame = %q, %v", b, err)
	}
}

func int8ptr() *int8 { return new(int8) }

func TestDecodeTableErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		hex  string
	}{
		{"empty input", ``},
		{"short length", `000000`},
		{"length past the end", `00000005 01 "a" 74`},
		{"huge length", `ffffffff 01 "a" 74 01`},
		{"trailing bytes", `00000000 00`},
		{"key past the end", `00000002 05 "a"`},
		{"value missing", `00000002 01 "a"`},
		{"unknown type", `00000003 01 "a" 5a`},
		{"lowercase array type", `00000007 01 "a" 61 00000000`},
		{"long string past the table", `00000008 01 "a" 53 00000001`},
		{"long string length huge", `00000009 01 "a" 53 ffffffff 00`},
		{"byte array past the table", `00000008 01 "a" 78 00000010`},
		{"inner table past the outer", `00000008 01 "a" 46 00000010 00`},
		{"inner array past the outer", `00000008 01 "a" 41 7fffffff`},
		{"truncated int64", `00000007 01 "a" 6c 00000000`},
		{"truncated decimal", `00000004 01 "a" 44 02`},
		{"truncated timestamp", `00000007 01 "a" 54 00000000`},
		{"bad value in array", `00000009 01 "a" 41 00000002 74`},
	} {
		b := wire(t, tc.hex)
		if got, err := DecodeTable(b); err == nil {
			t.Errorf("%s: decoded %v", tc.name, got)
		}
	}
}
