package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
)

// Definitions and administration: declare, delete, purge, close,
// export/import definitions, policies, users, permissions, vhosts. Each
// is one request to RabbitMQ's path for it.

func (c *ctl) declare(obj string, rest []string) error {
	args, err := jsonArg("arguments", c.o.arguments)
	if err != nil {
		return err
	}
	if args == nil {
		args = map[string]any{}
	}
	switch obj {
	case "queue":
		n, err := names(rest, 1, "declare queue NAME")
		if err != nil {
			return err
		}
		if c.o.kind != "" {
			args["x-queue-type"] = c.o.kind
		}
		_, err = c.call("PUT", p("queues", c.o.vhost, n[0]),
			map[string]any{"durable": c.o.durable, "auto_delete": c.o.autoDelete, "arguments": args})
		return err
	case "exchange":
		n, err := names(rest, 1, "declare exchange NAME --type TYPE")
		if err != nil {
			return err
		}
		kind := c.o.kind
		if kind == "" {
			kind = "direct"
		}
		_, err = c.call("PUT", p("exchanges", c.o.vhost, n[0]), map[string]any{"type": kind, "durable": c.o.durable,
			"auto_delete": c.o.autoDelete, "internal": c.o.internal, "arguments": args})
		return err
	case "binding":
		path, err := c.bindingPath(rest)
		if err != nil {
			return err
		}
		_, err = c.call("POST", path, map[string]any{"routing_key": c.o.routingKey, "arguments": args})
		return err
	}
	return usagef("want declare queue|exchange|binding")
}

// bindingPath is /api/bindings/{v}/e/{source}/q|e/{destination}.
func (c *ctl) bindingPath(rest []string) (string, error) {
	if len(rest) != 1 || c.o.source == "" || c.o.destination == "" {
		return "", usagef("want %s binding --source X --destination D [--destination-type queue|exchange] [--routing-key K]", c.args[0])
	}
	var kind string
	switch c.o.destType {
	case "queue", "q":
		kind = "q"
	case "exchange", "e":
		kind = "e"
	default:
		return "", usagef("--destination-type: want queue or exchange, got %q", c.o.destType)
	}
	return p("bindings", c.o.vhost, "e", c.o.source, kind, c.o.destination), nil
}

func (c *ctl) delete(obj string, rest []string) error {
	switch obj {
	case "queue", "exchange", "user", "vhost":
		n, err := names(rest, 1, "delete "+obj+" NAME")
		if err != nil {
			return err
		}
		path := map[string]string{"queue": p("queues", c.o.vhost, n[0]), "exchange": p("exchanges", c.o.vhost, n[0]),
			"user": p("users", n[0]), "vhost": p("vhosts", n[0])}[obj]
		var q []string
		if c.o.ifEmpty {
			q = append(q, "if-empty=true")
		}
		if c.o.ifUnused {
			q = append(q, "if-unused=true")
		}
		if len(q) > 0 {
			path += "?" + strings.Join(q, "&")
		}
		_, err = c.call("DELETE", path, nil)
		return err
	case "binding":
		path, err := c.bindingPath(rest)
		if err != nil {
			return err
		}
		args, err := jsonArg("arguments", c.o.arguments)
		if err != nil {
			return err
		}
		// The binding's properties key is the API's to make: find it
		// among the bindings between the two.
		raw, err := c.call("GET", path, nil)
		if err != nil {
			return err
		}
		var bs []struct {
			RoutingKey    string         `json:"routing_key"`
			Arguments     map[string]any `json:"arguments"`
			PropertiesKey string         `json:"properties_key"`
		}
		if err := json.Unmarshal(raw, &bs); err != nil {
			return err
		}
		want, _ := json.Marshal(args)
		for _, b := range bs {
			got, _ := json.Marshal(b.Arguments)
			if len(b.Arguments) == 0 {
				got = []byte("null")
			}
			if b.RoutingKey == c.o.routingKey && string(got) == string(want) {
				_, err := c.call("DELETE", path+"/"+strings.TrimPrefix(p(b.PropertiesKey), "/api/"), nil)
				return err
			}
		}
		return &refusedError{status: http.StatusNotFound, reason: "no such binding"}
	}
	return usagef("want delete queue|exchange|binding|user|vhost")
}

func (c *ctl) purge(obj string, rest []string) error {
	n, err := names(rest, 1, "purge queue NAME")
	if err != nil || obj != "queue" {
		return usagef("want purge queue NAME")
	}
	_, err = c.call("DELETE", p("queues", c.o.vhost, n[0], "contents"), nil)
	return err
}

func (c *ctl) closeConn(obj string, rest []string) error {
	n, err := names(rest, 1, "close connection NAME")
	if err != nil || obj != "connection" {
		return usagef("want close connection NAME [--reason TEXT]")
	}
	c.header = http.Header{"X-Reason": {c.o.reason}}
	_, err = c.call("DELETE", p("connections", n[0]), nil)
	return err
}

func (c *ctl) export(obj string, rest []string) error {
	if obj != "definitions" || len(rest) > 2 {
		return usagef("want export definitions [FILE]")
	}
	raw, err := c.call("GET", "/api/definitions", nil)
	if err != nil {
		return err
	}
	if len(rest) == 1 || rest[1] == "-" {
		c.o.format = "json"
		return c.output(raw, nil)
	}
	return os.WriteFile(rest[1], raw, 0o600)
}

func (c *ctl) importDefs(obj string, rest []string) error {
	if obj != "definitions" || len(rest) > 2 {
		return usagef("want import definitions [FILE]")
	}
	var raw []byte
	var err error
	if len(rest) == 1 || rest[1] == "-" {
		raw, err = io.ReadAll(c.stdin)
	} else {
		raw, err = os.ReadFile(rest[1])
	}
	if err != nil {
		return usagef("reading the definitions: %v", err)
	}
	if !json.Valid(raw) {
		return usagef("the definitions are not JSON")
	}
	_, err = c.call("POST", "/api/definitions", json.RawMessage(raw))
	return err
}

func (c *ctl) setClear(verb, obj string, rest []string) error {
	set := verb == "set"
	switch obj {
	case "policy":
		n, err := names(rest, 1, verb+" policy NAME")
		if err != nil {
			return err
		}
		path := p("policies", c.o.vhost, n[0])
		if !set {
			_, err = c.call("DELETE", path, nil)
			return err
		}
		def, err := jsonArg("definition", c.o.definition)
		if err != nil {
			return err
		}
		if c.o.pattern == "" || def == nil {
			return usagef("want set policy NAME --pattern RE --definition JSON")
		}
		_, err = c.call("PUT", path, map[string]any{"pattern": c.o.pattern, "definition": def,
			"priority": c.o.priority, "apply-to": c.o.applyTo})
		return err
	case "permissions":
		n, err := names(rest, 1, verb+" permissions USER")
		if err != nil {
			return err
		}
		path := p("permissions", c.o.vhost, n[0])
		if !set {
			_, err = c.call("DELETE", path, nil)
			return err
		}
		_, err = c.call("PUT", path, map[string]string{"configure": c.o.configure, "write": c.o.write, "read": c.o.read})
		return err
	}
	return usagef("want set|clear policy|permissions")
}

func (c *ctl) add(obj string, rest []string) error {
	switch obj {
	case "user":
		n, err := names(rest, 2, "add user NAME PASSWORD [--tags a,b]")
		if err != nil {
			return err
		}
		_, err = c.call("PUT", p("users", n[0]), map[string]any{"password": n[1], "tags": strings.Join(splitList(c.o.tags), ",")})
		return err
	case "vhost":
		n, err := names(rest, 1, "add vhost NAME")
		if err != nil {
			return err
		}
		_, err = c.call("PUT", p("vhosts", n[0]), map[string]any{})
		return err
	}
	return usagef("want add user|vhost")
}
