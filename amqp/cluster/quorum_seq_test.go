package cluster

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	pb "go.etcd.io/raft/v3/raftpb"
)

// TestQuorumLostForwardProposalsResent: a follower's batches are
// forwarded to the leader as raft proposals; the peer link loses every
// third of them while the leader and its term stay the same. Each lost
// batch is proposed again (sequenced: qseq.go) long before the propose
// timeout: every message is confirmed within a few election timeouts,
// none is nacked, and all come out once, in publishing order.
func TestQuorumLostForwardProposalsResent(t *testing.T) {
	c := newCluster(t, three, func(cfg *Config) { cfg.ProposeTimeout = 10 * time.Second }, three...)
	c.waitLeader()
	leader := c.declareQuorum("a", "lossy", nil)
	follower := c.other(leader)
	gid := QueueGroupID("/", "lossy")
	var props, lost atomic.Int64
	c.nodes[follower].node.tr.setDrop(func(group uint64, m *pb.Message) bool {
		if group != gid || m.GetType() != pb.MessageType_MsgProp {
			return false
		}
		if props.Add(1)%3 == 0 {
			lost.Add(1)
			return true
		}
		return false
	})
	ch, err := c.mustDial(follower).Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	const chunks, per = 30, 5
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var worst time.Duration
	for k := range chunks {
		start := time.Now()
		var dcs []*amqp091.DeferredConfirmation
		for i := range per {
			dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", "lossy", false, false,
				amqp091.Publishing{DeliveryMode: amqp091.Persistent, Body: []byte(strconv.Itoa(k*per + i))})
			if err != nil {
				t.Fatal(err)
			}
			dcs = append(dcs, dc)
		}
		for i, dc := range dcs {
			if ok, err := dc.WaitContext(ctx); !ok || err != nil {
				t.Fatalf("message %d: confirmed %v (%v) after %v", k*per+i, ok, err, time.Since(start))
			}
		}
		worst = max(worst, time.Since(start))
	}
	c.nodes[follower].node.tr.setDrop(nil)
	if lost.Load() == 0 {
		t.Fatalf("no proposal was lost (%d forwarded): the test proves nothing", props.Load())
	}
	t.Logf("%d forwarded proposals, %d lost; slowest confirm %v", props.Load(), lost.Load(), worst)
	if worst > 5*time.Second {
		t.Fatalf("a confirm took %v (propose timeout 10 s)", worst)
	}
	bodies, _, _ := consume(t, c.mustDial(leader), "lossy", 50, chunks*per, true)
	for i, b := range bodies {
		if b != strconv.Itoa(i) {
			t.Fatalf("message %d is %q: %v", i, b, bodies)
		}
	}
	c.groupMessages("lossy", 0)
	if n := c.msgCount(leader, "lossy"); n != 0 {
		t.Fatalf("%d messages left after all %d were consumed", n, chunks*per)
	}
}

// msgCount is how many messages node's instance of queue holds.
func (c *testCluster) msgCount(node, queue string) int {
	n, _ := c.nodes[node].srv.Broker().Vhost("/").Queue(queue).Counts()
	return n
}

// TestQStateAdmitSequence: a proposer's batches apply once, in order; a
// copy is a duplicate, one after a gap is refused until the gap fills;
// incarnations are apart; the table survives a snapshot.
func TestQStateAdmitSequence(t *testing.T) {
	var s qstate
	h := func(node, inc, seq uint64) qhdr { return qhdr{node: node, inc: inc, seq: seq, id: seq} }
	steps := []struct {
		h    qhdr
		want verdict
	}{
		{h(1, 10, 1), vApply},
		{h(1, 10, 3), vGap},
		{h(1, 10, 1), vDup},
		{h(1, 10, 2), vApply},
		{h(1, 10, 3), vApply},
		{h(2, 5, 2), vGap},
		{h(2, 5, 1), vApply},
		{h(1, 11, 1), vApply}, // node 1 restarted
		{h(1, 10, 4), vApply}, // its old incarnation's late batch is its own sequence
		{h(1, 11, 1), vDup},
	}
	for i, st := range steps {
		if got := s.admit(st.h); got != st.want {
			t.Fatalf("step %d %+v: verdict %d, want %d", i, st.h, got, st.want)
		}
	}
	d, _, err := decodeQState(s.encode())
	if err != nil {
		t.Fatal(err)
	}
	if d.admit(h(1, 10, 5)) != vApply || d.admit(h(2, 5, 1)) != vDup || d.admit(h(1, 11, 3)) != vGap {
		t.Fatalf("the snapshot lost the proposers: %v", d.procs)
	}
	for inc := uint64(20); inc < 30; inc++ {
		s.admit(h(3, inc, 1))
	}
	n := 0
	for k := range s.procs {
		if k.node == 3 {
			n++
		}
	}
	if n != incarnationsKept {
		t.Fatalf("%d incarnations of node 3 kept, want %d", n, incarnationsKept)
	}
	if s.admit(h(3, 29, 1)) != vDup || s.admit(h(3, 26, 1)) != vDup {
		t.Fatal("the highest incarnations were not the ones kept")
	}
}

// TestQEntrySeqRoundTrip: a version 3 entry decodes to its header and
// operations; a zero sequence or a truncation is an error.
func TestQEntrySeqRoundTrip(t *testing.T) {
	var p pendingOps
	p.enqueue(msg("a"), nil)
	p.seqs(opSettle, []uint64{4})
	e := p.entrySeq(7, 99, 3)
	h, ops, err := decodeQEntryHdr(e)
	if err != nil || h.node != 7 || h.inc != 99 || h.seq != 3 || len(ops) != 2 {
		t.Fatalf("decoded %+v, %d ops, %v", h, len(ops), err)
	}
	for i := range len(e) {
		if _, _, err := decodeQEntryHdr(e[:i]); err == nil {
			t.Fatalf("a truncated entry (%d of %d bytes) decoded", i, len(e))
		}
	}
	if _, _, err := decodeQEntryHdr((&pendingOps{}).entrySeq(7, 99, 0)); err == nil {
		t.Fatal("sequence 0 decoded")
	}
}
