package server_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/alarm"
	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/storage"
)

// The disk alarm on a real 32 MiB tmpfs: a file filling the disk below
// the limit raises it, the publisher gets connection.blocked "low on disk"
// while a consumer drains; removing the file clears it. Changing the limit
// at run time (Monitor.SetDiskFreeLimit) raises and clears it too. Every
// confirmed persistent message is consumed.
func TestDiskAlarmOnTmpfs(t *testing.T) {
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=32m"); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v): the disk alarm test needs root and mount permission", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	st, err := storage.Open(storage.Options{Dir: filepath.Join(mnt, "data"), MemTableSize: 1 << 20, ValueLogFileSize: 1 << 20,
		MinFreeBytes: 8 << 20, DiskCheckInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	mon := alarm.New(alarm.Config{Disk: st, MemoryHighWatermark: alarm.Watermark{Fraction: 1}, Interval: 20 * time.Millisecond})
	srv, err := server.New(server.Config{Users: guestUsers, Store: st, Alarms: mon, Heartbeat: server.NoHeartbeat})
	if err != nil {
		t.Fatal(err)
	}
	mon.Start()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		mon.Stop()
		st.Close()
	})
	url := "amqp://guest:guest@" + ln.Addr().String() + "/"
	pubConn, err := amqp091.Dial(url)
	must(t, err, "dial")
	defer pubConn.Close()
	blocked := pubConn.NotifyBlocked(make(chan amqp091.Blocking, 8))
	pub, err := pubConn.Channel()
	must(t, err, "channel")
	must(t, pub.Confirm(false), "confirm")
	confirms := pub.NotifyPublish(make(chan amqp091.Confirmation, 64))
	_, err = pub.QueueDeclare("disk.alarm", true, false, false, false, nil)
	must(t, err, "declare")
	sent := 0
	publish := func() {
		t.Helper()
		must(t, pub.Publish("", "disk.alarm", false, false, amqp091.Publishing{DeliveryMode: amqp091.Persistent, Body: []byte(fmt.Sprint(sent))}), "publish")
		sent++
	}
	acks, nacks := 0, 0
	expectConfirms := func(n int) {
		t.Helper()
		for range n {
			select {
			case c := <-confirms:
				if c.Ack {
					acks++
				} else {
					// The publish read while the store was short: the
					// store refuses it, a nack, not a loss.
					nacks++
					t.Logf("nack of %d", c.DeliveryTag)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%d confirms of %d sent", acks, sent)
			}
		}
	}
	publish()
	expectConfirms(1)
	if free := st.DiskFree(); free < 8<<20 {
		t.Fatalf("free %d at start", free)
	}

	// Fill the disk to 4 MiB free, below the 8 MiB limit.
	var fs syscall.Statfs_t
	must(t, syscall.Statfs(mnt, &fs), "statfs")
	filler := filepath.Join(mnt, "filler")
	must(t, os.WriteFile(filler, make([]byte, int64(fs.Bavail)*int64(fs.Bsize)-(4<<20)), 0o600), "fill")
	publish() // wakes the reader, which then blocks
	expectBlocked(t, blocked, true, "low on disk")
	st1 := mon.Status()
	t.Logf("disk alarm: free %d MiB, limit %d MiB", st1.DiskFree>>20, st1.DiskFreeLimit>>20)
	publish() // held: not read
	must(t, os.Remove(filler), "remove the filler")
	expectBlocked(t, blocked, false, "")
	expectConfirms(2)

	// Run time: a limit above the free space raises it, a lower one clears it.
	mon.SetDiskFreeLimit(64 << 20)
	publish()
	expectBlocked(t, blocked, true, "low on disk")
	mon.SetDiskFreeLimit(8 << 20)
	expectBlocked(t, blocked, false, "")
	expectConfirms(1)

	conConn, err := amqp091.Dial(url)
	must(t, err, "dial consumer")
	defer conConn.Close()
	con, err := conConn.Channel()
	must(t, err, "consumer channel")
	got := consumeAll(t, con, "disk.alarm")
	if len(got) < acks || len(got) > acks+nacks {
		t.Fatalf("consumed %d; %d acked, %d nacked", len(got), acks, nacks)
	}
	t.Logf("%d published: %d acked, %d nacked, %d consumed", sent, acks, nacks, len(got))
}
