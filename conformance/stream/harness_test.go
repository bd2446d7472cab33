package stream

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/amqp"
	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/message"
	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/stream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/warrenmq/warren/amqp/management"
	"github.com/warrenmq/warren/amqp/management/managementtest"
	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
	"github.com/warrenmq/warren/amqp/streamserver"
)

// waitTimeout bounds every wait: nothing waits for a fixed time.
const waitTimeout = 10 * time.Second

// target is the brokers a test runs against.
type target struct {
	streamURL string
	amqpURL   string // "" when STREAM_URL is set without AMQP_URL
	mgmtURL   string // http://user:pass@host:port; "" when STREAM_URL is set without MANAGEMENT_URL
	rabbit    bool   // STREAM_URL: another broker (RabbitMQ)
}

// brokerUnderTest returns STREAM_URL's broker, or starts a Warren for
// this test.
func brokerUnderTest(t *testing.T) target {
	t.Helper()
	if u := os.Getenv("STREAM_URL"); u != "" {
		return target{streamURL: u, amqpURL: os.Getenv("AMQP_URL"), mgmtURL: os.Getenv("MANAGEMENT_URL"), rabbit: true}
	}
	log := zap.NewNop()
	if os.Getenv("WARREN_TEST_LOG") != "" {
		log = zaptest.NewLogger(t)
	}
	srv, amqpURL := servertest.StartServer(t, server.Config{Logger: log, StreamDir: t.TempDir(), Users: []server.User{
		{Name: "guest", PasswordHash: server.HashPassword("guest"), Tags: []string{"administrator"}}, // as RabbitMQ's guest
	}})
	ss, err := streamserver.New(streamserver.Config{
		Broker: srv.Broker(),
		Logger: log,
		Auth: func(user, pass string, remote net.Addr) (streamserver.User, error) {
			u, err := srv.Authenticate(user, pass, remote)
			return streamserver.User{Name: u.Name, Vhosts: u.Vhosts}, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	addr := servertest.Serve(t, ss, streamserver.ErrServerClosed)
	_, mgmt := managementtest.Start(t, srv, amqpURL, 100*time.Millisecond, func(c *management.Config) { c.Streams = ss })
	return target{streamURL: "rabbitmq-stream://guest:guest@" + addr + "/", amqpURL: amqpURL,
		mgmtURL: strings.Replace(mgmt, "http://", "http://guest:guest@", 1)}
}

// warrenOnly skips a test of a feature RabbitMQ 3.10 lacks (since is the
// RabbitMQ version that brought it).
func (tg target) warrenOnly(t *testing.T, why, since string) {
	t.Helper()
	if tg.rabbit {
		t.Skipf("Warren-only: %s (RabbitMQ %s+; the reference here is 3.10)", why, since)
	}
}

// env opens a stream client environment, closed at the end of the test.
func (tg target) env(t *testing.T) *stream.Environment {
	t.Helper()
	opts := stream.NewEnvironmentOptions().SetUri(tg.streamURL)
	opts.TCPParameters.WriteBuffer = 1 << 20
	opts.TCPParameters.ReadBuffer = 1 << 20
	env, err := stream.NewEnvironment(opts)
	if err != nil {
		t.Fatalf("connecting to %s: %v", tg.streamURL, err)
	}
	t.Cleanup(func() { env.Close() })
	return env
}

// amqp opens an AMQP 0-9-1 connection (skipping without one).
func (tg target) amqp(t *testing.T) *amqp091.Connection {
	t.Helper()
	if tg.amqpURL == "" {
		t.Skip("STREAM_URL without AMQP_URL: no AMQP 0-9-1 side to cross with")
	}
	c, err := amqp091.Dial(tg.amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// newStream declares a stream with a unique name, deleted at the end.
func newStream(t *testing.T, env *stream.Environment) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), rand.Uint32())
	if err := env.DeclareStream(name, &stream.StreamOptions{}); err != nil {
		t.Fatalf("declare stream %s: %v", name, err)
	}
	t.Cleanup(func() { env.DeleteStream(name) })
	return name
}

// publishConfirmed sends n messages made by mk in batches and waits for
// all their confirms.
// newProducer is a producer on stream name, closed when the test ends.
func newProducer(t *testing.T, env *stream.Environment, name string) *stream.Producer {
	t.Helper()
	p, err := env.NewProducer(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func publishConfirmed(t *testing.T, p *stream.Producer, n, batch int, mk func(i int) *amqp.AMQP10) {
	t.Helper()
	confirmed := make(chan int, 1024)
	ch := p.NotifyPublishConfirmation()
	var failed []error
	var mu sync.Mutex
	go func() {
		for cs := range ch {
			k := 0
			for _, c := range cs {
				if c.IsConfirmed() {
					k++
				} else {
					mu.Lock()
					failed = append(failed, fmt.Errorf("publishing id %d: %v", c.GetPublishingId(), c.GetError()))
					mu.Unlock()
				}
			}
			confirmed <- k
		}
	}()
	for i := 0; i < n; i += batch {
		var msgs []message.StreamMessage
		for j := i; j < min(n, i+batch); j++ {
			msgs = append(msgs, mk(j))
		}
		if err := p.BatchSend(msgs); err != nil {
			t.Fatalf("batch send: %v", err)
		}
	}
	got := 0
	deadline := time.After(waitTimeout)
	for got < n {
		select {
		case k := <-confirmed:
			got += k
		case <-deadline:
			t.Fatalf("%d of %d confirms after %v", got, n, waitTimeout)
		}
		mu.Lock()
		if len(failed) > 0 {
			t.Fatalf("publish errors: %v", failed)
		}
		mu.Unlock()
	}
}

// received is what a consumer got: offsets and messages in order.
type received struct {
	mu   sync.Mutex
	offs []int64
	msgs []*amqp.Message
	more chan struct{}
}

func newReceived() *received { return &received{more: make(chan struct{}, 1)} }

func (r *received) handler(ctx stream.ConsumerContext, m *amqp.Message) {
	r.mu.Lock()
	r.offs = append(r.offs, ctx.Consumer.GetOffset())
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
}

// wait waits until at least n messages arrived and returns a copy.
func (r *received) wait(t *testing.T, n int) ([]int64, []*amqp.Message) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		r.mu.Lock()
		k := len(r.offs)
		if k >= n {
			offs, msgs := append([]int64(nil), r.offs...), append([]*amqp.Message(nil), r.msgs...)
			r.mu.Unlock()
			return offs, msgs
		}
		r.mu.Unlock()
		select {
		case <-r.more:
		case <-deadline:
			t.Fatalf("%d of %d messages after %v", k, n, waitTimeout)
		}
	}
}

func (r *received) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.offs)
}

func body(i int) *amqp.AMQP10 { return amqp.NewMessage([]byte(fmt.Sprintf("m%06d", i))) }

// isErr reports whether err is target (the client returns its sentinels).
func isErr(err, target error) bool { return errors.Is(err, target) }

// replaceUserInfo puts userinfo into a rabbitmq-stream:// URL.
func replaceUserInfo(u, userinfo string) string {
	const scheme = "rabbitmq-stream://"
	rest := strings.TrimPrefix(u, scheme)
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	return scheme + userinfo + "@" + rest
}

// pollPause spaces the polls of a condition that has no event to wait on
// (store offset has no response): a poll interval, not a synchronisation.
func pollPause() { <-time.After(5 * time.Millisecond) }
