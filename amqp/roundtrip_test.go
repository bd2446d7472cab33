package amqp

import (
	"bytes"
	"encoding/xml"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// randString returns n random bytes, not necessarily UTF-8.
func randString(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return string(b)
}

// randTime returns a time with whole seconds in UTC, as decoding gives.
func randTime(rng *rand.Rand) time.Time {
	return time.Unix(int64(rng.Uint64()), 0).UTC()
}

// randValue returns a random field value of a type a table decodes to. It
// avoids NaN, which reflect.DeepEqual does not equate with itself.
func randValue(rng *rand.Rand, depth int) any {
	kinds := 17
	if depth <= 0 {
		kinds = 15 // no tables or arrays
	}
	switch rng.IntN(kinds) {
	case 0:
		return rng.IntN(2) == 1
	case 1:
		return int8(rng.Uint32())
	case 2:
		return uint8(rng.Uint32())
	case 3:
		return int16(rng.Uint32())
	case 4:
		return uint16(rng.Uint32())
	case 5:
		return int32(rng.Uint32())
	case 6:
		return rng.Uint32()
	case 7:
		return int64(rng.Uint64())
	case 8:
		return float32(rng.NormFloat64())
	case 9:
		return rng.NormFloat64() * 1e100
	case 10:
		return Decimal{Scale: uint8(rng.Uint32()), Value: int32(rng.Uint32())}
	case 11:
		return randString(rng, rng.IntN(300))
	case 12:
		return []byte(randString(rng, rng.IntN(20)))
	case 13:
		return randTime(rng)
	case 14:
		return nil
	case 15:
		return randTable(rng, depth-1)
	default:
		a := make([]any, rng.IntN(5))
		for i := range a {
			a[i] = randValue(rng, depth-1)
		}
		return a
	}
}

// randTable returns a random table (never nil: an empty table decodes as
// Table{}) nesting tables and arrays up to depth levels below it.
func randTable(rng *rand.Rand, depth int) Table {
	t := Table{}
	for range rng.IntN(6) {
		t[randString(rng, rng.IntN(256))] = randValue(rng, depth)
	}
	return t
}

// fill sets every exported field of the struct v: random values, or the
// zero value (mode 0) or the largest value (mode 1) of each type.
func fill(tb testing.TB, rng *rand.Rand, v reflect.Value, mode int) {
	tb.Helper()
	for i := range v.NumField() {
		f := v.Field(i)
		if !f.CanSet() {
			continue
		}
		switch f.Interface().(type) {
		case bool:
			f.SetBool(mode == 1 || (mode > 1 && rng.IntN(2) == 1))
		case uint8, uint16, uint32, uint64, ReplyCode:
			switch mode {
			case 0:
				f.SetUint(0)
			case 1:
				f.SetUint(math.MaxUint64) // truncated to the field's size
			default:
				f.SetUint(rng.Uint64())
			}
		case string:
			// 255 bytes fit both shortstr and longstr fields.
			switch mode {
			case 0:
				f.SetString("")
			case 1:
				f.SetString(strings.Repeat("\xff", 255))
			default:
				f.SetString(randString(rng, rng.IntN(256)))
			}
		case Table:
			if mode == 0 {
				f.Set(reflect.ValueOf(Table{}))
			} else {
				f.Set(reflect.ValueOf(randTable(rng, 4)))
			}
		case time.Time:
			f.Set(reflect.ValueOf(randTime(rng)))
		default:
			tb.Fatalf("fill: field %s of type %s", v.Type().Field(i).Name, f.Type())
		}
	}
}

// allMethodIDs returns every id newMethod knows, found by trying all class
// and method ids the specification could use.
func allMethodIDs() []uint32 {
	var ids []uint32
	for c := range uint32(256) {
		for m := range uint32(256) {
			if newMethod(c<<16|m) != nil {
				ids = append(ids, c<<16|m)
			}
		}
	}
	return ids
}

func TestMethodTablesAgree(t *testing.T) {
	ids := allMethodIDs()
	if want := slices.Sorted(maps.Keys(methodInfos)); !slices.Equal(ids, want) {
		t.Fatalf("newMethod knows %d ids, methodInfos %d", len(ids), len(want))
	}
	responses := map[uint32]bool{}
	for _, mi := range methodInfos {
		for _, r := range mi.Responses {
			responses[r] = true
		}
	}
	for _, id := range ids {
		m := newMethod(id)
		mi, ok := LookupMethod(id)
		if !ok || m.ID() != id || m.Name() != mi.Name || m.Synchronous() != mi.Synchronous || m.HasContent() != mi.Content {
			t.Errorf("%#x: method %s (id %#x sync %t content %t) disagrees with %+v", id, m.Name(), m.ID(), m.Synchronous(), m.HasContent(), mi)
		}
		if got := MethodName(ClassOf(id), MethodOf(id)); got != mi.Name {
			t.Errorf("MethodName(%#x) = %q", id, got)
		}
		if _, ok := classNames[ClassOf(id)]; !ok || !strings.HasPrefix(mi.Name, classNames[ClassOf(id)]+".") {
			t.Errorf("%s: class %d not named", mi.Name, ClassOf(id))
		}
		// A method with a response is synchronous; its responses are in
		// its class (the responses themselves need not be: channel.flow-ok).
		for _, r := range mi.Responses {
			if _, ok := LookupMethod(r); !ok || ClassOf(r) != ClassOf(id) || !mi.Synchronous {
				t.Errorf("%s: response %#x", mi.Name, r)
			}
		}
		// A request (not a response, not content) is synchronous exactly
		// when it names a response: basic.recover is, once amqpgen's
		// override fills in what the XML leaves out.
		if responses[id] || mi.Content {
			continue
		}
		if mi.Synchronous != (len(mi.Responses) > 0) {
			t.Errorf("%s: synchronous %t with responses %v", mi.Name, mi.Synchronous, mi.Responses)
		}
		if s := m.String(); !strings.HasPrefix(s, mi.Name) {
			t.Errorf("String() = %q, want it to start with %q", s, mi.Name)
		}
	}
}

// TestMethodRoundTripRandom encodes every method with zero, largest and
// random field values and decodes it back.
func TestMethodRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(0x3a, 0x91))
	covered := 0
	for _, id := range allMethodIDs() {
		for mode := range 40 {
			m := newMethod(id)
			fill(t, rng, reflect.ValueOf(m).Elem(), mode)
			b, err := AppendMethod(nil, m)
			if err != nil {
				t.Fatalf("%s: AppendMethod: %v", m.Name(), err)
			}
			got, err := DecodeMethod(b)
			if err != nil {
				t.Fatalf("%s: DecodeMethod: %v\n%x", m.Name(), err, b)
			}
			if !reflect.DeepEqual(got, m) {
				t.Fatalf("%s: round trip\n %v\ngave\n %v", m.Name(), m, got)
			}
			frame, err := AppendMethodFrame(nil, 9, m)
			if err != nil || !bytes.Equal(frame[7:len(frame)-1], b) {
				t.Fatalf("%s: AppendMethodFrame = %x, %v", m.Name(), frame, err)
			}
		}
		covered++
	}
	if covered != len(methodInfos) || covered == 0 {
		t.Fatalf("covered %d methods, methodInfos has %d", covered, len(methodInfos))
	}
}

// TestMethodFieldsMatchSpec reads the specification XML independently of
// tools/amqpgen and checks every method's id, name and arguments: the Go
// field for each non-reserved argument, and the wire type behind it (a
// shortstr refuses 256 bytes, a longstr takes them; a bit packs into an
// octet with its neighbours).
func TestMethodFieldsMatchSpec(t *testing.T) {
	raw, err := os.ReadFile("spec/amqp0-9-1.extended.xml")
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Domains []struct {
			Name string `xml:"name,attr"`
			Type string `xml:"type,attr"`
		} `xml:"domain"`
		Classes []struct {
			Name    string `xml:"name,attr"`
			Index   uint32 `xml:"index,attr"`
			Methods []struct {
				Name   string `xml:"name,attr"`
				Index  uint32 `xml:"index,attr"`
				Fields []struct {
					Name     string `xml:"name,attr"`
					Domain   string `xml:"domain,attr"`
					Type     string `xml:"type,attr"`
					Reserved string `xml:"reserved,attr"`
				} `xml:"field"`
			} `xml:"method"`
		} `xml:"class"`
	}
	if err := xml.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	domains := map[string]string{}
	for _, d := range spec.Domains {
		domains[d.Name] = d.Type
	}
	goTypes := map[string]reflect.Type{
		"bit": reflect.TypeFor[bool](), "octet": reflect.TypeFor[uint8](), "short": reflect.TypeFor[uint16](),
		"long": reflect.TypeFor[uint32](), "longlong": reflect.TypeFor[uint64](), "shortstr": reflect.TypeFor[string](),
		"longstr": reflect.TypeFor[string](), "table": reflect.TypeFor[Table](), "timestamp": reflect.TypeFor[time.Time](),
	}
	n := 0
	for _, c := range spec.Classes {
		for _, xm := range c.Methods {
			n++
			id := c.Index<<16 | xm.Index
			name := c.Name + "." + xm.Name
			m := newMethod(id)
			if m == nil || m.Name() != name {
				t.Errorf("%s: newMethod(%#x) = %v", name, id, m)
				continue
			}
			st := reflect.TypeOf(m).Elem()
			var goFields []string
			for i := range st.NumField() {
				goFields = append(goFields, st.Field(i).Name)
			}
			var specFields []string
			for _, xf := range xm.Fields {
				if xf.Reserved == "1" {
					continue
				}
				typ := xf.Type
				if typ == "" {
					typ = domains[xf.Domain]
				}
				goName := specGoName(xf.Name)
				specFields = append(specFields, goName)
				sf, ok := st.FieldByName(goName)
				if !ok {
					continue // reported below
				}
				want := goTypes[typ]
				if xf.Domain == "reply-code" {
					want = reflect.TypeFor[ReplyCode]()
				}
				if sf.Type != want {
					t.Errorf("%s.%s: Go type %s, spec type %s", name, xf.Name, sf.Type, typ)
				}
				if typ == "shortstr" || typ == "longstr" {
					v := newMethod(id)
					reflect.ValueOf(v).Elem().FieldByName(goName).SetString(strings.Repeat("a", 256))
					_, err := v.AppendArgs(nil)
					if (err != nil) != (typ == "shortstr") {
						t.Errorf("%s.%s (%s) with 256 bytes: AppendArgs error %v", name, xf.Name, typ, err)
					}
				}
			}
			if !slices.Equal(goFields, specFields) {
				t.Errorf("%s: Go fields %v, spec fields %v", name, goFields, specFields)
			}
		}
	}
	// tools/amqpgen adds connection.blocked, unblocked, update-secret and
	// update-secret-ok, which the XML lacks.
	if n+4 != len(methodInfos) {
		t.Errorf("the XML has %d methods, plus 4 added: want %d in methodInfos, have %d", n, n+4, len(methodInfos))
	}
}

// specGoName is the Go field name of an XML field name.
func specGoName(name string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(name, "-") {
		switch part {
		case "id":
			b.WriteString("ID")
		default:
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// TestBitPacking checks each bit's position in the octet against the spec
// order: the first bit is the least significant.
func TestBitPacking(t *testing.T) {
	for _, tc := range []struct {
		m    Method
		want byte
	}{
		{&QueueDeclare{Passive: true}, 0x01},
		{&QueueDeclare{Durable: true}, 0x02},
		{&QueueDeclare{Exclusive: true}, 0x04},
		{&QueueDeclare{AutoDelete: true}, 0x08},
		{&QueueDeclare{NoWait: true}, 0x10},
		{&ExchangeDeclare{Passive: true, Durable: true, AutoDelete: true, Internal: true, NoWait: true}, 0x1f},
		{&BasicConsume{NoLocal: true, NoWait: true}, 0x09},
		{&BasicNack{Multiple: true, Requeue: true}, 0x03},
		{&BasicPublish{Immediate: true}, 0x02},
	} {
		// The bits octet is the last byte before the arguments table, if
		// any (an empty table is 4 zero bytes).
		b, err := tc.m.AppendArgs(nil)
		if err != nil {
			t.Fatal(err)
		}
		i := len(b) - 1
		if _, ok := reflect.TypeOf(tc.m).Elem().FieldByName("Arguments"); ok {
			i -= 4
		}
		if b[i] != tc.want {
			t.Errorf("%v: bits %#02x, want %#02x", tc.m, b[i], tc.want)
		}
	}
}

func TestPropertiesRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for mode := range 200 {
		var p Properties
		fill(t, rng, reflect.ValueOf(&p).Elem(), mode)
		if mode > 1 {
			// Drop some properties; keep the flags of some zero ones.
			v := reflect.ValueOf(&p).Elem()
			for i := 1; i < v.NumField(); i++ {
				if rng.IntN(3) == 0 {
					v.Field(i).SetZero()
				}
			}
		}
		p.Flags = uint16(rng.Uint32()) &^ 0x0003 // bits 1 and 0 are not properties
		if mode == 1 {
			p.Flags = 0xfffc
		}
		b, err := AppendProperties(nil, &p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeProperties(b)
		if err != nil {
			t.Fatalf("DecodeProperties(%x): %v", b, err)
		}
		want := p
		want.Flags = p.presentFlags()
		if want.Flags&FlagHeaders != 0 && want.Headers == nil {
			want.Headers = Table{} // a flagged nil table is written empty
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip\n %+v\ngave\n %+v", want, got)
		}
		again, err := AppendProperties(nil, &got)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs: %x, %v\nwant %x", again, err, b)
		}

		h, err := AppendHeaderFrame(nil, 1, ClassBasic, rng.Uint64(), &p)
		if err != nil {
			t.Fatal(err)
		}
		ch, err := DecodeContentHeader(h[7 : len(h)-1])
		if err != nil || !reflect.DeepEqual(ch.Properties, want) {
			t.Fatalf("DecodeContentHeader: %+v, %v", ch, err)
		}
	}
}
