package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
)

// Listings: the API's arrays as aligned tables, or its JSON.

// listing is one `list` object: its paths (all vhosts, one vhost) and
// its default columns.
type listing struct {
	all, perVhost string // perVhost has one %s for the escaped vhost
	columns       []string
}

var listings = map[string]listing{
	"queues":      {"/api/queues", "/api/queues/%s", []string{"vhost", "name", "type", "durable", "messages", "messages_ready", "messages_unacknowledged", "consumers"}},
	"exchanges":   {"/api/exchanges", "/api/exchanges/%s", []string{"vhost", "name", "type", "durable", "auto_delete", "internal"}},
	"bindings":    {"/api/bindings", "/api/bindings/%s", []string{"vhost", "source", "destination", "destination_type", "routing_key", "arguments"}},
	"connections": {"/api/connections", "/api/vhosts/%s/connections", []string{"name", "user", "vhost", "peer_host", "peer_port", "state", "channels"}},
	"channels":    {"/api/channels", "/api/vhosts/%s/channels", []string{"name", "user", "vhost", "number", "consumer_count", "messages_unacknowledged"}},
	"consumers":   {"/api/consumers", "/api/consumers/%s", []string{"queue.vhost", "queue.name", "consumer_tag", "channel_details.name", "ack_required", "prefetch_count"}},
	"users":       {"/api/users", "", []string{"name", "tags"}},
	"vhosts":      {"/api/vhosts", "", []string{"name", "messages", "description"}},
	"policies":    {"/api/policies", "/api/policies/%s", []string{"vhost", "name", "pattern", "apply-to", "definition", "priority"}},
	"permissions": {"/api/permissions", "/api/vhosts/%s/permissions", []string{"user", "vhost", "configure", "write", "read"}},
}

func (c *ctl) list(obj string, rest []string) error {
	l, ok := listings[obj]
	if !ok || len(rest) != 1 {
		return usagef("want list queues|exchanges|bindings|connections|channels|consumers|users|vhosts|policies|permissions")
	}
	path := l.all
	if c.o.vhostSet && l.perVhost != "" {
		path = fmt.Sprintf(l.perVhost, p(c.o.vhost)[len("/api/"):])
	}
	raw, err := c.call("GET", path, nil)
	if err != nil {
		return err
	}
	cols := l.columns
	if c.o.columns != "" {
		cols = splitList(c.o.columns)
	}
	return c.output(raw, cols)
}

// output prints an API answer: its JSON, or a table of cols (an array of
// objects: one row each; an object: one row).
func (c *ctl) output(raw []byte, cols []string) error {
	if c.o.format == "json" {
		var buf bytes.Buffer
		if json.Indent(&buf, raw, "", "  ") != nil {
			buf.Reset()
			buf.Write(raw)
		}
		buf.WriteByte('\n')
		_, err := c.stdout.Write(buf.Bytes())
		return err
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("the API answered with no JSON: %q", raw)
	}
	var rows []map[string]any
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			if m, ok := e.(map[string]any); ok {
				rows = append(rows, m)
			}
		}
	case map[string]any:
		rows = append(rows, t)
	}
	if cols == nil {
		cols = keysOf(rows)
	}
	return writeTable(c, rows, cols)
}

// keysOf is the sorted keys of the first row.
func keysOf(rows []map[string]any) []string {
	if len(rows) == 0 {
		return nil
	}
	var ks []string
	for k := range rows[0] {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func writeTable(c *ctl, rows []map[string]any, cols []string) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	for _, r := range rows {
		cells := make([]string, len(cols))
		for i, col := range cols {
			cells[i] = cell(lookup(r, col))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// lookup reads a column, its dots reaching into objects.
func lookup(m map[string]any, col string) any {
	if v, ok := m[col]; ok {
		return v
	}
	head, rest, ok := strings.Cut(col, ".")
	if !ok {
		return nil
	}
	sub, _ := m[head].(map[string]any)
	if sub == nil {
		return nil
	}
	return lookup(sub, rest)
}

// cell renders a value for a table: strings and numbers as they are,
// the rest as compact JSON; tabs and newlines would break the columns.
func cell(v any) string {
	var s string
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		s = t
	case json.Number:
		s = t.String()
	case bool:
		s = fmt.Sprint(t)
	case []any:
		parts := make([]string, len(t))
		allStr := true
		for i, e := range t {
			str, ok := e.(string)
			allStr = allStr && ok
			parts[i] = str
		}
		if allStr {
			s = strings.Join(parts, ",")
			break
		}
		b, _ := json.Marshal(t)
		s = string(b)
	default:
		b, _ := json.Marshal(t)
		s = string(b)
	}
	return strings.NewReplacer("\t", " ", "\n", " ").Replace(s)
}
