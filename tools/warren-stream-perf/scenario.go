package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/amqp"
	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/message"
	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/stream"
)

// env connects with 4 MiB socket buffers and a 1 MiB frame.
func env(url string) (*stream.Environment, error) {
	opts := stream.NewEnvironmentOptions().SetUri(url).SetMaxProducersPerClient(1).SetMaxConsumersPerClient(1)
	opts.TCPParameters.WriteBuffer = 4 << 20
	opts.TCPParameters.ReadBuffer = 4 << 20
	opts.TCPParameters.RequestedMaxFrameSize = 1 << 20
	return stream.NewEnvironment(opts)
}

// measure runs fn and fills in the broker's and the client's costs.
func measure(t target, scenario string, fn func() (int, string, error)) (result, error) {
	r := result{scenario: scenario, broker: t.name, rssBefore: rss(t.pid)}
	s := sampleRSS(t.pid)
	cpu0, self0 := cpuTime(t.pid), selfCPU()
	start := time.Now()
	n, note, err := fn()
	r.elapsed = time.Since(start)
	r.brokerCPU, r.clientCPU = cpuTime(t.pid)-cpu0, selfCPU()-self0
	r.rssMax = s.Stop()
	r.rssAfter = rss(t.pid)
	r.messages, r.note = n, note
	return r, err
}

func run(scenario string, t target, o options) ([]result, error) {
	e, err := env(t.url)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	name := fmt.Sprintf("perf-%s-%d", scenario, rand.Uint32())
	switch scenario {
	case "publish":
		if err := e.DeclareStream(name, nil); err != nil {
			return nil, err
		}
		defer e.DeleteStream(name)
		r, err := measure(t, "publish", func() (int, string, error) {
			return publish(e, name, o, o.messages)
		})
		return []result{r}, err
	case "replay":
		n := o.replay
		if n == 0 {
			n = o.messages
		}
		if err := e.DeclareStream(name, nil); err != nil {
			return nil, err
		}
		defer e.DeleteStream(name)
		if _, _, err := publish(e, name, o, n); err != nil {
			return nil, err
		}
		r, err := measure(t, "replay", func() (int, string, error) {
			total := 0
			for range max(o.replays, 1) {
				got, _, err := consume(e, name, stream.OffsetSpecification{}.First(), n, o.timeout, nil)
				total += got
				if err != nil {
					return total, "", err
				}
			}
			note := ""
			if o.replays > 1 {
				note = fmt.Sprintf("%d replays of %d", o.replays, n)
			}
			return total, note, nil
		})
		return []result{r}, err
	case "e2e":
		if err := e.DeclareStream(name, nil); err != nil {
			return nil, err
		}
		defer e.DeleteStream(name)
		r, err := measure(t, "e2e", func() (int, string, error) {
			ready := make(chan struct{})
			type res struct {
				n   int
				err error
			}
			done := make(chan res, 1)
			go func() {
				n, _, err := consume(e, name, stream.OffsetSpecification{}.Next(), o.messages, o.timeout, ready)
				done <- res{n, err}
			}()
			<-ready
			if _, _, err := publish(e, name, o, o.messages); err != nil {
				return 0, "", err
			}
			got := <-done
			return got.n, "", got.err
		})
		return []result{r}, err
	case "super":
		return superStream(e, t, name, o)
	case "super-procs":
		return superProcs(e, t, name, o) // group.go
	}
	return nil, fmt.Errorf("unknown scenario %q", scenario)
}

// publish sends n messages in batches with confirms, at most o.inflight
// unconfirmed.
func publish(e *stream.Environment, name string, o options, n int) (int, string, error) {
	p, err := e.NewProducer(name, stream.NewProducerOptions().SetQueueSize(o.inflight).SetBatchSize(o.batch))
	if err != nil {
		return 0, "", err
	}
	defer p.Close()
	body := make([]byte, o.size)
	batch := make([]message.StreamMessage, o.batch)
	for i := range batch {
		batch[i] = amqp.NewMessage(body)
	}
	var confirmed, failed atomic.Int64
	room := make(chan struct{}, 1)
	ch := p.NotifyPublishConfirmation()
	go func() {
		for cs := range ch {
			for _, c := range cs {
				if c.IsConfirmed() {
					confirmed.Add(1)
				} else {
					failed.Add(1)
				}
			}
			select {
			case room <- struct{}{}:
			default:
			}
		}
	}()
	sent := 0
	for sent < n {
		k := min(o.batch, n-sent)
		for int64(sent)-confirmed.Load()-failed.Load() > int64(o.inflight-k) {
			<-room
		}
		if err := p.BatchSend(batch[:k]); err != nil {
			return sent, "", err
		}
		sent += k
	}
	deadline := time.After(o.timeout)
	for confirmed.Load()+failed.Load() < int64(n) {
		select {
		case <-room:
		case <-deadline:
			return int(confirmed.Load()), "", errors.New("confirms timed out")
		}
	}
	if f := failed.Load(); f > 0 {
		return int(confirmed.Load()), "", fmt.Errorf("%d messages not confirmed", f)
	}
	return n, "", nil
}

// consume reads n messages from spec; ready (if set) is closed once the
// consumer is subscribed.
func consume(e *stream.Environment, name string, spec stream.OffsetSpecification, n int, timeout time.Duration, ready chan struct{}) (int, string, error) {
	var got atomic.Int64
	done := make(chan struct{})
	var once sync.Once
	c, err := e.NewConsumer(name, func(ctx stream.ConsumerContext, m *amqp.Message) {
		if got.Add(1) == int64(n) {
			once.Do(func() { close(done) })
		}
	}, stream.NewConsumerOptions().SetOffset(spec).SetManualCommit())
	if ready != nil {
		close(ready)
	}
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	select {
	case <-done:
		return n, "", nil
	case <-time.After(timeout):
		return int(got.Load()), "", errors.New("consume timed out")
	}
}

// superStream publishes over 6 partitions, then reads them with groups
// of 1, 2 and 3 single active consumers.
func superStream(e *stream.Environment, t target, name string, o options) ([]result, error) {
	if err := e.DeclareSuperStream(name, stream.NewPartitionsOptions(6)); err != nil {
		return nil, err
	}
	defer e.DeleteSuperStream(name)
	pub, err := measure(t, "super-publish", func() (int, string, error) { return publishSuper(e, name, o, 0, o.messages) })
	out := []result{pub}
	if err != nil {
		return out, err
	}
	for members := 1; members <= 3; members++ {
		group := fmt.Sprintf("g%d", members)
		r, err := measure(t, fmt.Sprintf("super-read-%d", members), func() (int, string, error) {
			// Partition j holds the messages i with i % 6 == j, at offsets
			// 0, 1, ...: done when each partition's last offset is in.
			var last [6]atomic.Int64
			var complete atomic.Int64
			done := make(chan struct{})
			var once sync.Once
			var cs []*stream.SuperStreamConsumer
			defer func() {
				for _, c := range cs {
					c.Close()
				}
			}()
			for range members {
				sac := stream.NewSingleActiveConsumer(func(partition string, active bool) stream.OffsetSpecification {
					j := partitionIndex(partition)
					if j >= 0 && last[j].Load() > 0 {
						return stream.OffsetSpecification{}.Offset(last[j].Load() + 1)
					}
					return stream.OffsetSpecification{}.First()
				})
				c, err := e.NewSuperStreamConsumer(name, func(ctx stream.ConsumerContext, _ *amqp.Message) {
					j := partitionIndex(ctx.Consumer.GetStreamName())
					off := ctx.Consumer.GetOffset()
					if j < 0 {
						return
					}
					want := int64((o.messages - j + 5) / 6)
					for {
						cur := last[j].Load()
						if off <= cur || last[j].CompareAndSwap(cur, off) {
							break
						}
					}
					if off == want-1 && complete.Add(1) == 6 {
						once.Do(func() { close(done) })
					}
				}, stream.NewSuperStreamConsumerOptions().SetConsumerName(group).SetSingleActiveConsumer(sac).SetManualCommit())
				if err != nil {
					return 0, "", err
				}
				cs = append(cs, c)
			}
			select {
			case <-done:
				return o.messages, fmt.Sprintf("%d consumer(s) in one group", members), nil
			case <-time.After(o.timeout):
				return 0, "", errors.New("consume timed out")
			}
		})
		out = append(out, r)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// publishSuper publishes n messages numbered from on the super stream
// (message i to partition i % 6), with confirms.
func publishSuper(e *stream.Environment, name string, o options, from, n int) (int, string, error) {
	p, err := e.NewSuperStreamProducer(name, stream.NewSuperStreamProducerOptions(roundRobin{}))
	if err != nil {
		return 0, "", err
	}
	defer p.Close()
	var confirmed atomic.Int64
	all := make(chan struct{})
	var once sync.Once
	ch := p.NotifyPublishConfirmation(64)
	go func() {
		for pc := range ch {
			if confirmed.Add(int64(len(pc.ConfirmationStatus))) >= int64(n) {
				once.Do(func() { close(all) })
			}
		}
	}()
	body := make([]byte, o.size)
	for i := from; i < from+n; i++ {
		m := amqp.NewMessage(body)
		m.Properties = &amqp.MessageProperties{MessageID: strconv.Itoa(i)}
		if err := p.Send(m); err != nil {
			return i - from, "", err
		}
	}
	select {
	case <-all:
	case <-time.After(o.timeout):
		return int(confirmed.Load()), "", errors.New("confirms timed out")
	}
	return n, "6 partitions, Send per message", nil
}

// roundRobin routes message i (its message-id) to partition i % n.
type roundRobin struct{}

func (roundRobin) Route(m message.StreamMessage, partitions []string) ([]string, error) {
	i, _ := strconv.Atoi(m.GetMessageProperties().MessageID.(string))
	return []string{partitions[i%len(partitions)]}, nil
}

func (roundRobin) SetRouteParameters(string, func(string, string) ([]string, error)) {}

// partitionIndex is j of a partition named <super stream>-j.
func partitionIndex(p string) int {
	i := strings.LastIndexByte(p, '-')
	if i < 0 {
		return -1
	}
	j, err := strconv.Atoi(p[i+1:])
	if err != nil || j < 0 || j > 5 {
		return -1
	}
	return j
}
