package main

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/storage"
)

func TestByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"0", 0}, {"12345", 12345}, {"200MB", 200_000_000}, {"1GiB", 1 << 30}, {"512MiB", 512 << 20},
		{"64 KiB", 64 << 10}, {"3kb", 3000}, {"2TB", 2_000_000_000_000}, {"7B", 7}, {"1gib", 1 << 30},
	} {
		var b byteSize
		if err := b.Set(tc.in); err != nil || int64(b) != tc.want {
			t.Errorf("%q: got %d, %v; want %d", tc.in, b, err, tc.want)
		}
		var back byteSize
		if err := back.Set(b.String()); err != nil || back != b {
			t.Errorf("%q: String() %q does not read back: %d, %v", tc.in, b.String(), back, err)
		}
	}
	for _, in := range []string{"", "-1", "12XB", "MiB", "1.5GiB", "99999999999EiB", "9223372036854775808"} {
		var b byteSize
		if err := b.Set(in); err == nil {
			t.Errorf("%q: got %d, want an error", in, b)
		}
	}
}

// TestDiskFreeLimitFlag checks --disk-free-limit reaches the store's
// options, its default being the store's.
func TestDiskFreeLimitFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int64
	}{
		{nil, storage.DefaultMinFreeBytes},
		{[]string{"--disk-free-limit", "1GiB"}, 1 << 30},
		{[]string{"--disk-free-limit", "500000000"}, 500_000_000},
		{[]string{"--disk-free-limit", "0"}, -1}, // no check
	} {
		c, err := loadConfig(tc.args, envMap(nil))
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := c.storeOptions(nil).MinFreeBytes; got != tc.want {
			t.Errorf("%v: MinFreeBytes %d, want %d", tc.args, got, tc.want)
		}
	}
}

// TestDiskFreeLimitRefusesPersistentPublishes runs a real broker twice on
// one data directory: with the default limit it declares a durable queue
// and confirms a persistent publish to it; restarted with a
// --disk-free-limit beyond any disk, it does not confirm one (a nack, or
// the channel closed).
func TestDiskFreeLimitRefusesPersistentPublishes(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		limit string
		acked bool
	}{{"", true}, {"1EiB", false}} {
		args := []string{"--listen", "127.0.0.1:0", "--data-dir", dir}
		if tc.limit != "" {
			args = append(args, "--disk-free-limit", tc.limit)
		}
		p := startWarren(t, nil, args...)
		var addr string
		if !p.wait(func(_, errs []string) bool {
			for _, l := range errs {
				if i := strings.Index(l, `Warren listening	{"addr": "`); i >= 0 {
					addr, _, _ = strings.Cut(l[i+len(`Warren listening	{"addr": "`):], `"`)
					return true
				}
			}
			return false
		}) {
			t.Fatalf("the broker exited, or did not start within %v:\n%s", startWait, p.output())
		}
		conn, err := amqp091.DialConfig("amqp://guest:guest@"+addr+"/", amqp091.Config{Dial: amqp091.DefaultDial(startWait)})
		if err != nil {
			t.Fatalf("dial %s: %v\n%s", addr, err, p.output())
		}
		blocked := conn.NotifyBlocked(make(chan amqp091.Blocking, 1))
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.Confirm(false); err != nil {
			t.Fatal(err)
		}
		if tc.acked {
			if _, err := ch.QueueDeclare("disk", true, false, false, false, nil); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), startWait)
		acked := false
		conf, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", "disk", false, false,
			amqp091.Publishing{DeliveryMode: amqp091.Persistent, Body: []byte("x")})
		if err == nil {
			acked, err = conf.WaitContext(ctx)
		}
		cancel()
		t.Logf("--disk-free-limit %q: acked %v (%v)", tc.limit, acked, err)
		if acked != tc.acked {
			t.Fatalf("--disk-free-limit %q: acked %v (%v), want %v:\n%s", tc.limit, acked, err, tc.acked, p.output())
		}
		if !tc.acked {
			// The disk alarm blocks the publisher: connection.blocked, and
			// its socket is no longer read (not even connection.close, as
			// in RabbitMQ), so the broker's shutdown closes it.
			select {
			case b := <-blocked:
				if !b.Active || b.Reason != "low on disk" {
					t.Fatalf("got %+v, want connection.blocked \"low on disk\"", b)
				}
			case <-time.After(startWait):
				t.Fatalf("no connection.blocked under the disk alarm:\n%s", p.output())
			}
			p.cmd.Process.Signal(syscall.SIGTERM)
		}
		conn.Close()
		p.cmd.Process.Signal(syscall.SIGTERM)
		if code := p.exitCode(); code != 0 {
			t.Fatalf("after SIGTERM the exit code is %d:\n%s", code, p.output())
		}
	}
}
