package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// DefsWorkload declares and deletes queues, exchanges and bindings
// (named chaos.q.N, chaos.x.N) through random nodes, one operation at a
// time, and records what each answered: an object whose last operation
// succeeded is committed present or absent; one with an operation that
// failed otherwise than with a 404 is unknown from then on: that
// operation may commit at any later time (a proposal the cluster still
// holds, proposed again after a leader change), after operations that
// succeeded since, as Jepsen counts an indeterminate operation
// concurrent with everything after it. Every node must still hold the
// same definitions.
type DefsWorkload struct {
	Nodes    []string
	URL      func(node string) string
	Seed     uint64
	Objects  int           // 0: 8 of each kind
	OpWait   time.Duration // how long one operation may take (0: 15 s)
	Timeline *Timeline

	mu struct {
		sync.Mutex
		state map[string]defState // "queue chaos.q.1", "exchange chaos.x.1"
		maybe map[string]bool     // objects an indeterminate operation may still change
		ok    int                 // operations that succeeded
		fail  int
	}
}

type defState int

const (
	defUnknown defState = iota
	defPresent
	defAbsent
)

// Run runs operations until ctx ends.
func (w *DefsWorkload) Run(ctx context.Context) {
	if w.Objects == 0 {
		w.Objects = 8
	}
	if w.OpWait == 0 {
		w.OpWait = 15 * time.Second
	}
	r := rand.New(rand.NewPCG(w.Seed, 0xdef5))
	for ctx.Err() == nil {
		node := w.Nodes[r.IntN(len(w.Nodes))]
		url := w.URL(node)
		if url == "" {
			idle := time.NewTimer(20 * time.Millisecond) // the node is down: try another soon
			select {
			case <-idle.C:
			case <-ctx.Done():
				idle.Stop()
			}
			continue
		}
		i := r.IntN(w.Objects)
		q, x := fmt.Sprintf("chaos.q.%d", i), fmt.Sprintf("chaos.x.%d", i)
		var op func(*amqp091.Channel) error
		var obj string
		var after defState
		switch r.IntN(6) {
		case 0, 1:
			obj, after = "queue "+q, defPresent
			op = func(ch *amqp091.Channel) error {
				_, err := ch.QueueDeclare(q, true, false, false, false, amqp091.Table{"x-max-length": int32(1000)})
				return err
			}
		case 2:
			obj, after = "exchange "+x, defPresent
			op = func(ch *amqp091.Channel) error {
				return ch.ExchangeDeclare(x, "fanout", true, false, false, false, nil)
			}
		case 3:
			op = func(ch *amqp091.Channel) error { return ch.QueueBind(q, "k", x, false, nil) }
		case 4:
			obj, after = "queue "+q, defAbsent
			op = func(ch *amqp091.Channel) error { _, err := ch.QueueDelete(q, false, false, false); return err }
		case 5:
			obj, after = "exchange "+x, defAbsent
			op = func(ch *amqp091.Channel) error { return ch.ExchangeDelete(x, false, false) }
		}
		w.record(obj, after, w.do(ctx, url, op))
	}
}

// record takes the answer err to an operation that leaves obj ("": a
// binding, not tracked) in state after when it succeeds.
func (w *DefsWorkload) record(obj string, after defState, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mu.state == nil {
		w.mu.state = map[string]defState{}
		w.mu.maybe = map[string]bool{}
	}
	var ae *amqp091.Error
	switch {
	case err == nil:
		w.mu.ok++
		if obj != "" {
			w.mu.state[obj] = after
		}
	case errors.As(err, &ae) && ae.Code == amqp091.NotFound:
		w.mu.fail++ // refused, nothing changed
	default:
		w.mu.fail++
		if obj != "" {
			w.mu.state[obj] = defUnknown
			w.mu.maybe[obj] = true
		}
	}
}

// do runs op on a fresh connection to url, bounded by OpWait and ctx.
func (w *DefsWorkload) do(ctx context.Context, url string, op func(*amqp091.Channel) error) error {
	conn, err := amqp091.DialConfig(url, amqp091.Config{Heartbeat: 5 * time.Second, Dial: amqp091.DefaultDial(2 * time.Second)})
	if err != nil {
		return err
	}
	defer conn.CloseDeadline(time.Now().Add(time.Second))
	done := make(chan error, 1)
	go func() {
		ch, err := conn.Channel()
		if err == nil {
			err = op(ch)
		}
		done <- err
	}()
	timer := time.NewTimer(w.OpWait)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
	case <-ctx.Done():
	}
	conn.CloseDeadline(time.Now().Add(time.Second)) // the node may be paused
	<-done
	return errors.New("no answer in time")
}

// Counts are the operations that succeeded and failed.
func (w *DefsWorkload) Counts() (ok, failed int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mu.ok, w.mu.fail
}

// committed are the objects committed present (true) or absent (false).
func (w *DefsWorkload) committed() map[string]bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]bool{}
	for k, s := range w.mu.state {
		if s != defUnknown && !w.mu.maybe[k] {
			out[k] = s == defPresent
		}
	}
	return out
}

type defKind struct {
	list string
	id   []string
}

// defKinds are the definitions' lists compared, and what names an object
// in each.
func defKinds() []defKind {
	return []defKind{
		{"vhosts", []string{"name"}},
		{"users", []string{"name"}},
		{"permissions", []string{"user", "vhost"}},
		{"topic_permissions", []string{"user", "vhost", "exchange"}},
		{"parameters", []string{"vhost", "component", "name"}},
		{"global_parameters", []string{"name"}},
		{"policies", []string{"vhost", "name"}},
		{"queues", []string{"vhost", "name"}},
		{"exchanges", []string{"vhost", "name"}},
		{"bindings", nil}, // the whole record
	}
}

// Definitions are one node's objects: "queues /|q" -> canonical JSON.
type Definitions map[string]string

// GetQueue decodes GET /api/queues/%2F/NAME at apiURL (as guest, unless
// the URL names a user) into q.
func GetQueue(ctx context.Context, apiURL, queue string, q any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", apiURL+"/api/queues/%2F/"+url.PathEscape(queue), nil)
	if err != nil {
		return err
	}
	if req.URL.User == nil {
		req.SetBasicAuth("guest", "guest")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET queue %s at %s: %s", queue, apiURL, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(q)
}

// FetchDefinitions reads a node's GET /api/definitions (as guest).
func FetchDefinitions(ctx context.Context, apiURL string) (Definitions, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", apiURL+"/api/definitions", nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth("guest", "guest")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/api/definitions: %s: %.200s", apiURL, resp.Status, body)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, err
	}
	out := Definitions{}
	for _, k := range defKinds() {
		var items []map[string]any
		if len(raw[k.list]) > 0 {
			if err := json.Unmarshal(raw[k.list], &items); err != nil {
				return nil, fmt.Errorf("definitions %s: %w", k.list, err)
			}
		}
		for _, it := range items {
			if k.list == "users" {
				// A node seeds its first user itself, with its own salt:
				// compare what the log decides, the name and tags.
				it = map[string]any{"name": it["name"], "tags": it["tags"]}
			}
			canon, _ := json.Marshal(it) // maps marshal with sorted keys
			id := string(canon)
			if k.id != nil {
				var parts []string
				for _, f := range k.id {
					parts = append(parts, fmt.Sprint(it[f]))
				}
				id = strings.Join(parts, "|")
			}
			out[k.list+" "+id] = string(canon)
		}
	}
	return out, nil
}

// Disagreements compares the nodes' definitions: every object not
// identical on every node, and every committed object (present or
// absent) that some node holds otherwise, is one disagreement; samples
// describe a few.
func Disagreements(defs map[string]Definitions, committed map[string]bool) (int, []string) {
	var nodes []string
	ids := map[string]bool{}
	for n, d := range defs {
		nodes = append(nodes, n)
		for id := range d {
			ids[id] = true
		}
	}
	sort.Strings(nodes)
	var samples []string
	count := 0
	for id := range ids {
		var first string
		same := true
		for i, n := range nodes {
			v, ok := defs[n][id]
			if !ok {
				v = "(absent)"
			}
			if i == 0 {
				first = v
			} else if v != first {
				same = false
			}
		}
		if !same {
			count++
			if len(samples) < 8 {
				var per []string
				for _, n := range nodes {
					v, ok := defs[n][id]
					if !ok {
						v = "(absent)"
					}
					per = append(per, fmt.Sprintf("%s=%.120s", n, v))
				}
				samples = append(samples, id+": "+strings.Join(per, " "))
			}
		}
	}
	for obj, present := range committed {
		kind, name, _ := strings.Cut(obj, " ")
		id := kind + "s /|" + name
		for _, n := range nodes {
			if _, ok := defs[n][id]; ok != present {
				count++
				if len(samples) < 8 {
					samples = append(samples, fmt.Sprintf("%s committed present=%v, on %s present=%v", obj, present, n, ok))
				}
			}
		}
	}
	sort.Strings(samples)
	return count, samples
}

// Converge polls every node's definitions until they agree with each
// other and with the committed objects, or within passes; it returns the
// disagreements left (0: converged) and samples of them.
func Converge(ctx context.Context, nodes []string, apiURL func(string) string, committed map[string]bool, within time.Duration) (int, []string) {
	deadline := time.Now().Add(within)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		defs := map[string]Definitions{}
		var err error
		for _, n := range nodes {
			u := apiURL(n)
			if u == "" {
				err = fmt.Errorf("%s is down", n)
				break
			}
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defs[n], err = FetchDefinitions(rctx, u)
			cancel()
			if err != nil {
				break
			}
		}
		count, samples := -1, []string{fmt.Sprint(err)}
		if err == nil {
			count, samples = Disagreements(defs, committed)
			if count == 0 {
				return 0, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if count < 0 {
				count = len(nodes) // could not read them all: count every node as disagreeing
			}
			return count, samples
		}
		<-tick.C
	}
}
