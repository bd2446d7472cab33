package broker

import (
	"strings"
	"testing"

	"github.com/warrenmq/warren/queue"
)

// testReply is a direct reply-to consumer that keeps what it is given.
type testReply struct {
	name string
	got  []*queue.Message
}

func (r *testReply) DeliverReply(m *queue.Message) bool { r.got = append(r.got, m); return true }
func (r *testReply) Active() bool                       { return true }

func TestReplyRegistry(t *testing.T) {
	r := New(Config{})
	a := &testReply{name: NewReplyName()}
	b := &testReply{name: NewReplyName()}
	if a.name == b.name || !strings.HasPrefix(a.name, ReplyToPrefix) || len(a.name) < len(ReplyToPrefix)+32 {
		t.Fatalf("reply names %q and %q: want distinct random %s<token>", a.name, b.name, ReplyToPrefix)
	}
	if r.ReplyConsumer(a.name) != nil {
		t.Fatal("lookup in an empty registry found a consumer")
	}
	r.AddReplyConsumer(a.name, a)
	r.AddReplyConsumer(b.name, b)
	if r.ReplyConsumer(a.name) != a || r.ReplyConsumer(b.name) != b {
		t.Fatal("lookup does not find the consumers added")
	}
	r.RemoveReplyConsumer(a.name, a)
	if r.ReplyConsumer(a.name) != nil || r.ReplyConsumer(b.name) != b {
		t.Fatal("remove took the wrong consumer")
	}
}
