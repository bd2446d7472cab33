package server_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/storage"
)

// A broker whose data directory is a real tmpfs of tmpfsMiB, with Badger
// scaled down (1 MiB memtables and value-log files) so that the disk
// guard trips after a few MiB of messages, as it does on a full disk.
const (
	tmpfsMiB     = 24
	diskMinFree  = 8 << 20
	diskFullBody = 64 << 10
)

type fullDiskBroker struct {
	*durableBroker
	mnt string
}

func startFullDiskBroker(t *testing.T) *fullDiskBroker {
	t.Helper()
	return startFullDiskBrokerBudget(t, 0)
}

// startFullDiskBrokerBudget starts it with Config.MemoryBudget budget.
func startFullDiskBrokerBudget(t *testing.T, budget int64) *fullDiskBroker {
	t.Helper()
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, fmt.Sprintf("size=%dm", tmpfsMiB)); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v): the full-disk tests need root and mount permission", err)
	}
	t.Cleanup(func() { // after the broker's stop, registered below
		if err := syscall.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	b := &durableBroker{t: t, dir: filepath.Join(mnt, "data"), budget: budget, storeOpts: func(o *storage.Options) {
		o.MemTableSize, o.ValueLogFileSize, o.MinFreeBytes = 1<<20, 1<<20, diskMinFree
	}}
	b.start()
	t.Cleanup(b.stop)
	return &fullDiskBroker{durableBroker: b, mnt: mnt}
}

func (b *fullDiskBroker) free() int64 {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(b.mnt, &fs); err != nil {
		b.t.Fatal(err)
	}
	return int64(fs.Bavail) * int64(fs.Bsize)
}

// publishOne publishes one persistent message on a confirm channel and
// reports whether it was acked.
func publishOne(t *testing.T, ch *amqp091.Channel, q string, body []byte) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), durWait)
	defer cancel()
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", q, false, false,
		amqp091.Publishing{DeliveryMode: amqp091.Persistent, Body: body})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	ok, err := dc.WaitContext(ctx)
	if err != nil {
		t.Fatalf("confirm: %v", err)
	}
	return ok
}

// fillUntilNacked publishes persistent messages until nacks of them have
// been seen, and returns the bodies that were acked, in order.
func fillUntilNacked(t *testing.T, b *fullDiskBroker, ch *amqp091.Channel, q string, nacks int) (acked [][]byte) {
	t.Helper()
	seen := 0
	for i := 0; seen < nacks; i++ {
		if i > 10*tmpfsMiB<<20/diskFullBody {
			t.Fatalf("%d publishes and %d nacks: the disk guard never tripped (free %d)", i, seen, b.free())
		}
		body := make([]byte, diskFullBody)
		copy(body, fmt.Sprintf("message %d", i))
		if publishOne(t, ch, q, body) {
			if seen > 0 {
				t.Fatalf("publish %d acked after %d nacks: the guard must hold until space comes back", i, seen)
			}
			acked = append(acked, body)
		} else {
			seen++
		}
	}
	return acked
}

// A nack means "not accepted": once the disk guard trips, a persistent
// publish is nacked and reaches no queue, so the queue holds exactly the
// acked messages, its count says so, and a drain gets each of them once.
// A durable declare meanwhile is refused on its channel, not the
// connection. When the drained messages are acked, the guard lets go
// within seconds and publishes are confirmed again.
func TestDiskFullNackedPublishesAreNotEnqueued(t *testing.T) {
	b := startFullDiskBroker(t)
	conn := b.dial()
	defer conn.Close()
	ch, err := conn.Channel()
	must(t, err, "channel")
	must(t, ch.Confirm(false), "confirm.select")
	declareDurableQueue(t, ch, "full", nil)
	other, err := conn.Channel()
	must(t, err, "channel")
	declareDurableQueue(t, other, "other", nil)

	acked := fillUntilNacked(t, b, ch, "full", 20)
	t.Logf("%d acked, then 20 nacked; %d bytes free", len(acked), b.free())
	if len(acked) == 0 {
		t.Fatal("nothing was acked before the disk filled")
	}

	// The queue's count matches what was accepted.
	if n := queueCount(t, other, "full"); n != len(acked) {
		t.Errorf("queue 'full' counts %d messages after %d acked publishes and 20 nacked ones", n, len(acked))
	}

	// A durable declare is refused on its channel with a clear text; the
	// connection stays open.
	dch, err := conn.Channel()
	must(t, err, "channel")
	_, err = dch.QueueDeclare("declared-while-full", true, false, false, false, nil)
	var ae *amqp091.Error
	if !errors.As(err, &ae) || ae.Code != amqp091.PreconditionFailed || ae.Recover != true {
		t.Fatalf("durable queue.declare on a full disk: %v, want a channel error 406", err)
	}
	t.Logf("declare refused: %s", ae.Reason)
	if conn.IsClosed() {
		t.Fatal("the refused declare closed the connection")
	}

	// The drain gets every acked message once, in order, and nothing else.
	got := getAll(t, other, "full", false)
	if len(got) != len(acked) {
		t.Errorf("drained %d messages, %d were acked", len(got), len(acked))
	}
	for i := range min(len(got), len(acked)) {
		if string(got[i].Body) != string(acked[i]) {
			t.Fatalf("message %d: got %.12q, want %.12q", i, got[i].Body, acked[i])
		}
	}
	if len(got) > 0 {
		must(t, got[len(got)-1].Ack(true), "ack")
	}
	if n := queueCount(t, other, "full"); n != 0 {
		t.Errorf("queue 'full' counts %d after the drain; basic.get found nothing more", n)
	}

	// Space comes back: publishing resumes within seconds.
	drained := time.Now()
	deadline := drained.Add(15 * time.Second)
	for !publishOne(t, ch, "other", []byte("after the drain")) {
		if time.Now().After(deadline) {
			t.Fatalf("persistent publishes still nacked %v after the drain (%d bytes free)", time.Since(drained), b.free())
		}
		// The nacked message reached no queue: retrying cannot duplicate.
		// A poll, not a sleep to synchronise: each try is a publish.
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("first ack %v after the drain; %d bytes free", time.Since(drained).Round(time.Millisecond), b.free())
	if n := queueCount(t, other, "other"); n != 1 {
		t.Errorf("queue 'other' holds %d messages, want the 1 acked (nacked retries must not be enqueued)", n)
	}
}

// Paging out is a write too: while the disk is short, a transient message
// that a queue would page out (it has messages on disk only) is refused
// like a persistent one, so transient publishers cannot fill the disk
// past the guard.
func TestDiskFullRefusesMessagesThatWouldBePaged(t *testing.T) {
	b := startFullDiskBrokerBudget(t, 512<<10)
	conn := b.dial()
	defer conn.Close()
	ch, err := conn.Channel()
	must(t, err, "channel")
	must(t, ch.Confirm(false), "confirm.select")
	declareDurableQueue(t, ch, "paged", nil)

	acked := fillUntilNacked(t, b, ch, "paged", 3)
	if n := queueCount(t, ch, "paged"); n != len(acked) {
		t.Fatalf("queue 'paged' counts %d after %d acked publishes", n, len(acked))
	}
	ctx, cancel := context.WithTimeout(context.Background(), durWait)
	defer cancel()
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", "paged", false, false,
		amqp091.Publishing{DeliveryMode: amqp091.Transient, Body: make([]byte, diskFullBody)})
	must(t, err, "publish")
	if ok, err := dc.WaitContext(ctx); err != nil || ok {
		t.Fatalf("a transient message for a paged queue on a short disk: acked=%v (%v), want a nack", ok, err)
	}
	if n := queueCount(t, ch, "paged"); n != len(acked) {
		t.Errorf("queue 'paged' counts %d after %d acked publishes and nacked ones", n, len(acked))
	}
}
