package queue

import (
	"fmt"
	"testing"
)

// TestSetLimitsAppliesToMessagesThere: replacing a live queue's limits
// drops from the head at once under drop-head (dead-lettering with reason
// maxlen when it has a dead-letter exchange), leaves the messages of a
// reject-publish queue alone but refuses new ones, and keeps what is fixed
// at declaration (priorities, single active consumer).
func TestSetLimitsAppliesToMessagesThere(t *testing.T) {
	var dead []string
	q := New(Config{Name: "q", Args: map[string]any{"x-max-priority": int32(3)}})
	q.DeadLetter = func(q *Queue, e Entry, r Reason) {
		dead = append(dead, fmt.Sprintf("%s:%s", e.Msg.Body, r))
		q.Settle(e)
	}
	for i := range 5 {
		if _, err := q.Publish(msg(fmt.Sprint(i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	l := *q.Limits()
	l.MaxLength, l.DLX, l.DeadLetterExchange, l.MaxPriority = 2, true, "dlx", 0
	q.SetLimits(l)
	if n := q.Snapshot().Ready; n != 2 {
		t.Fatalf("%d ready after max-length 2, want 2", n)
	}
	if fmt.Sprint(dead) != "[0:maxlen 1:maxlen 2:maxlen]" {
		t.Errorf("dead-lettered %v, want the three oldest with reason maxlen", dead)
	}
	if q.Limits().MaxPriority != 3 {
		t.Errorf("SetLimits changed the priority levels fixed at declaration")
	}
	l = *q.Limits()
	l.MaxLength, l.Overflow = 1, RejectPublish
	q.SetLimits(l)
	if n := q.Snapshot().Ready; n != 2 {
		t.Errorf("reject-publish dropped messages already there: %d ready, want 2", n)
	}
	if _, err := q.Publish(msg("new"), nil); err != ErrRejected {
		t.Errorf("publish past the new limit: %v, want ErrRejected", err)
	}
}
