package cluster

import (
	"path/filepath"
	"testing"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/storage/raftlog"
)

// TestNoReapplyAfterCrash: the Raft log's applied index is saved after
// the broker's store has the commands' effects; a crash in between (made
// here by setting the saved applied index back) must not apply them
// again: delete-and-declare-again would delete the new queue and its
// messages a second time.
func TestNoReapplyAfterCrash(t *testing.T) {
	c := newCluster(t, []string{"a"}, nil, "a")
	c.waitLeader()
	before := c.nodes["a"].node.Status().Applied
	ch, err := c.mustDial("a").Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("q", true, false, false, false, amqp091.Table{"x-max-length": int32(5)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDelete("q", false, false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("q", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	conf, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), "", "q", false, false,
		amqp091.Publishing{DeliveryMode: amqp091.Persistent, Body: []byte("kept")})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := conf.WaitContext(t.Context()); !ok || err != nil {
		t.Fatalf("publish not confirmed: %v %v", ok, err)
	}
	c.stop("a")

	// The crash window: the store has everything, the log's applied
	// index is where it was before the three commands.
	s, err := raftlog.Open(raftlog.Options{Dir: filepath.Join(c.dirs["a"], "raft")})
	if err != nil {
		t.Fatal(err)
	}
	g, err := s.Group(metaGroup)
	if err != nil {
		t.Fatal(err)
	}
	b := s.NewBatch()
	b.SetApplied(g, before)
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	s.Close()

	c.start("a")
	c.waitLeader()
	var q amqp091.Queue
	if err := passive(c.mustDial("a"), func(ch *amqp091.Channel) (err error) {
		q, err = ch.QueueDeclarePassive("q", true, false, false, false, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if q.Messages != 1 {
		t.Fatalf("after the restart queue q has %d messages, want 1: the delete was applied again", q.Messages)
	}
}
