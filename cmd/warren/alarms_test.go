package main

import (
	"testing"

	"github.com/warrenmq/warren/alarm"
)

// --memory-high-watermark takes a fraction or a size, from the flags, the
// environment or the file, and defaults to RabbitMQ's 0.6.
func TestMemoryHighWatermarkFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want alarm.Watermark
	}{
		{nil, nil, alarm.Watermark{Fraction: 0.6}},
		{[]string{"--memory-high-watermark", "0.4"}, nil, alarm.Watermark{Fraction: 0.4}},
		{[]string{"--memory-high-watermark", "2GiB"}, nil, alarm.Watermark{Absolute: 2 << 30}},
		{nil, map[string]string{"WARREN_MEMORY_HIGH_WATERMARK": "512MiB"}, alarm.Watermark{Absolute: 512 << 20}},
	} {
		c, err := loadConfig(tc.args, envMap(tc.env))
		if err != nil {
			t.Fatalf("%v %v: %v", tc.args, tc.env, err)
		}
		if c.memoryWatermark.w != tc.want {
			t.Errorf("%v %v: %+v, want %+v", tc.args, tc.env, c.memoryWatermark.w, tc.want)
		}
	}
	for _, bad := range []string{"1.5", "0", "lots"} {
		if _, err := loadConfig([]string{"--memory-high-watermark", bad}, envMap(nil)); err == nil {
			t.Errorf("--memory-high-watermark %s: no error", bad)
		}
	}
}
