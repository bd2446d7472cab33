package binding

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// x-match modes of a headers binding.
type xMatch uint8

const (
	matchAll xMatch = iota
	matchAny
	matchAllWithX
	matchAnyWithX
)

// parseXMatch reads the x-match argument of a headers binding.
// rabbitmq: only a longstr "all", "any", "all-with-x" or "any-with-x" picks a
// mode; a missing or any other value means "all" (ValidateHeaders rejects
// the other values at bind time, but bindings made before validation existed
// still route as "all").
func parseXMatch(args map[string]any) xMatch {
	s, _ := args["x-match"].(string)
	switch s {
	case "any":
		return matchAny
	case "all-with-x":
		return matchAllWithX
	case "any-with-x":
		return matchAnyWithX
	}
	return matchAll
}

// MatchHeaders reports whether a message with the given headers matches a
// headers-exchange binding with the given arguments.
//
// rabbitmq (rabbit_exchange_type_headers, 3.10):
//   - x-match "all" (the default) needs every considered binding argument to
//     match; "any" needs at least one. So a binding with no considered
//     argument matches every message under "all" and none under "any".
//   - The argument "x-match" itself is never considered. Other arguments
//     whose name starts with "x-" are ignored under "all" and "any" and
//     considered under "all-with-x" and "any-with-x". Header names are never
//     filtered: only the binding side decides what is compared.
//   - An argument with a void value (nil) matches when the header is
//     present, whatever its value and type.
//   - Otherwise the header must be present and equal to the argument by
//     Erlang term equality (==), which ignores the AMQP field types at the
//     top level: see valuesEqual.
//
// MatchHeaders allocates nothing for the AMQP field types listed in
// valuesEqual.
func MatchHeaders(bindingArgs, headers map[string]any) bool {
	mode := parseXMatch(bindingArgs)
	all := mode == matchAll || mode == matchAllWithX
	withX := mode == matchAllWithX || mode == matchAnyWithX
	for k, want := range bindingArgs {
		if k == "x-match" {
			continue
		}
		if !withX && strings.HasPrefix(k, "x-") {
			continue
		}
		got, present := headers[k]
		ok := present && (want == nil || valuesEqual(want, got))
		if ok && !all {
			return true
		}
		if !ok && all {
			return false
		}
	}
	return all
}

// Headers is a headers-exchange binding's arguments compiled for matching:
// the x-match mode and the considered arguments, with their values already
// classified. Matching one is several times faster than MatchHeaders on the
// raw table, with the same result.
//
// A Headers is immutable and safe for concurrent use. It keeps the argument
// values, so the table it was compiled from must not be modified.
type Headers struct {
	all  bool
	args []headerArg
}

type headerArg struct {
	name string
	void bool
	want field
	str  string // the value when want.tag is tagLongstr
}

// CompileHeaders compiles the arguments of a headers-exchange binding.
// The rules are those of MatchHeaders.
func CompileHeaders(bindingArgs map[string]any) Headers {
	mode := parseXMatch(bindingArgs)
	withX := mode == matchAllWithX || mode == matchAnyWithX
	h := Headers{all: mode == matchAll || mode == matchAllWithX}
	for k, v := range bindingArgs {
		if k == "x-match" || !withX && strings.HasPrefix(k, "x-") {
			continue
		}
		a := headerArg{name: k, void: v == nil, want: classify(v)}
		if a.want.tag == tagLongstr {
			a.str = bytesOf(a.want)
		}
		h.args = append(h.args, a)
	}
	return h
}

// Match reports whether a message with the given headers matches.
// It allocates nothing.
func (h *Headers) Match(headers map[string]any) bool {
	for i := range h.args {
		a := &h.args[i]
		got, present := headers[a.name]
		ok := present
		if ok && !a.void {
			// fast path for the common string argument and header
			if s, isStr := got.(string); isStr && a.want.tag == tagLongstr {
				ok = s == a.str
			} else {
				ok = fieldsEqual(a.want, classify(got))
			}
		}
		if ok && !h.all {
			return true
		}
		if !ok && h.all {
			return false
		}
	}
	return h.all
}

// ErrInvalidXMatch is the sentinel of a headers binding whose x-match
// argument is not one of the four modes. Errors returned by ValidateHeaders
// wrap it and read like RabbitMQ's PRECONDITION_FAILED texts.
var ErrInvalidXMatch = errors.New("invalid x-match")

type xMatchError struct{ text string }

func (e *xMatchError) Error() string { return e.text }
func (e *xMatchError) Unwrap() error { return ErrInvalidXMatch }

// ValidateHeaders checks the arguments of a headers-exchange binding.
// rabbitmq: an absent x-match is fine; a present one must be the longstr
// "all", "any", "all-with-x" or "any-with-x". The broker answers anything
// else with 406 PRECONDITION_FAILED and the text of the returned error.
func ValidateHeaders(args map[string]any) error {
	v, ok := args["x-match"]
	if !ok {
		return nil
	}
	s, isStr := v.(string)
	if !isStr {
		return &xMatchError{fmt.Sprintf(
			"Invalid x-match field type %s (value %s); expected longstr",
			fieldType(v), erlangTerm(v))}
	}
	switch s {
	case "all", "any", "all-with-x", "any-with-x":
		return nil
	}
	return &xMatchError{fmt.Sprintf(
		"Invalid x-match field value %s; expected all, any, all-with-x, or any-with-x",
		erlangTerm(v))}
}

// tag is the AMQP field type of a decoded table value, named as RabbitMQ
// names them.
type tag uint8

const (
	tagOther tag = iota // a type this package does not know (decimal, ...)
	tagVoid
	tagBool
	tagByte          // int8
	tagUnsignedByte  // uint8
	tagShort         // int16
	tagUnsignedShort // uint16
	tagSignedInt     // int32
	tagUnsignedInt   // uint32
	tagLong          // int64 (and Go int, uint, uint64)
	tagFloat         // float32
	tagDouble        // float64
	tagLongstr       // string
	tagBinary        // []byte
	tagTimestamp     // time.Time, whole seconds
	tagTable         // map[string]any
	tagArray         // []any
)

var tagNames = [...]string{
	tagOther: "unknown", tagVoid: "void", tagBool: "bool", tagByte: "byte",
	tagUnsignedByte: "unsignedbyte", tagShort: "short",
	tagUnsignedShort: "unsignedshort", tagSignedInt: "signedint",
	tagUnsignedInt: "unsignedint", tagLong: "long", tagFloat: "float",
	tagDouble: "double", tagLongstr: "longstr", tagBinary: "binary",
	tagTimestamp: "timestamp", tagTable: "table", tagArray: "array",
}

func (t tag) String() string { return tagNames[t] }

// field is a table value reduced to what comparisons need. Building one
// does not allocate: it keeps the original value and reads numbers out.
type field struct {
	tag tag
	i   int64   // integer types and timestamps
	f   float64 // float and double
	v   any     // the (normalised) value itself
	// big marks a uint64 beyond int64, kept in f: AMQP has no unsigned
	// 64-bit field type, so such a value can only come from Go code.
	big bool
}

func (x field) isInt() bool {
	return x.tag >= tagByte && x.tag <= tagLong || x.tag == tagTimestamp
}

func (x field) isFloat() bool { return x.tag == tagFloat || x.tag == tagDouble }

func fieldType(v any) tag { return classify(v).tag }

// classify keeps v itself in field.v (never re-boxes x): converting a string
// or slice back to an interface would allocate.
func classify(v any) field {
	switch x := v.(type) {
	case nil:
		return field{tag: tagVoid}
	case bool:
		return field{tag: tagBool, v: v}
	case int8:
		return field{tag: tagByte, i: int64(x)}
	case uint8:
		return field{tag: tagUnsignedByte, i: int64(x)}
	case int16:
		return field{tag: tagShort, i: int64(x)}
	case uint16:
		return field{tag: tagUnsignedShort, i: int64(x)}
	case int32:
		return field{tag: tagSignedInt, i: int64(x)}
	case uint32:
		return field{tag: tagUnsignedInt, i: int64(x)}
	case int64:
		return field{tag: tagLong, i: x}
	case int:
		return field{tag: tagLong, i: int64(x)}
	case uint:
		return classifyUint64(uint64(x))
	case uint64:
		return classifyUint64(x)
	case float32:
		return field{tag: tagFloat, f: float64(x)}
	case float64:
		return field{tag: tagDouble, f: x}
	case string:
		return field{tag: tagLongstr, v: v}
	case []byte:
		return field{tag: tagBinary, v: v}
	case time.Time:
		return field{tag: tagTimestamp, i: x.Unix()}
	case map[string]any:
		return field{tag: tagTable, v: v}
	case []any:
		return field{tag: tagArray, v: v}
	}
	return classifyReflect(v)
}

// classifyUint64 keeps an out-of-range uint64 comparable by value, as the
// nearest double.
func classifyUint64(u uint64) field {
	if u > math.MaxInt64 {
		return field{tag: tagLong, f: float64(u), big: true}
	}
	return field{tag: tagLong, i: int64(u)}
}

var (
	tableType = reflect.TypeFor[map[string]any]()
	arrayType = reflect.TypeFor[[]any]()
	bytesType = reflect.TypeFor[[]byte]()
)

// classifyReflect handles named types such as the codec's
// `type Table map[string]any`, whose values do not match the plain types in
// a type switch.
func classifyReflect(v any) field {
	rv := reflect.ValueOf(v)
	switch {
	case rv.Type().ConvertibleTo(tableType) && rv.Kind() == reflect.Map:
		return field{tag: tagTable, v: rv.Convert(tableType).Interface()}
	case rv.Type().ConvertibleTo(arrayType) && rv.Kind() == reflect.Slice:
		return field{tag: tagArray, v: rv.Convert(arrayType).Interface()}
	case rv.Type().ConvertibleTo(bytesType) && rv.Kind() == reflect.Slice:
		return field{tag: tagBinary, v: rv.Convert(bytesType).Interface()}
	case rv.Kind() == reflect.String:
		return field{tag: tagLongstr, v: rv.String()}
	}
	return field{tag: tagOther, v: v}
}

// valuesEqual compares a binding argument with a header value the way
// RabbitMQ's headers exchange does: with Erlang's == on the decoded values,
// which ignores the AMQP field type at the top level.
//
// rabbitmq: at the top level the field types are dropped, so
//   - all integer types and timestamps (whole seconds) compare by value:
//     signedint 5 == long 5 == unsignedbyte 5 == timestamp 5;
//   - integers and floats compare by value too (Erlang 1 == 1.0): long 1
//     matches double 1.0 and float 1.0; a float decoded from 32 bits is
//     compared as the double it widens to, so float 0.1 != double 0.1;
//   - longstr and binary are both Erlang binaries: "abc" == []byte("abc");
//   - bool matches bool only (true is not 1), void only void;
//   - tables and arrays are both Erlang lists: the empty table equals the
//     empty array; non-empty ones compare element by element WITH their
//     field types, see strictEqual.
func valuesEqual(a, b any) bool {
	return fieldsEqual(classify(a), classify(b))
}

// fieldsEqual is valuesEqual on classified values.
func fieldsEqual(x, y field) bool {
	switch {
	case x.isInt() || x.isFloat():
		return numbersEqual(x, y)
	case x.tag == tagLongstr || x.tag == tagBinary:
		if y.tag != tagLongstr && y.tag != tagBinary {
			return false
		}
		return bytesOf(x) == bytesOf(y)
	case x.tag == tagTable || x.tag == tagArray:
		if y.tag != tagTable && y.tag != tagArray {
			return false
		}
		if listLen(x) == 0 && listLen(y) == 0 {
			return true
		}
		return x.tag == y.tag && strictEqual(x, y)
	}
	return x.tag == y.tag && strictEqual(x, y)
}

// numbersEqual is Erlang's == between two numbers: integers compare exactly,
// an integer equals a float that has exactly its value.
func numbersEqual(x, y field) bool {
	if !y.isInt() && !y.isFloat() {
		return false
	}
	xf, yf := x.isFloat() || x.big, y.isFloat() || y.big
	switch {
	case !xf && !yf:
		return x.i == y.i
	case xf && yf:
		return x.f == y.f
	case xf:
		return floatIsInt(x.f, y.i)
	default:
		return floatIsInt(y.f, x.i)
	}
}

func floatIsInt(f float64, i int64) bool {
	// -2^63 is exact as a float64; 2^63 is the first value out of range.
	if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return false
	}
	return int64(f) == i
}

// bytesOf returns a longstr or binary value as a string; the conversion
// in a comparison does not allocate.
func bytesOf(x field) string {
	if s, ok := x.v.(string); ok {
		return s
	}
	return string(x.v.([]byte))
}

func listLen(x field) int {
	if x.tag == tagTable {
		return len(x.v.(map[string]any))
	}
	return len(x.v.([]any))
}

// strictEqual compares two values inside a nested table or array, where
// RabbitMQ keeps each value's field type next to it: the types must be the
// same and the values equal.
//
// rabbitmq: nested tables are lists compared in wire order, so the same
// entries in another order do not match; a Go map has no order, so Warren
// compares nested tables as sets of (name, type, value) and is more lenient
// there. Arrays keep their order and are compared in order.
func strictEqual(x, y field) bool {
	if x.tag != y.tag {
		return false
	}
	switch x.tag {
	case tagVoid:
		return true
	case tagBool:
		return x.v.(bool) == y.v.(bool)
	case tagFloat, tagDouble:
		return x.f == y.f
	case tagLongstr:
		return x.v.(string) == y.v.(string)
	case tagBinary:
		return bytes.Equal(x.v.([]byte), y.v.([]byte))
	case tagTable:
		a, b := x.v.(map[string]any), y.v.(map[string]any)
		if len(a) != len(b) {
			return false
		}
		for k, av := range a {
			bv, ok := b[k]
			if !ok || !strictEqual(classify(av), classify(bv)) {
				return false
			}
		}
		return true
	case tagArray:
		a, b := x.v.([]any), y.v.([]any)
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if !strictEqual(classify(a[i]), classify(b[i])) {
				return false
			}
		}
		return true
	case tagOther:
		return reflect.DeepEqual(x.v, y.v)
	}
	if x.isInt() {
		return numbersEqual(x, y)
	}
	return false
}

// erlangTerm renders a table value roughly as Erlang's ~tp would, for error
// texts that read like RabbitMQ's.
func erlangTerm(v any) string {
	x := classify(v)
	switch x.tag {
	case tagVoid:
		return "undefined"
	case tagLongstr, tagBinary:
		return "<<" + strconv.Quote(bytesOf(x)) + ">>"
	case tagFloat, tagDouble:
		return strconv.FormatFloat(x.f, 'g', -1, 64)
	case tagBool:
		return strconv.FormatBool(x.v.(bool))
	}
	if x.isInt() && !x.big {
		return strconv.FormatInt(x.i, 10)
	}
	return fmt.Sprint(v)
}
