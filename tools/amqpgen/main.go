// Command amqpgen reads the RabbitMQ-extended AMQP 0-9-1 specification XML
// and writes the generated part of package amqp: method structs, their ids,
// metadata, decoders, append-style encoders, String methods and the reply
// code constants.
//
// Usage (from package amqp, through go:generate):
//
//	go run ../tools/amqpgen -spec spec/amqp0-9-1.extended.xml -out spec_gen.go
package main

import (
	"bytes"
	"encoding/xml"
	"flag"
	"fmt"
	"go/format"
	"os"
	"strings"
)

type specXML struct {
	Constants []constantXML `xml:"constant"`
	Domains   []domainXML   `xml:"domain"`
	Classes   []classXML    `xml:"class"`
}

type constantXML struct {
	Name  string `xml:"name,attr"`
	Value int    `xml:"value,attr"`
	Class string `xml:"class,attr"`
}

type domainXML struct {
	Name string `xml:"name,attr"`
	Type string `xml:"type,attr"`
}

type classXML struct {
	Name    string      `xml:"name,attr"`
	Index   int         `xml:"index,attr"`
	Methods []methodXML `xml:"method"`
	Fields  []fieldXML  `xml:"field"`
}

type methodXML struct {
	Name        string        `xml:"name,attr"`
	Index       int           `xml:"index,attr"`
	Synchronous int           `xml:"synchronous,attr"`
	Content     int           `xml:"content,attr"`
	Responses   []responseXML `xml:"response"`
	Fields      []fieldXML    `xml:"field"`
}

type responseXML struct {
	Name string `xml:"name,attr"`
}

type fieldXML struct {
	Name     string `xml:"name,attr"`
	Domain   string `xml:"domain,attr"`
	Type     string `xml:"type,attr"`
	Reserved int    `xml:"reserved,attr"`
}

func main() {
	specPath := flag.String("spec", "spec/amqp0-9-1.extended.xml", "the specification XML to read")
	out := flag.String("out", "spec_gen.go", "the Go file to write")
	flag.Parse()

	src, err := generateFile(*specPath)
	if err != nil {
		fatal(err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		fatal(err)
	}
}

// generateFile reads the specification XML and returns the Go source.
func generateFile(specPath string) ([]byte, error) {
	raw, err := os.ReadFile(specPath)
	if err != nil {
		return nil, err
	}
	var s specXML
	if err := xml.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("parse %s: %w", specPath, err)
	}
	applyOverrides(&s)
	return generate(&s)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "amqpgen:", err)
	os.Exit(1)
}

// applyOverrides adds what the RabbitMQ-extended XML lacks but RabbitMQ and
// its clients use.
func applyOverrides(s *specXML) {
	// rabbitmq: basic.return for an unroutable mandatory message carries 312 NO_ROUTE.
	s.Constants = append(s.Constants, constantXML{Name: "no-route", Value: 312, Class: "soft-error"})
	for i := range s.Classes {
		if s.Classes[i].Name == "basic" {
			for j := range s.Classes[i].Methods {
				m := &s.Classes[i].Methods[j]
				// rabbitmq: basic.recover is synchronous, answered by
				// basic.recover-ok (the extended XML leaves both out).
				if m.Name == "recover" && m.Synchronous == 0 {
					m.Synchronous = 1
					m.Responses = append(m.Responses, responseXML{Name: "recover-ok"})
				}
			}
		}
		if s.Classes[i].Name != "connection" {
			continue
		}
		// rabbitmq: connection.blocked/unblocked (resource alarms) and
		// connection.update-secret (OAuth 2 token refresh).
		s.Classes[i].Methods = append(s.Classes[i].Methods,
			methodXML{Name: "blocked", Index: 60, Fields: []fieldXML{{Name: "reason", Type: "shortstr"}}},
			methodXML{Name: "unblocked", Index: 61},
			methodXML{Name: "update-secret", Index: 70, Synchronous: 1,
				Responses: []responseXML{{Name: "update-secret-ok"}},
				Fields:    []fieldXML{{Name: "new-secret", Type: "longstr"}, {Name: "reason", Type: "shortstr"}}},
			methodXML{Name: "update-secret-ok", Index: 71, Synchronous: 1},
		)
	}
}

type field struct {
	name     string // XML name
	goName   string
	wireType string // bit, octet, short, long, longlong, shortstr, longstr, table, timestamp
	domain   string
	reserved bool
}

func goType(f field) string {
	if f.domain == "reply-code" {
		return "ReplyCode"
	}
	switch f.wireType {
	case "bit":
		return "bool"
	case "octet":
		return "uint8"
	case "short":
		return "uint16"
	case "long":
		return "uint32"
	case "longlong":
		return "uint64"
	case "shortstr", "longstr":
		return "string"
	case "table":
		return "Table"
	case "timestamp":
		return "time.Time"
	}
	panic("unknown wire type " + f.wireType)
}

// camel turns "routing-key" into "RoutingKey" and "class-id" into "ClassID".
func camel(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "-") {
		switch part {
		case "id":
			b.WriteString("ID")
		case "ok":
			b.WriteString("Ok")
		default:
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

func generate(s *specXML) ([]byte, error) {
	domains := map[string]string{}
	for _, d := range s.Domains {
		domains[d.Name] = d.Type
	}
	resolve := func(fx fieldXML) field {
		t := fx.Type
		if t == "" {
			t = domains[fx.Domain]
		}
		return field{name: fx.Name, goName: camel(fx.Name), wireType: t, domain: fx.Domain, reserved: fx.Reserved == 1}
	}

	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	// Constants.
	p("// Frame types and sizes from the specification.\nconst (\n")
	for _, c := range s.Constants {
		if c.Class == "" && !strings.HasPrefix(c.Name, "reply-") {
			p("%s = %d\n", camel(c.Name), c.Value)
		}
	}
	p(")\n\n")
	p("// Reply codes. Hard errors close the connection, soft errors the channel.\nconst (\n")
	var codes []constantXML
	for _, c := range s.Constants {
		if c.Class != "" || strings.HasPrefix(c.Name, "reply-") {
			codes = append(codes, c)
			p("%s ReplyCode = %d\n", camel(c.Name), c.Value)
		}
	}
	p(")\n\n")
	p("// IsHard reports whether the code is a connection (hard) error.\nfunc (c ReplyCode) IsHard() bool {\nswitch c {\n")
	var hard []string
	for _, c := range codes {
		if c.Class == "hard-error" {
			hard = append(hard, camel(c.Name))
		}
	}
	p("case %s:\nreturn true\n}\nreturn false\n}\n\n", strings.Join(hard, ", "))
	p("// String returns the code's name as RabbitMQ writes it in reply texts, e.g. NOT_FOUND.\nfunc (c ReplyCode) String() string {\nswitch c {\n")
	for _, c := range codes {
		name := strings.ToUpper(strings.ReplaceAll(c.Name, "-", "_"))
		if c.Name == "reply-success" {
			name = "OK"
		}
		p("case %s:\nreturn %q\n", camel(c.Name), name)
	}
	p("}\nreturn fmt.Sprintf(\"REPLY_%%d\", uint16(c))\n}\n\n")

	// Class ids.
	p("// Class ids.\nconst (\n")
	for _, c := range s.Classes {
		p("Class%s = %d\n", camel(c.Name), c.Index)
	}
	p(")\n\n")

	// Method ids.
	p("// Method ids: the class id in the high 16 bits, the method id in the low 16.\nconst (\n")
	for _, c := range s.Classes {
		for _, m := range c.Methods {
			p("%s%sID = %d<<16 | %d\n", camel(c.Name), camel(m.Name), c.Index, m.Index)
		}
	}
	p(")\n\n")

	// Method structs.
	for _, c := range s.Classes {
		for _, m := range c.Methods {
			typ := camel(c.Name) + camel(m.Name)
			full := c.Name + "." + m.Name
			var fields []field
			for _, fx := range m.Fields {
				fields = append(fields, resolve(fx))
			}
			p("// %s is %s (class %d, method %d).\ntype %s struct {\n", typ, full, c.Index, m.Index, typ)
			for _, f := range fields {
				if !f.reserved {
					p("%s %s\n", f.goName, goType(f))
				}
			}
			p("}\n\n")
			p("// ID returns %sID.\nfunc (*%s) ID() uint32 { return %sID }\n\n", typ, typ, typ)
			p("// Name returns %q.\nfunc (*%s) Name() string { return %q }\n\n", full, typ, full)
			p("// Synchronous reports whether the method expects a response.\nfunc (*%s) Synchronous() bool { return %t }\n\n", typ, m.Synchronous == 1)
			p("// HasContent reports whether a content header and body follow the method.\nfunc (*%s) HasContent() bool { return %t }\n\n", typ, m.Content == 1)
			genAppend(p, typ, fields)
			genDecode(p, typ, fields)
			genString(p, typ, full, fields)
		}
	}

	// Lookup tables.
	p("// decodeMethod decodes the arguments of the method with the given id, or\n")
	p("// returns nil for an unknown id. The calls are direct, so d does not escape.\n")
	p("func decodeMethod(id uint32, d *decoder) Method {\nswitch id {\n")
	for _, c := range s.Classes {
		for _, m := range c.Methods {
			typ := camel(c.Name) + camel(m.Name)
			p("case %sID:\nm := new(%s)\nm.decodeArgs(d)\nreturn m\n", typ, typ)
		}
	}
	p("}\nreturn nil\n}\n\n")
	p("var methodInfos = map[uint32]MethodInfo{\n")
	for _, c := range s.Classes {
		for _, m := range c.Methods {
			typ := camel(c.Name) + camel(m.Name)
			var resp []string
			for _, r := range m.Responses {
				resp = append(resp, fmt.Sprintf("%s%sID", camel(c.Name), camel(r.Name)))
			}
			respSrc := "nil"
			if len(resp) > 0 {
				respSrc = "[]uint32{" + strings.Join(resp, ", ") + "}"
			}
			p("%sID: {Name: %q, Synchronous: %t, Content: %t, Responses: %s},\n", typ, c.Name+"."+m.Name, m.Synchronous == 1, m.Content == 1, respSrc)
		}
	}
	p("}\n\n")
	p("var classNames = map[uint16]string{\n")
	for _, c := range s.Classes {
		p("%d: %q,\n", c.Index, c.Name)
	}
	p("}\n")

	imports := "\"fmt\""
	if bytes.Contains(b.Bytes(), []byte("time.Time")) {
		imports += "\n\"time\""
	}
	src := fmt.Sprintf("// Code generated by amqpgen. DO NOT EDIT.\n\npackage amqp\n\nimport (\n%s\n)\n\n%s", imports, b.Bytes())
	return format.Source([]byte(src))
}

// zeroValue is what a reserved field is written as.
func zeroValue(wireType string) string {
	switch wireType {
	case "shortstr", "longstr":
		return `""`
	case "table":
		return "nil"
	case "bit":
		return "false"
	}
	return "0"
}

func genAppend(p func(string, ...any), typ string, fields []field) {
	p("// AppendArgs appends the method's arguments in wire format.\nfunc (m *%s) AppendArgs(b []byte) ([]byte, error) {\n", typ)
	if len(fields) == 0 {
		p("return b, nil\n}\n\n")
		return
	}
	// Validate shortstr lengths first so that nothing is appended on error.
	for _, f := range fields {
		if f.wireType == "shortstr" && !f.reserved {
			p("if len(m.%s) > 255 {\nreturn b, errShortStr(%q, len(m.%s))\n}\n", f.goName, f.name, f.goName)
		}
	}
	needErr := false
	for _, f := range fields {
		if f.wireType == "table" && !f.reserved {
			needErr = true
		}
	}
	if needErr {
		// On error b is returned as it was, like the shortstr checks above.
		p("orig := len(b)\nvar err error\n")
	}
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		val := "m." + f.goName
		if f.reserved {
			val = zeroValue(f.wireType)
		}
		switch f.wireType {
		case "bit":
			// Consecutive bits pack into one octet, least significant first.
			p("{\nvar bits byte\n")
			j := 0
			for ; i+j < len(fields) && fields[i+j].wireType == "bit"; j++ {
				if g := fields[i+j]; !g.reserved {
					p("if m.%s {\nbits |= 1 << %d\n}\n", g.goName, j%8)
				}
				// A reserved bit still takes its place in the octet.
				if j%8 == 7 && i+j+1 < len(fields) && fields[i+j+1].wireType == "bit" {
					p("b = append(b, bits)\nbits = 0\n")
				}
			}
			p("b = append(b, bits)\n}\n")
			i += j - 1
		case "octet":
			p("b = append(b, %s)\n", val)
		case "short":
			if f.domain == "reply-code" {
				val = "uint16(" + val + ")"
			}
			p("b = appendUint16(b, %s)\n", val)
		case "long":
			p("b = appendUint32(b, %s)\n", val)
		case "longlong":
			p("b = appendUint64(b, %s)\n", val)
		case "shortstr":
			p("b = appendShortStr(b, %s)\n", val)
		case "longstr":
			p("b = appendLongStr(b, %s)\n", val)
		case "timestamp":
			p("b = appendUint64(b, uint64(%s.Unix()))\n", val)
		case "table":
			if f.reserved {
				p("b = appendUint32(b, 0)\n")
			} else {
				p("if b, err = AppendTable(b, %s); err != nil {\nreturn b[:orig], fmt.Errorf(\"%s: %%w\", err)\n}\n", val, f.name)
			}
		}
	}
	p("return b, nil\n}\n\n")
}

func genDecode(p func(string, ...any), typ string, fields []field) {
	p("func (m *%s) decodeArgs(d *decoder) {\n", typ)
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		target := "m." + f.goName + " = "
		if f.reserved {
			target = "_ = "
		}
		switch f.wireType {
		case "bit":
			p("{\nbits := d.octet()\n")
			j := 0
			for ; i+j < len(fields) && fields[i+j].wireType == "bit"; j++ {
				g := fields[i+j]
				if j > 0 && j%8 == 0 {
					p("bits = d.octet()\n")
				}
				if !g.reserved {
					p("m.%s = bits&(1<<%d) != 0\n", g.goName, j%8)
				}
			}
			p("_ = bits\n}\n")
			i += j - 1
		case "octet":
			p("%sd.octet()\n", target)
		case "short":
			if f.domain == "reply-code" && !f.reserved {
				p("%sReplyCode(d.short())\n", target)
			} else {
				p("%sd.short()\n", target)
			}
		case "long":
			p("%sd.long()\n", target)
		case "longlong":
			p("%sd.longlong()\n", target)
		case "shortstr":
			p("%sd.shortstr()\n", target)
		case "longstr":
			p("%sd.longstr()\n", target)
		case "timestamp":
			p("%sd.timestamp()\n", target)
		case "table":
			p("%sd.table()\n", target)
		}
	}
	p("}\n\n")
}

func genString(p func(string, ...any), typ, full string, fields []field) {
	var verbs, args []string
	for _, f := range fields {
		if f.reserved {
			continue
		}
		verb := "%v"
		switch f.wireType {
		case "shortstr", "longstr":
			verb = "%q"
		}
		verbs = append(verbs, f.name+"="+verb)
		args = append(args, "m."+f.goName)
	}
	p("func (m *%s) String() string {\n", typ)
	if len(args) == 0 {
		p("return %q\n}\n\n", full)
		return
	}
	p("return fmt.Sprintf(%q, %s)\n}\n\n", full+"{"+strings.Join(verbs, " ")+"}", strings.Join(args, ", "))
}
