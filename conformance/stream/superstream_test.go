package stream

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/amqp"
	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/message"
	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/stream"
)

// newSuperStream declares a super stream of n partitions, deleted at the
// end.
func newSuperStream(t *testing.T, env *stream.Environment, n int) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), rand.Uint32())
	if err := env.DeclareSuperStream(name, stream.NewPartitionsOptions(n)); err != nil {
		t.Fatalf("declare super stream: %v", err)
	}
	t.Cleanup(func() { env.DeleteSuperStream(name) })
	return name
}

// publishSuper sends messages with ids from..to-1 (message-id "id-i") to
// the super stream, routed by hash of the id, and waits for the confirms.
func publishSuper(t *testing.T, env *stream.Environment, super string, from, to int) {
	t.Helper()
	p, err := env.NewSuperStreamProducer(super, stream.NewSuperStreamProducerOptions(
		stream.NewHashRoutingStrategy(func(m message.StreamMessage) string { return m.GetMessageProperties().MessageID.(string) })))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	confirms := p.NotifyPublishConfirmation(1)
	for i := from; i < to; i++ {
		m := amqp.NewMessage([]byte(fmt.Sprintf("id-%d", i)))
		m.Properties = &amqp.MessageProperties{MessageID: fmt.Sprintf("id-%d", i)}
		if err := p.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	deadline := time.After(waitTimeout)
	for got < to-from {
		select {
		case pc := <-confirms:
			for _, cs := range pc.ConfirmationStatus {
				if !cs.IsConfirmed() {
					t.Fatalf("not confirmed in %s: %v", pc.Partition, cs.GetError())
				}
				got++
			}
		case <-deadline:
			t.Fatalf("%d of %d confirms", got, to-from)
		}
	}
}

// A super stream: partitions in order, route by key, hash-routed
// publishing, and the same exchange and streams over AMQP 0-9-1.
func TestSuperStream(t *testing.T) {
	t.Parallel()
	tg := brokerUnderTest(t)
	tg.warrenOnly(t, "super streams", "3.11")
	env := tg.env(t)
	super := newSuperStream(t, env, 3)
	parts, err := env.QueryPartitions(super)
	if err != nil || len(parts) != 3 || parts[0] != super+"-0" || parts[2] != super+"-2" {
		t.Fatalf("partitions: %v, %v", parts, err)
	}
	if route, err := env.QueryRoute(super, "1"); err != nil || len(route) != 1 || route[0] != super+"-1" {
		t.Fatalf("route of key 1: %v, %v", route, err)
	}
	publishSuper(t, env, super, 0, 300)
	var rs []*received
	for _, p := range parts {
		r := newReceived()
		c, err := env.NewConsumer(p, r.handler, stream.NewConsumerOptions().SetOffset(stream.OffsetSpecification{}.First()))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		rs = append(rs, r)
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		total, counts := 0, []int{}
		for _, r := range rs {
			total += r.count()
			counts = append(counts, r.count())
		}
		if total == 300 {
			for i, n := range counts {
				if n == 0 {
					t.Errorf("partition %s got none of 300 hashed messages", parts[i])
				}
			}
			t.Logf("300 messages hashed over the partitions: %v", counts)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages over the partitions (%v), want 300", total, counts)
		}
		pollPause()
	}
	// AMQP 0-9-1 sees the direct exchange and publishes through it.
	conn := tg.amqp(t)
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeDeclarePassive(super, "direct", true, false, false, false, nil); err != nil {
		t.Fatalf("the super stream's exchange over AMQP 0-9-1: %v", err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), super, "2", true, false, amqp091.Publishing{Body: []byte("over 0-9-1")})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := dc.WaitContext(context.Background()); !ok || err != nil {
		t.Fatalf("confirm: %v %v", ok, err)
	}
	r := newReceived()
	c, err := env.NewConsumer(super+"-2", r.handler, stream.NewConsumerOptions().SetOffset(stream.OffsetSpecification{}.Last()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for {
		_, msgs := r.wait(t, r.count()+1)
		if string(msgs[len(msgs)-1].GetData()) == "over 0-9-1" {
			break
		}
	}
}

// timeline records single active consumer events for the log.
type timeline struct {
	start time.Time
	mu    sync.Mutex
	lines []string
	owner map[string]string // partition -> active consumer
	moved map[string]time.Time
}

func (tl *timeline) add(who, partition string, active bool) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.lines = append(tl.lines, fmt.Sprintf("%8.1f ms  %s %s on %s", float64(time.Since(tl.start).Microseconds())/1000, who, map[bool]string{true: "ACTIVE  ", false: "inactive"}[active], partition))
	if active {
		tl.owner[partition] = who
		tl.moved[partition] = time.Now()
	} else if tl.owner[partition] == who {
		delete(tl.owner, partition)
	}
}

func (tl *timeline) owners() map[string]string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	out := map[string]string{}
	for k, v := range tl.owner {
		out[k] = v
	}
	return out
}

// Single active consumer groups over a super stream of 6 partitions:
// members join (1, 2, 3) and leave; partitions spread 6, 3+3, 2+2+2 and
// move back within a second of a leave; each new owner resumes after the
// stored offset, so no message is skipped, and none is read twice before
// the last stored offset.
func TestSingleActiveConsumerRebalancing(t *testing.T) {
	t.Parallel()
	tg := brokerUnderTest(t)
	tg.warrenOnly(t, "stream single active consumer and super streams", "3.11")
	env := tg.env(t)
	super := newSuperStream(t, env, 6)
	const group = "group"
	tl := &timeline{start: time.Now(), owner: map[string]string{}, moved: map[string]time.Time{}}

	type key struct {
		partition string
		offset    int64
	}
	var mu sync.Mutex
	seen := map[key]int{}   // deliveries of each message
	ids := map[string]int{} // deliveries of each message id
	var dups []string
	newMember := func(who string) *stream.SuperStreamConsumer {
		sac := stream.NewSingleActiveConsumer(func(partition string, active bool) stream.OffsetSpecification {
			tl.add(who, partition, active)
			off, err := env.QueryOffset(group, partition)
			if err != nil {
				return stream.OffsetSpecification{}.First()
			}
			return stream.OffsetSpecification{}.Offset(off + 1)
		})
		c, err := env.NewSuperStreamConsumer(super, func(ctx stream.ConsumerContext, m *amqp.Message) {
			part := ctx.Consumer.GetStreamName()
			off := ctx.Consumer.GetOffset()
			mu.Lock()
			k := key{part, off}
			seen[k]++
			ids[string(m.GetData())]++
			if seen[k] > 1 {
				dups = append(dups, fmt.Sprintf("%s@%d by %s", part, off, who))
			}
			mu.Unlock()
			ctx.Consumer.StoreCustomOffset(off)
		}, stream.NewSuperStreamConsumerOptions().SetConsumerName(group).SetSingleActiveConsumer(sac).SetManualCommit())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// waitSpread waits until every partition has an owner and the owners
	// hold the given numbers of partitions.
	waitSpread := func(want ...int) map[string]string {
		t.Helper()
		deadline := time.Now().Add(waitTimeout)
		for {
			owners := tl.owners()
			count := map[string]int{}
			for _, o := range owners {
				count[o]++
			}
			var got []int
			for _, n := range count {
				got = append(got, n)
			}
			sort.Ints(got)
			if len(owners) == 6 && fmt.Sprint(got) == fmt.Sprint(want) {
				return owners
			}
			if time.Now().After(deadline) {
				t.Fatalf("owners %v, want a spread of %v", owners, want)
			}
			pollPause()
		}
	}
	waitAll := func(n int) {
		t.Helper()
		deadline := time.Now().Add(waitTimeout)
		for {
			mu.Lock()
			missing := 0
			for i := range n {
				if ids[fmt.Sprintf("id-%d", i)] == 0 {
					missing++
				}
			}
			mu.Unlock()
			if missing == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d messages never delivered", missing, n)
			}
			pollPause()
		}
	}

	publishSuper(t, env, super, 0, 600)
	a := newMember("A")
	defer a.Close()
	waitSpread(6)
	waitAll(600)
	b := newMember("B")
	waitSpread(3, 3)
	publishSuper(t, env, super, 600, 1200)
	waitAll(1200)
	c := newMember("C")
	defer c.Close()
	owners := waitSpread(2, 2, 2)
	publishSuper(t, env, super, 1200, 1800)
	waitAll(1800)

	// B leaves: its partitions move to A and C within a second.
	var bParts []string
	for p, o := range owners {
		if o == "B" {
			bParts = append(bParts, p)
		}
	}
	left := time.Now()
	tl.add("B", "(all)", false)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	waitSpread(3, 3)
	tl.mu.Lock()
	var slowest time.Duration
	for _, p := range bParts {
		if d := tl.moved[p].Sub(left); d > slowest {
			slowest = d
		}
	}
	tl.mu.Unlock()
	publishSuper(t, env, super, 1800, 2400)
	waitAll(2400)

	tl.mu.Lock()
	t.Logf("timeline (a consumer update per line):\n%s", strings.Join(tl.lines, "\n"))
	tl.mu.Unlock()
	t.Logf("B's partitions %v moved in %v", bParts, slowest)
	if slowest > time.Second {
		t.Errorf("rebalancing after B left took %v, want <= 1s", slowest)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("deliveries: %d distinct messages, %d redelivered after a hand-over: %v", len(ids), len(dups), dups)
	if len(ids) != 2400 {
		t.Errorf("%d distinct messages, want 2400", len(ids))
	}
}
