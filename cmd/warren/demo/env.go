package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// env is what every chapter plays against: the broker's URLs, a control
// connection for declarations and counts, the printer and the figures of
// the chapter being played. One chapter at a time; the workers a chapter
// starts are its own goroutines, ended before it returns.
type env struct {
	fast      bool
	out       *printer
	amqpURL   string
	apiURL    string
	streamURL string
	embedded  bool // the broker is the embedded Warren

	conn *amqp.Connection // control: declarations, counts, publishing
	figs figures
}

func parseURL(s string) (*url.URL, error) { return url.Parse(s) }

// budget bounds one chapter: every wait in it ends by then.
func (e *env) budget() time.Duration {
	if e.fast {
		return 60 * time.Second
	}
	return 5 * time.Minute
}

// scale is a simulated delay: a tenth of it with --fast.
func (e *env) scale(d time.Duration) time.Duration {
	if e.fast {
		return d / 10
	}
	return d
}

// pick is n, or fast with --fast.
func (e *env) pick(n, fast int) int {
	if e.fast {
		return fast
	}
	return n
}

func (e *env) dial() error {
	c, err := e.connect("warren demo (control)")
	if err != nil {
		return err
	}
	e.conn = c
	return nil
}

func (e *env) close() {
	if e.conn != nil {
		e.conn.Close()
	}
}

// connect opens a new connection named name (the consoles show it).
func (e *env) connect(name string) (*amqp.Connection, error) {
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName(name)
	c, err := amqp.DialConfig(e.amqpURL, amqp.Config{Properties: props, Heartbeat: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("cannot connect to the broker at %s: %w", redact(e.amqpURL), err)
	}
	return c, nil
}

// product is the broker's name from its connection.start ("Warren",
// "RabbitMQ").
func (e *env) product() string {
	p, _ := e.conn.Properties["product"].(string)
	return p
}

// redact hides the password of a URL.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return u.Redacted()
}

// channel opens a channel on the control connection.
func (e *env) channel() (*amqp.Channel, error) {
	return e.conn.Channel()
}

// confirmChannel is a channel in confirm mode.
func confirmChannel(c *amqp.Connection) (*amqp.Channel, error) {
	ch, err := c.Channel()
	if err != nil {
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		ch.Close()
		return nil, err
	}
	return ch, nil
}

// publish publishes one message on a confirm channel and waits for the
// broker's confirm: when it returns, the broker has the message.
func publish(ctx context.Context, ch *amqp.Channel, exchange, key string, msg amqp.Publishing) error {
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, true, false, msg)
	if err != nil {
		return err
	}
	ok, err := dc.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("waiting for the confirm of %q: %w", key, err)
	}
	if !ok {
		return fmt.Errorf("the broker refused (nack) a message to %q", key)
	}
	return nil
}

// text is a persistent text message.
func text(body string) amqp.Publishing {
	return amqp.Publishing{ContentType: "text/plain", DeliveryMode: amqp.Persistent, Body: []byte(body)}
}

// depth is a queue's count of ready messages (a passive declare).
func (e *env) depth(queue string) (int, error) {
	ch, err := e.channel()
	if err != nil {
		return 0, err
	}
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	if err != nil {
		return 0, err
	}
	return q.Messages, nil
}

// deleteQueues and deleteExchanges remove what a chapter declared (and
// what an earlier run left), ignoring what does not exist.
func (e *env) deleteQueues(names ...string) {
	for _, n := range names {
		if ch, err := e.channel(); err == nil {
			ch.QueueDelete(n, false, false, false)
			ch.Close()
		}
	}
}

func (e *env) deleteExchanges(names ...string) {
	for _, n := range names {
		if ch, err := e.channel(); err == nil {
			ch.ExchangeDelete(n, false, false)
			ch.Close()
		}
	}
}

// stage clears what an earlier run left of exchange x and queues, then
// declares x (durable, of kind) on a new channel. done closes the channel
// and deletes them all again; a chapter defers it.
func (e *env) stage(x, kind string, queues ...string) (ch *amqp.Channel, done func(), err error) {
	e.deleteQueues(queues...)
	e.deleteExchanges(x)
	cleanup := func() {
		if ch != nil {
			ch.Close()
		}
		e.deleteQueues(queues...)
		e.deleteExchanges(x)
	}
	if ch, err = e.channel(); err != nil {
		cleanup()
		return nil, nil, err
	}
	if err = ch.ExchangeDeclare(x, kind, true, false, false, false, nil); err != nil {
		cleanup()
		return nil, nil, err
	}
	return ch, cleanup, nil
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, what string, cond func() bool) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for %s", what)
		case <-t.C:
		}
	}
	return nil
}

// pause is a simulated piece of work (a service's latency): it is the
// story's own delay, not a wait for the broker.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// apiError is a refusal of the management API.
type apiError struct {
	status int
	reason string
}

func (a *apiError) Error() string {
	if a.reason == "" {
		return fmt.Sprintf("HTTP %d %s", a.status, http.StatusText(a.status))
	}
	return fmt.Sprintf("HTTP %d: %s", a.status, a.reason)
}

// apiPost posts body as JSON to the management API's path and decodes
// the answer into res.
func (e *env) apiPost(ctx context.Context, path string, body, res any) error {
	u, err := url.Parse(e.apiURL)
	if err != nil {
		return fmt.Errorf("--api %q: %w", e.apiURL, err)
	}
	user, pass := "guest", "guest"
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
		u.User = nil
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimSuffix(u.String(), "/")+path, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the management API at %s: %w", u.Redacted(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Reason string }
		if json.Unmarshal(data, &e) != nil || e.Reason == "" {
			e.Reason = strings.TrimSpace(string(data))
		}
		return &apiError{status: resp.StatusCode, reason: e.Reason}
	}
	if res == nil {
		return nil
	}
	return json.Unmarshal(data, res)
}

// vhostOf is the URL-escaped vhost of an AMQP URL ("/" for none).
func vhostOf(amqpURL string) string {
	u, err := amqp.ParseURI(amqpURL)
	if err != nil || u.Vhost == "" {
		return url.PathEscape("/")
	}
	return url.PathEscape(u.Vhost)
}
