package demo

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/amqp"
	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/message"
	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/stream"
)

// superStreams is what chapter 8 needs of a stream protocol client: the
// official Go client (rabbitmq-stream-go-client) behind it.
type superStreams interface {
	// Declare creates a super stream of n partitions and returns their
	// names; errNoSuperStreamCommand when the broker cannot over this
	// protocol (before RabbitMQ 3.13).
	Declare(name string, n int) ([]string, error)
	// Partitions are the partitions of a super stream, in order.
	Partitions(name string) ([]string, error)
	Delete(name string) error
	// Publish sends one message per key, body and routing key the key
	// (hashed to a partition), and waits for every confirm.
	Publish(ctx context.Context, name string, keys []string) error
	// Join adds member to the single-active-consumer group on name: it
	// reads the partitions the broker makes it active on, from the
	// group's stored offset.
	Join(name, group, member string, ev groupEvents) (leave func() error, err error)
	Close() error
}

// groupEvents are a member's callbacks, on the client's goroutines.
type groupEvents struct {
	activated func(partition string, active bool)
	received  func(partition, body string)
}

// streamClient is superStreams over rabbitmq-stream-go-client.
type streamClient struct {
	env *stream.Environment
}

// dialStreams connects to a stream protocol listener
// (rabbitmq-stream://user:pass@host:port/vhost).
func dialStreams(rawURL string) (superStreams, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("--stream-url: %w", err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return nil, fmt.Errorf("--stream-url %s: want rabbitmq-stream://user:pass@host:port", u.Redacted())
	}
	// Connect to the address given, whatever host the broker advertises.
	env, err := stream.NewEnvironment(stream.NewEnvironmentOptions().SetUri(rawURL).
		SetAddressResolver(stream.AddressResolver{Host: u.Hostname(), Port: port}))
	if err != nil {
		return nil, fmt.Errorf("cannot connect to the stream protocol listener at %s: %w", u.Redacted(), err)
	}
	return &streamClient{env: env}, nil
}

func (c *streamClient) Declare(name string, n int) ([]string, error) {
	if err := c.env.DeclareSuperStream(name, stream.NewPartitionsOptions(n)); err != nil {
		if strings.Contains(err.Error(), "not supported") { // the client's words for a broker before 3.13
			return nil, fmt.Errorf("%w: %v", errNoSuperStreamCommand, err)
		}
		return nil, fmt.Errorf("declaring the super stream %s: %w", name, err)
	}
	return c.Partitions(name)
}

func (c *streamClient) Partitions(name string) ([]string, error) {
	p, err := c.env.QueryPartitions(name)
	if err != nil {
		return nil, fmt.Errorf("the partitions of %s: %w", name, err)
	}
	return p, nil
}

func (c *streamClient) Delete(name string) error { return c.env.DeleteSuperStream(name) }

func (c *streamClient) Publish(ctx context.Context, name string, keys []string) error {
	route := stream.NewHashRoutingStrategy(func(m message.StreamMessage) string {
		k, _ := m.GetApplicationProperties()["key"].(string)
		return k
	})
	p, err := c.env.NewSuperStreamProducer(name, stream.NewSuperStreamProducerOptions(route))
	if err != nil {
		return fmt.Errorf("a producer on %s: %w", name, err)
	}
	defer p.Close()
	confirms := p.NotifyPublishConfirmation(len(keys))
	for _, k := range keys {
		m := amqp.NewMessage([]byte(k))
		m.ApplicationProperties = map[string]any{"key": k}
		if err := p.Send(m); err != nil {
			return err
		}
	}
	for confirmed := 0; confirmed < len(keys); {
		select {
		case pc := <-confirms:
			for _, s := range pc.ConfirmationStatus {
				if !s.IsConfirmed() {
					return fmt.Errorf("partition %s refused a message: %v", pc.Partition, s.GetError())
				}
				confirmed++
			}
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for confirms: %d of %d", confirmed, len(keys))
		}
	}
	return nil
}

func (c *streamClient) Join(name, group, member string, ev groupEvents) (func() error, error) {
	update := func(partition string, active bool) stream.OffsetSpecification {
		ev.activated(partition, active)
		if !active {
			return stream.OffsetSpecification{}.Next() // not read: it steps down
		}
		// Resume where the group's last active member stored its offset.
		if off, err := c.env.QueryOffset(group, partition); err == nil {
			return stream.OffsetSpecification{}.Offset(off + 1)
		}
		return stream.OffsetSpecification{}.First()
	}
	handle := func(cc stream.ConsumerContext, m *amqp.Message) {
		ev.received(cc.Consumer.GetStreamName(), string(m.GetData()))
		cc.Consumer.StoreOffset()
	}
	opts := stream.NewSuperStreamConsumerOptions().
		SetConsumerName(group).
		SetClientProvidedName(member).
		SetOffset(stream.OffsetSpecification{}.First()).
		SetSingleActiveConsumer(stream.NewSingleActiveConsumer(update))
	sc, err := c.env.NewSuperStreamConsumer(name, handle, opts)
	if err != nil {
		return nil, fmt.Errorf("%s joining %s: %w", member, group, err)
	}
	return sc.Close, nil
}

func (c *streamClient) Close() error { return c.env.Close() }
