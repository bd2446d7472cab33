package demo

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// outcome is what a worker's handler decides for a delivery.
type outcome int

const (
	ack     outcome = iota // done: basic.ack
	requeue                // failed: basic.nack requeue=true (try again)
	reject                 // failed for good: basic.reject requeue=false (dead-letter)
	leave                  // neither: the handler never answers (a stuck or dying worker)
)

// worker is a simulated service: its own connection and channel, one
// consumer, and a goroutine that hands each delivery to its handler and
// acknowledges as the handler says. The handler runs on that goroutine,
// one delivery at a time.
type worker struct {
	name string
	sock net.Conn // the TCP socket, for kill
	conn *amqp.Connection
	ch   *amqp.Channel
	tag  string
	done chan struct{}
	end  sync.Once // stop and kill: the first call ends the worker

	mu struct {
		sync.Mutex
		handled int
	}
}

// startWorker connects as name and consumes queue with prefetch, manual
// acknowledgements, and args as the consumer's arguments.
func (e *env) startWorker(ctx context.Context, name, queue string, prefetch int, args amqp.Table,
	handle func(ctx context.Context, d amqp.Delivery) outcome) (*worker, error) {
	w := &worker{name: name, tag: name, done: make(chan struct{})}
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName("warren demo: " + name)
	conn, err := amqp.DialConfig(e.amqpURL, amqp.Config{
		Properties: props,
		Heartbeat:  10 * time.Second,
		Dial: func(network, addr string) (net.Conn, error) {
			c, err := net.DialTimeout(network, addr, 5*time.Second)
			w.sock = c
			return c, err
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%s cannot connect: %w", name, err)
	}
	w.conn = conn
	if w.ch, err = conn.Channel(); err == nil {
		err = w.ch.Qos(prefetch, 0, false)
	}
	var ds <-chan amqp.Delivery
	if err == nil {
		ds, err = w.ch.Consume(queue, w.tag, false, false, false, false, args)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("%s cannot consume from %s: %w", name, queue, err)
	}
	go func() {
		defer close(w.done)
		for d := range ds {
			o := handle(ctx, d)
			switch o {
			case ack:
				d.Ack(false)
			case requeue:
				d.Nack(false, true)
			case reject:
				d.Reject(false)
			}
			w.mu.Lock()
			w.mu.handled++
			w.mu.Unlock()
		}
	}()
	return w, nil
}

// handled is how many deliveries the handler has finished.
func (w *worker) handled() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mu.handled
}

// stop cancels the consumer (the deliveries already sent are still
// handled and acknowledged) and closes the connection. Stopping a worker
// that has ended does nothing.
func (w *worker) stop() {
	w.end.Do(func() {
		w.ch.Cancel(w.tag, false)
		<-w.done
		w.conn.Close()
	})
}

// kill drops the TCP connection as a crashing process would: no cancel,
// no close, the unacknowledged deliveries left to the broker.
func (w *worker) kill() {
	w.end.Do(func() {
		w.sock.Close()
		<-w.done
		w.conn.Close()
	})
}
