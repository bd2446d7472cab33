package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// The HTTP client of `warren ctl`: RabbitMQ's paths, basic auth, JSON.

// refusedError is the API's refusal of an operation: exit 1.
type refusedError struct {
	status int
	reason string
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.status, http.StatusText(e.status), e.reason)
}

// unreachableError is an API that does not answer: exit 3.
type unreachableError struct{ err error }

func (e *unreachableError) Error() string { return "cannot reach the API: " + e.err.Error() }

// path joins escaped path segments: p("queues", "/", "q") is
// /api/queues/%2F/q.
func p(segs ...string) string {
	var b strings.Builder
	b.WriteString("/api")
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// call sends body (nil, or a value to encode as JSON, or json.RawMessage)
// and returns the answer's body; a status of 400 or more is a
// refusedError with the API's reason.
func (c *ctl) call(method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		raw, ok := body.(json.RawMessage)
		if !ok {
			var err error
			if raw, err = json.Marshal(body); err != nil {
				return nil, err
			}
		}
		rd = bytes.NewReader(raw)
	}
	base, err := url.Parse(strings.TrimRight(c.o.api, "/"))
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, usagef("--api: want a URL such as http://127.0.0.1:15672, got %q", c.o.api)
	}
	u := base.String() + path
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return nil, usagef("%v", err)
	}
	req.SetBasicAuth(c.o.user, c.o.password)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range c.header {
		req.Header[k] = vs
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, &unreachableError{err}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, &unreachableError{err}
	}
	if res.StatusCode >= 400 {
		var e struct{ Error, Reason string }
		reason := strings.TrimSpace(string(raw))
		if json.Unmarshal(raw, &e) == nil && (e.Reason != "" || e.Error != "") {
			reason = e.Reason
			if reason == "" {
				reason = e.Error
			}
		}
		if reason == "" {
			reason = http.StatusText(res.StatusCode)
		}
		return nil, &refusedError{status: res.StatusCode, reason: reason}
	}
	return raw, nil
}

// jsonArg parses a JSON object given as a flag (empty: nil).
func jsonArg(flag, s string) (map[string]any, error) {
	if s == "" {
		return nil, nil
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, usagef("--%s: want a JSON object: %v", flag, err)
	}
	return m, nil
}
