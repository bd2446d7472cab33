package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"
)

// Messages: publish, get, and move (Warren's endpoint, amqp/management
// move.go).

func (c *ctl) publish(rest []string) error {
	var body []byte
	switch len(rest) {
	case 0:
		var err error
		if body, err = io.ReadAll(c.stdin); err != nil {
			return usagef("reading the body from stdin: %v", err)
		}
	case 1:
		body = []byte(rest[0])
	default:
		return usagef("want publish [BODY] (one argument, or the body on stdin)")
	}
	props, err := jsonArg("properties", c.o.properties)
	if err != nil {
		return err
	}
	if props == nil {
		props = map[string]any{}
	}
	if c.o.persistent {
		props["delivery_mode"] = 2
	}
	req := map[string]any{"properties": props, "routing_key": c.o.routingKey}
	if utf8.Valid(body) {
		req["payload"], req["payload_encoding"] = string(body), "string"
	} else {
		req["payload"], req["payload_encoding"] = base64.StdEncoding.EncodeToString(body), "base64"
	}
	x := c.o.exchange
	if x == "" {
		x = "amq.default"
	}
	raw, err := c.call("POST", p("exchanges", c.o.vhost, x, "publish"), req)
	if err != nil {
		return err
	}
	if c.o.format == "json" {
		return c.output(raw, nil)
	}
	var res struct{ Routed bool }
	if err := json.Unmarshal(raw, &res); err != nil {
		return err
	}
	if !res.Routed {
		// rabbitmqadmin says the same: the publish succeeded, nothing took it.
		fmt.Fprintln(c.stdout, "Message published but NOT routed")
		return nil
	}
	fmt.Fprintln(c.stdout, "Message published")
	return nil
}

func (c *ctl) get(rest []string) error {
	if len(rest) != 1 {
		return usagef("want get QUEUE [--count N] [--ackmode MODE]")
	}
	count := c.o.count
	if count < 0 {
		count = 1
	}
	raw, err := c.call("POST", p("queues", c.o.vhost, rest[0], "get"),
		map[string]any{"count": count, "ackmode": c.o.ackmode, "encoding": "auto"})
	if err != nil {
		return err
	}
	cols := []string{"routing_key", "exchange", "message_count", "payload", "payload_bytes", "payload_encoding", "properties", "redelivered"}
	if c.o.columns != "" {
		cols = splitList(c.o.columns)
	}
	return c.output(raw, cols)
}

func (c *ctl) move(rest []string) error {
	if len(rest) != 1 {
		return usagef("want move QUEUE --to-queue Q | --to-exchange X [--routing-key K] | --to-origin [--count N] [--copy]")
	}
	var dest any
	chosen := 0
	if c.o.toQueue != "" {
		dest = map[string]string{"queue": c.o.toQueue}
		chosen++
	}
	if c.o.toExchange != "" {
		dest = map[string]string{"exchange": c.o.toExchange, "routing_key": c.o.routingKey}
		chosen++
	}
	if c.o.toOrigin {
		dest = "origin"
		chosen++
	}
	if chosen != 1 {
		return usagef("move: want one of --to-queue, --to-exchange or --to-origin")
	}
	req := map[string]any{"destination": dest, "copy": c.o.copy}
	if c.o.count == 0 {
		return usagef("move: --count must be at least 1 (omit it for all)")
	}
	if c.o.count > 0 {
		req["count"] = c.o.count
	}
	raw, err := c.call("POST", p("queues", c.o.vhost, rest[0], "actions", "move"), req)
	if err != nil {
		return err
	}
	if c.o.format == "json" {
		return c.output(raw, nil)
	}
	var res struct {
		Moved      int `json:"moved"`
		Unroutable int `json:"unroutable"`
		NoOrigin   int `json:"no_origin"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return err
	}
	verb := "Moved"
	if c.o.copy {
		verb = "Copied"
	}
	fmt.Fprintf(c.stdout, "%s %d messages", verb, res.Moved)
	if res.Unroutable > 0 {
		fmt.Fprintf(c.stdout, "; %d unroutable, left on %s", res.Unroutable, rest[0])
	}
	if res.NoOrigin > 0 {
		fmt.Fprintf(c.stdout, "; %d without x-death, left on %s", res.NoOrigin, rest[0])
	}
	fmt.Fprintln(c.stdout)
	return nil
}
