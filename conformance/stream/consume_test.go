package stream

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/amqp"
	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/stream"
)

// Each offset specification: first, offset, last, next, timestamp.
func TestOffsetSpecifications(t *testing.T) {
	t.Parallel()
	tg := brokerUnderTest(t)
	env := tg.env(t)
	name := newStream(t, env)
	p := newProducer(t, env, name)
	before := time.Now().Add(-time.Minute)
	const n = 300
	publishConfirmed(t, p, n-1, 100, body)
	// The last message alone, after the others' confirms: a chunk of its
	// own, for "last".
	publishConfirmed(t, p, 1, 1, func(int) *amqp.AMQP10 { return body(n - 1) })

	consume := func(t *testing.T, spec stream.OffsetSpecification) *received {
		t.Helper()
		r := newReceived()
		c, err := env.NewConsumer(name, r.handler, stream.NewConsumerOptions().SetOffset(spec))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return r
	}
	t.Run("first", func(t *testing.T) {
		offs, _ := consume(t, stream.OffsetSpecification{}.First()).wait(t, n)
		if offs[0] != 0 || offs[n-1] != n-1 {
			t.Fatalf("first: offsets %d..%d", offs[0], offs[n-1])
		}
	})
	t.Run("offset", func(t *testing.T) {
		offs, msgs := consume(t, stream.OffsetSpecification{}.Offset(250)).wait(t, 50)
		if offs[0] != 250 || string(msgs[0].GetData()) != "m000250" || offs[49] != 299 {
			t.Fatalf("offset 250: first %d %q, 50th %d", offs[0], msgs[0].GetData(), offs[49])
		}
	})
	t.Run("timestamp", func(t *testing.T) {
		offs, _ := consume(t, stream.OffsetSpecification{}.Timestamp(before.UnixMilli())).wait(t, n)
		if offs[0] != 0 {
			t.Fatalf("timestamp a minute ago: starts at %d", offs[0])
		}
	})
	t.Run("last", func(t *testing.T) {
		// The last chunk: it holds the last message, and none before the
		// chunk's first offset.
		offs, msgs := consume(t, stream.OffsetSpecification{}.Last()).wait(t, 1)
		deadline := time.Now().Add(waitTimeout)
		for offs[len(offs)-1] != n-1 && time.Now().Before(deadline) {
			offs, msgs = consume(t, stream.OffsetSpecification{}.Last()).wait(t, len(offs)+1)
		}
		if offs[len(offs)-1] != n-1 || string(msgs[len(msgs)-1].GetData()) != fmt.Sprintf("m%06d", n-1) || offs[0] == 0 {
			t.Fatalf("last: offsets %d..%d", offs[0], offs[len(offs)-1])
		}
	})
	t.Run("next and timestamp in the future", func(t *testing.T) {
		rn := consume(t, stream.OffsetSpecification{}.Next())
		rt := consume(t, stream.OffsetSpecification{}.Timestamp(time.Now().Add(time.Hour).UnixMilli()))
		publishConfirmed(t, p, 1, 1, func(int) *amqp.AMQP10 { return amqp.NewMessage([]byte("after")) })
		for _, r := range []*received{rn, rt} {
			offs, msgs := r.wait(t, 1)
			if offs[0] != n || string(msgs[0].GetData()) != "after" {
				t.Fatalf("got offset %d %q, want %d \"after\"", offs[0], msgs[0].GetData(), n)
			}
		}
	})
}

// Store offset and query offset, server-side; an unknown reference has
// none.
func TestStoreQueryOffset(t *testing.T) {
	t.Parallel()
	tg := brokerUnderTest(t)
	env := tg.env(t)
	name := newStream(t, env)
	if _, err := env.QueryOffset("reader", name); !errors.Is(err, stream.OffsetNotFoundError) {
		t.Fatalf("query offset before any store: %v, want %v", err, stream.OffsetNotFoundError)
	}
	if err := env.StoreOffset("reader", name, 42); err != nil {
		t.Fatal(err)
	}
	// Store offset has no response: poll.
	deadline := time.Now().Add(waitTimeout)
	for {
		off, err := env.QueryOffset("reader", name)
		if err == nil && off == 42 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("query offset: %d, %v; want 42", off, err)
		}
		pollPause()
	}
	// A consumer resumes after its stored offset.
	p := newProducer(t, env, name)
	publishConfirmed(t, p, 100, 100, body)
	r := newReceived()
	c, err := env.NewConsumer(name, r.handler, stream.NewConsumerOptions().SetConsumerName("reader").SetManualCommit().SetOffset(stream.OffsetSpecification{}.LastConsumed()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	offs, msgs := r.wait(t, 1)
	// rabbitmq: a stored offset is a tracking chunk in the stream, which
	// takes an offset: the messages are then at 1..100, not 0..99.
	if offs[0] != 42 && offs[0] != 43 || string(msgs[0].GetData()) > "m000043" {
		t.Fatalf("resumed at %d (%q), want 42 or 43", offs[0], msgs[0].GetData())
	}
	// The consumer stores its own offset: the last one it got.
	offs, msgs = r.wait(t, 100-int(offs[0]))
	for string(msgs[len(msgs)-1].GetData()) != "m000099" {
		offs, msgs = r.wait(t, len(msgs)+1)
	}
	want := offs[len(offs)-1]
	if err := c.StoreOffset(); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(waitTimeout)
	for {
		off, err := env.QueryOffset("reader", name)
		if err == nil && off == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("query offset after the consumer's store: %d, %v; want %d", off, err, want)
		}
		pollPause()
	}
}

// Stream management: exists, stats, metadata, delete, errors.
func TestStreamManagement(t *testing.T) {
	t.Parallel()
	tg := brokerUnderTest(t)
	env := tg.env(t)
	name := newStream(t, env)
	if ok, err := env.StreamExists(name); err != nil || !ok {
		t.Fatalf("exists: %v, %v", ok, err)
	}
	if ok, err := env.StreamExists(name + "-none"); err != nil || ok {
		t.Fatalf("a missing stream exists: %v, %v", ok, err)
	}
	md, err := env.StreamMetaData(name)
	if err != nil || md.Leader == nil {
		t.Fatalf("metadata: %+v, %v", md, err)
	}
	if err := env.DeclareStream(name, nil); err != nil {
		t.Fatalf("declaring an existing stream: %v (the client ignores stream already exists)", err)
	}
	if _, err := env.NewProducer(name+"-none", nil); err == nil {
		t.Fatal("a producer on a missing stream")
	}
	if _, err := env.NewConsumer(name+"-none", func(stream.ConsumerContext, *amqp.Message) {}, nil); err == nil {
		t.Fatal("a consumer on a missing stream")
	}
	if err := env.DeleteStream(name + "-none"); !errors.Is(err, stream.StreamDoesNotExist) {
		t.Fatalf("deleting a missing stream: %v", err)
	}
	if !tg.rabbit {
		// rabbitmq 3.10 has no stream stats (3.11).
		p, err := env.NewProducer(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		publishConfirmed(t, p, 10, 10, body)
		p.Close()
		st, err := env.StreamStats(name)
		if err != nil {
			t.Fatal(err)
		}
		if first, err := st.FirstOffset(); err != nil || first != 0 {
			t.Errorf("first offset %d, %v", first, err)
		}
		if last, err := st.CommittedChunkId(); err != nil || last < 0 || last > 9 {
			t.Errorf("committed chunk id %d, %v", last, err)
		}
	}
	// A consumer hears that its stream was deleted.
	closed := make(chan stream.Event, 1)
	c, err := env.NewConsumer(name, func(stream.ConsumerContext, *amqp.Message) {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		if e, ok := <-c.NotifyClose(); ok {
			closed <- e
		}
	}()
	if err := env.DeleteStream(name); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(waitTimeout):
		t.Fatal("the consumer was not told of its stream's deletion")
	}
	if ok, _ := env.StreamExists(name); ok {
		t.Fatal("the stream exists after its deletion")
	}
}

// Bad credentials and a missing vhost are refused.
func TestAuthentication(t *testing.T) {
	t.Parallel()
	tg := brokerUnderTest(t)
	bad := tg
	bad.streamURL = replaceUserInfo(tg.streamURL, "guest:wrong")
	if env, err := stream.NewEnvironment(stream.NewEnvironmentOptions().SetUri(bad.streamURL)); err == nil {
		env.Close()
		t.Fatal("connected with a wrong password")
	} else if !errors.Is(err, stream.AuthenticationFailure) {
		t.Logf("wrong password: %v", err)
	}
	if env, err := stream.NewEnvironment(stream.NewEnvironmentOptions().SetUri(tg.streamURL + "no-such-vhost")); err == nil {
		env.Close()
		t.Fatal("opened a missing vhost")
	} else if !errors.Is(err, stream.VirtualHostAccessFailure) {
		t.Errorf("missing vhost: %v, want %v", err, stream.VirtualHostAccessFailure)
	}
}
