package main

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/warrenmq/warren/alarm"
)

// The alarm setters, as rabbitmqctl's:
//
//	set-memory-high-watermark FRACTION | [absolute] SIZE   (set_vm_memory_high_watermark)
//	set-disk-free-limit SIZE | mem_relative FACTOR          (set_disk_free_limit)
//
// RabbitMQ's HTTP API has no path for them; these go to Warren's own
// (amqp/management/alarms.go). Effective at once on the node.

func (c *ctl) setMemoryHighWatermark(rest []string) error {
	const want = "want set-memory-high-watermark FRACTION (0.4) or set-memory-high-watermark [absolute] SIZE (256MiB)"
	var body map[string]any
	switch {
	case len(rest) == 2 && rest[0] == "absolute":
		n, err := alarm.ParseSize(rest[1])
		if err != nil || n <= 0 {
			return usagef("absolute %q: %s", rest[1], want)
		}
		body = map[string]any{"absolute": n}
	case len(rest) == 1:
		w, err := alarm.ParseWatermark(rest[0])
		if err != nil {
			return usagef("%v: %s", err, want)
		}
		if w.Absolute > 0 {
			body = map[string]any{"absolute": w.Absolute}
		} else {
			body = map[string]any{"relative": json.Number(strconv.FormatFloat(w.Fraction, 'g', -1, 64))}
		}
	default:
		return usagef("%s", want)
	}
	_, err := c.call("PUT", p("warren", "memory-high-watermark"), body)
	return err
}

func (c *ctl) setDiskFreeLimit(rest []string) error {
	const want = "want set-disk-free-limit SIZE (50MB) or set-disk-free-limit mem_relative FACTOR (1.5)"
	var body map[string]any
	switch {
	case len(rest) == 2 && rest[0] == "mem_relative":
		f, err := strconv.ParseFloat(rest[1], 64)
		if err != nil || f < 0 {
			return usagef("mem_relative %q: %s", rest[1], want)
		}
		body = map[string]any{"mem_relative": json.Number(strconv.FormatFloat(f, 'g', -1, 64))}
	case len(rest) == 1 && !strings.HasPrefix(rest[0], "-"):
		n, err := alarm.ParseSize(rest[0])
		if err != nil {
			return usagef("%q: %v: %s", rest[0], err, want)
		}
		body = map[string]any{"limit": n}
	default:
		return usagef("%s", want)
	}
	_, err := c.call("PUT", p("warren", "disk-free-limit"), body)
	return err
}
