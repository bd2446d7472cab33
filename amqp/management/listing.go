package management

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Listings with RabbitMQ's query parameters:
//
//	page, page_size   page from 1; page_size 1..500, 100 by default. Without
//	                  page the answer is the bare array (page_size ignored).
//	name, use_regex   with page only: a case-insensitive substring, or a
//	                  regular expression (rabbitmq: name filtering is part
//	                  of pagination)
//	sort, sort_reverse  a dotted path (message_stats.publish_details.rate)
//	columns           a comma list of dotted paths: each item keeps those
//
// A paged answer is the envelope
//
//	{"filtered_count","item_count","items","page","page_count","page_size","total_count"}
//
// The cheap path: items are filtered, sorted by name or left in their
// order, and paged as typed values; only the page is rendered to JSON
// objects. Sorting by any other path renders every item first.

const (
	defaultPageSize = 100
	maxPageSize     = 500
)

type listParams struct {
	paged          bool
	page, pageSize int
	filter         func(string) bool // nil: every name
	sort           []string          // dotted path; nil: the listing's order
	reverse        bool
	columns        [][]string
}

// parseList reads the parameters; on bad ones it answers 400 as RabbitMQ
// does and returns false.
func parseList(w http.ResponseWriter, r *http.Request) (listParams, bool) {
	q := r.URL.Query()
	var p listParams
	invalid := func() (listParams, bool) {
		badRequest(w, "Pagination parameters are invalid")
		return p, false
	}
	if s := q.Get("sort"); s != "" {
		p.sort = strings.Split(s, ".")
	}
	p.reverse = q.Get("sort_reverse") == "true"
	if c := q.Get("columns"); c != "" {
		for _, col := range strings.Split(c, ",") {
			if col = strings.TrimSpace(col); col != "" {
				p.columns = append(p.columns, strings.Split(col, "."))
			}
		}
	}
	ps, hasPage := q["page"]
	if !hasPage {
		return p, true
	}
	p.paged = true
	page, err := strconv.Atoi(ps[0])
	if err != nil {
		return invalid()
	}
	p.page, p.pageSize = page, defaultPageSize
	sizeText := "undefined"
	if s := q.Get("page_size"); s != "" {
		if p.pageSize, err = strconv.Atoi(s); err != nil {
			return invalid()
		}
		sizeText = s
	}
	if p.page < 1 || p.pageSize < 1 || p.pageSize > maxPageSize {
		writeError(w, http.StatusBadRequest, "invalid_pagination_parameters",
			fmt.Sprintf("Invalid pagination parameters: page number %d, page size %s", p.page, sizeText))
		return p, false
	}
	if name := q.Get("name"); name != "" {
		if q.Get("use_regex") == "true" {
			re, err := regexp.Compile("(?i)" + name)
			if err != nil {
				return invalid()
			}
			p.filter = re.MatchString
		} else {
			lower := strings.ToLower(name)
			p.filter = func(s string) bool { return strings.Contains(strings.ToLower(s), lower) }
		}
	}
	return p, true
}

// list answers a listing of items: name gives an item's name (filter,
// sort by name), render its JSON object (an item gone meanwhile renders
// nil and is left out).
func list[T any](w http.ResponseWriter, r *http.Request, items []T, name func(*T) string, render func(*T) map[string]any) {
	listAny(w, r, items, name, func(t *T) any {
		if m := render(t); m != nil {
			return m
		}
		return nil
	})
}

// listAny is list for a render that returns a typed value (a struct
// that encoding/json writes far faster than a map); sorting by a path
// and picking columns turn it into a map first (toMap).
func listAny[T any](w http.ResponseWriter, r *http.Request, items []T, name func(*T) string, render func(*T) any) {
	p, ok := parseList(w, r)
	if !ok {
		return
	}
	total := len(items)
	if p.filter != nil {
		kept := items[:0:0]
		for i := range items {
			if p.filter(name(&items[i])) {
				kept = append(kept, items[i])
			}
		}
		items = kept
	}
	listFiltered(w, p, total, items, name, render)
}

// listFiltered is listAny after the name filter: items are those of the
// total that p.filter kept (the caller filtered them).
func listFiltered[T any](w http.ResponseWriter, p listParams, total int, items []T, name func(*T) string, render func(*T) any) {
	var rendered []any
	switch {
	case p.sort == nil:
		if p.reverse {
			items = slices.Clone(items)
			slices.Reverse(items)
		}
	case len(p.sort) == 1 && p.sort[0] == "name":
		items = slices.Clone(items)
		slices.SortStableFunc(items, func(a, b T) int {
			c := cmp.Compare(name(&a), name(&b))
			if p.reverse {
				c = -c
			}
			return c
		})
	default:
		// Render every item and sort by the path's value, read once per item.
		type keyed struct {
			v   any
			key any
		}
		ks := make([]keyed, 0, len(items))
		for i := range items {
			if v := render(&items[i]); v != nil {
				ks = append(ks, keyed{v, lookupAny(v, p.sort)})
			}
		}
		slices.SortStableFunc(ks, func(a, b keyed) int {
			c := compareAny(a.key, b.key)
			if p.reverse {
				c = -c
			}
			return c
		})
		rendered = make([]any, len(ks))
		for i := range ks {
			rendered[i] = ks[i].v
		}
		items = items[:len(rendered)] // only the count matters from here
	}
	filtered := len(items)
	lo, hi := 0, filtered
	if p.paged {
		lo = (p.page - 1) * p.pageSize
		if p.page > 1 && lo >= filtered {
			writeError(w, http.StatusBadRequest, "page_out_of_range",
				fmt.Sprintf("Page out of range, page: %d page size: %d, len: %d", p.page, p.pageSize, filtered))
			return
		}
		hi = min(lo+p.pageSize, filtered)
	}
	out := make([]any, 0, hi-lo)
	pk := picker{columns: p.columns}
	for i := lo; i < hi; i++ {
		var v any
		if rendered != nil {
			v = rendered[i]
		} else if v = render(&items[i]); v == nil {
			continue
		}
		if p.columns != nil {
			v = pk.pick(v)
		}
		out = append(out, v)
	}
	if !p.paged {
		writeJSON(w, http.StatusOK, out)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"filtered_count": filtered,
		"item_count":     len(out),
		"items":          out,
		"page":           p.page,
		"page_count":     (filtered + p.pageSize - 1) / p.pageSize,
		"page_size":      p.pageSize,
		"total_count":    total,
	})
}

// one answers a single object, keeping the columns asked for.
func one(w http.ResponseWriter, r *http.Request, m map[string]any) {
	p, ok := parseList(w, r)
	if !ok {
		return
	}
	if p.columns != nil {
		m = pick(m, p.columns)
	}
	writeJSON(w, http.StatusOK, m)
}

// toMap turns a rendered value into its JSON object form, for sorting
// by a path and picking columns.
func toMap(v any) map[string]any {
	if m, ok := v.(map[string]any); ok {
		return m
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return map[string]any{}
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return map[string]any{}
	}
	return m
}

// lookupAny follows a dotted path into a rendered value: a map, or a
// struct by its fields' JSON names.
func lookupAny(v any, path []string) any {
	if m, ok := v.(map[string]any); ok {
		return lookup(m, path)
	}
	return lookupValue(reflect.ValueOf(v), path)
}

// lookupValue is lookupAny from a reflect.Value (no boxing on the way).
func lookupValue(rv reflect.Value, path []string) any {
	for _, k := range path {
		for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
			if rv.IsNil() {
				return nil
			}
			rv = rv.Elem()
		}
		switch rv.Kind() {
		case reflect.Struct:
			f, ok := fieldByJSONName(rv.Type(), k)
			if !ok {
				return nil
			}
			rv = rv.Field(f)
		case reflect.Map:
			if rv.Type().Key().Kind() != reflect.String {
				return nil
			}
			if rv = rv.MapIndex(reflect.ValueOf(k)); !rv.IsValid() {
				return nil
			}
		default:
			return nil
		}
	}
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		return nil
	}
	return rv.Interface()
}

func fieldByJSONName(t reflect.Type, name string) (int, bool) {
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if tag == name {
			return i, true
		}
	}
	return 0, false
}

// lookup follows a dotted path into nested objects; nil if missing.
func lookup(m map[string]any, path []string) any {
	var v any = m
	for _, k := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		if v, ok = mm[k]; !ok {
			return nil
		}
	}
	return v
}

// pick keeps the columns of m, nested objects along the paths.
func pick(m map[string]any, columns [][]string) map[string]any {
	out := map[string]any{}
	for _, path := range columns {
		v := lookup(m, path)
		if v == nil {
			if _, present := m[path[0]]; !present || len(path) > 1 {
				continue // rabbitmq: a missing column is left out
			}
		}
		put(out, path, v)
	}
	return out
}

// put sets out's value at path, making the objects along it; a value
// already there whole (a column that is a prefix of this one) holds it.
func put(out map[string]any, path []string, v any) {
	dst := out
	for _, k := range path[:len(path)-1] {
		next, ok := dst[k].(map[string]any)
		if !ok {
			if dst[k] != nil {
				return
			}
			next = map[string]any{}
			dst[k] = next
		}
		dst = next
	}
	dst[path[len(path)-1]] = v
}

// picker keeps the columns of rendered values. A struct is read by its
// fields' JSON names, with no JSON round trip (toMap): the console's page
// of 100 queues and 14 columns took 13.5 ms that way, most of a filter
// keystroke's server time. The field of each top-level column is looked
// up once per type and request; a dotted column follows its path
// (lookupAny), left out where it ends (nil), as pick does.
type picker struct {
	columns [][]string
	fields  map[reflect.Type][]int // per column, the field index or -1
}

func (pk *picker) pick(v any) map[string]any {
	if m, ok := v.(map[string]any); ok {
		return pick(m, pk.columns)
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return pick(toMap(v), pk.columns)
	}
	t := rv.Type()
	idx, ok := pk.fields[t]
	if !ok {
		idx = make([]int, len(pk.columns))
		for i, p := range pk.columns {
			idx[i] = -1
			if f, ok := fieldByJSONName(t, p[0]); ok && !strings.Contains(t.Field(f).Tag.Get("json"), ",omitempty") {
				idx[i] = f
			} else if ok {
				return pick(toMap(v), pk.columns) // omitempty: as encoding/json decides
			}
		}
		if pk.fields == nil {
			pk.fields = map[reflect.Type][]int{}
		}
		pk.fields[t] = idx
	}
	out := make(map[string]any, len(pk.columns))
	for i, p := range pk.columns {
		switch {
		case idx[i] < 0: // rabbitmq: a missing column is left out
		case len(p) == 1:
			out[p[0]] = rv.Field(idx[i]).Interface()
		default:
			if x := lookupValue(rv.Field(idx[i]), p[1:]); x != nil {
				put(out, p, x)
			}
		}
	}
	return out
}

// compareAny orders JSON values: missing (nil) first, then numbers,
// then strings, then the rest as text.
func compareAny(a, b any) int {
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch ra {
	case 1:
		return cmp.Compare(number(a), number(b))
	case 2:
		return cmp.Compare(a.(string), b.(string))
	case 3:
		return cmp.Compare(fmt.Sprint(a), fmt.Sprint(b))
	}
	return 0
}

func rank(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case int, int64, uint64, float64, int32, uint32, int16, uint16, int8, uint8, uint:
		return 1
	case string:
		return 2
	}
	return 3
}

func number(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case int32:
		return float64(x)
	case uint32:
		return float64(x)
	case float64:
		return x
	case int16:
		return float64(x)
	case uint16:
		return float64(x)
	case int8:
		return float64(x)
	case uint8:
		return float64(x)
	case uint:
		return float64(x)
	}
	return 0
}
