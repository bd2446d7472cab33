package broker

import (
	"slices"
	"testing"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/storage"
)

func openStore(t testing.TB, dir string) *storage.Store {
	t.Helper()
	st, err := storage.Open(storage.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// started returns a broker on st, recovered from it.
func started(t *testing.T, st *storage.Store) *Broker {
	t.Helper()
	b := New(Config{Store: st})
	if _, err := b.Recover(); err != nil {
		t.Fatal(err)
	}
	return b
}

func apply(t *testing.T, v *Vhost, cmd Command) Result {
	t.Helper()
	r, err := v.Apply(cmd)
	if err != nil {
		t.Fatalf("%T%+v: %v", cmd, cmd, err)
	}
	return r
}

func routeNames(v *Vhost, x, key string) []string {
	var names []string
	for _, q := range v.Route(v.Exchange(x), key, func() map[string]any { return nil }, nil, nil) {
		names = append(names, q.Name)
	}
	slices.Sort(names)
	return names
}

func wantCode(t *testing.T, err error, code amqp.ReplyCode, text string) {
	t.Helper()
	ae, ok := err.(*amqp.Error)
	want := amqp.Errorf(code, "%s", text) // RabbitMQ's "NAME - text"
	if !ok || ae.Code != code || ae.Text != want.Text {
		t.Fatalf("got %v, want %v", err, want)
	}
}

// TestCoreDirect drives the core with no AMQP connection: declare, bind,
// route, RabbitMQ's errors, delete, and a restart from the store.
func TestCoreDirect(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	hooked := 0
	cfg := Config{Store: st, QueueHooks: func(v *Vhost, cfg *queue.Config) { hooked++ }}
	b := New(cfg)
	if _, err := b.Recover(); err != nil {
		t.Fatal(err)
	}
	v := b.Vhost("/")

	apply(t, v, DeclareExchange{Name: "orders", Kind: exchange.Topic, Durable: true})
	apply(t, v, DeclareExchange{Name: "scratch", Kind: exchange.Fanout})
	q := apply(t, v, DeclareQueue{Name: "eu", Durable: true}).Queue
	if q == nil || !q.Persist || q.ID == 0 || hooked != 1 {
		t.Fatalf("queue %+v, hooks called %d times", q, hooked)
	}
	apply(t, v, DeclareQueue{Name: "all", Durable: true})
	apply(t, v, DeclareQueue{Name: "temp"})
	apply(t, v, Bind{Source: "orders", Destination: exchange.Destination{Name: "eu"}, Key: "eu.*"})
	apply(t, v, Bind{Source: "orders", Destination: exchange.Destination{Name: "all"}, Key: "#"})
	apply(t, v, Bind{Source: "orders", Destination: exchange.Destination{Name: "temp"}, Key: "#"})
	apply(t, v, Bind{Source: "scratch", Destination: exchange.Destination{Name: "all"}})

	if got := routeNames(v, "orders", "eu.de"); !slices.Equal(got, []string{"all", "eu", "temp"}) {
		t.Fatalf("eu.de routes to %v", got)
	}
	if got := routeNames(v, "orders", "us.ny"); !slices.Equal(got, []string{"all", "temp"}) {
		t.Fatalf("us.ny routes to %v", got)
	}
	if got := routeNames(v, "", "eu"); !slices.Equal(got, []string{"eu"}) {
		t.Fatalf("the default exchange routes eu to %v", got)
	}

	// RabbitMQ's checks and texts.
	_, err := v.Apply(DeclareQueue{Name: "eu"})
	wantCode(t, err, amqp.PreconditionFailed, "inequivalent arg 'durable' for queue 'eu' in vhost '/': received 'false' but current is 'true'")
	_, err = v.Apply(Bind{Source: "orders", Destination: exchange.Destination{Name: "nope"}})
	wantCode(t, err, amqp.NotFound, "no queue 'nope' in vhost '/'")
	_, err = v.Apply(DeclareExchange{Name: "amq.mine", Kind: exchange.Direct})
	wantCode(t, err, amqp.AccessRefused, "exchange name 'amq.mine' contains reserved prefix 'amq.*'")
	_, err = v.Apply(DeleteExchange{Name: "orders", IfUnused: true})
	wantCode(t, err, amqp.PreconditionFailed, "exchange 'orders' in vhost '/' in use")
	_, err = b.Apply("nowhere", DeclareQueue{Name: "x"})
	wantCode(t, err, amqp.NotFound, "no vhost 'nowhere'")

	// Deleting a queue takes its bindings.
	apply(t, v, Unbind{Source: "orders", Destination: exchange.Destination{Name: "all"}, Key: "#"})
	apply(t, v, DeleteQueue{Name: "temp"})
	if got := routeNames(v, "orders", "us.ny"); len(got) != 0 {
		t.Fatalf("after unbind and delete, us.ny routes to %v", got)
	}
	if v.Queue("temp") != nil {
		t.Fatal("temp still there")
	}
	apply(t, v, DeclareQueue{Name: "gone", Durable: true})
	apply(t, v, Bind{Source: "orders", Destination: exchange.Destination{Name: "gone"}, Key: "#"})
	apply(t, v, DeleteQueue{Name: "gone"})
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart: the durable definitions come back, the transient ones not.
	st = openStore(t, dir)
	defer st.Close()
	hooked = 0
	cfg.Store = st
	b = New(cfg)
	r, err := b.Recover()
	if err != nil {
		t.Fatal(err)
	}
	if r.Exchanges != 1 || r.Queues != 2 || r.Bindings != 1 || hooked != 2 {
		t.Fatalf("recovered %+v, hooks called %d times; want 1 exchange, 2 queues, 1 binding", r, hooked)
	}
	v = b.Vhost("/")
	if x := v.Exchange("orders"); x == nil || x.Kind != exchange.Topic || !x.Durable {
		t.Fatalf("orders came back as %+v", x)
	}
	if v.Exchange("scratch") != nil || v.Queue("temp") != nil || v.Queue("gone") != nil {
		t.Fatal("a transient or deleted definition came back")
	}
	if q := v.Queue("eu"); q == nil || r.ByID[q.ID] != q {
		t.Fatalf("queue eu: %v, by id %v", q, r.ByID)
	}
	if got := routeNames(v, "orders", "eu.fr"); !slices.Equal(got, []string{"eu"}) {
		t.Fatalf("after restart eu.fr routes to %v", got)
	}
	// A new queue's id follows the recovered ones.
	if q := apply(t, v, DeclareQueue{Name: "new", Durable: true}).Queue; q.ID <= max(v.Queue("eu").ID, v.Queue("all").ID) {
		t.Fatalf("new queue id %d reuses a recovered one", q.ID)
	}
}

// TestVhostCommands covers AddVhost and DeleteVhost.
func TestVhostCommands(t *testing.T) {
	b := New(Config{})
	if _, err := b.Apply("", AddVhost{Name: "v2"}); err != nil {
		t.Fatal(err)
	}
	v := b.Vhost("v2")
	if v == nil || v.Exchange("amq.topic") == nil {
		t.Fatal("v2 has no amq.topic")
	}
	apply(t, v, DeclareQueue{Name: "q"})
	apply(t, v, DeclareExchange{Name: "x", Kind: exchange.Direct})
	if _, err := b.Apply("", DeleteVhost{Name: "v2"}); err != nil {
		t.Fatal(err)
	}
	if b.Vhost("v2") != nil || v.Queue("q") != nil || v.Exchange("x") != nil {
		t.Fatal("v2 or its contents survived deletion")
	}
}

// Recovery replays the stored definitions as commands through Apply, with
// Apply's checks: a stored binding whose destination is gone (its queue's
// record lost) is skipped instead of routing to nothing, and replaying
// writes nothing back to the store.
func TestRecoverReplaysCommands(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	b := started(t, st)
	v := b.Vhost("/")
	apply(t, v, DeclareExchange{Name: "x", Kind: exchange.Direct, Durable: true})
	apply(t, v, DeclareQueue{Name: "kept", Durable: true})
	apply(t, v, DeclareQueue{Name: "lost", Durable: true})
	apply(t, v, Bind{Source: "x", Destination: exchange.Destination{Name: "kept"}, Key: "k"})
	apply(t, v, Bind{Source: "x", Destination: exchange.Destination{Name: "lost"}, Key: "k"})
	if err := st.DeleteDefinition(defQueue, defKey("/", "lost")); err != nil {
		t.Fatal(err)
	}
	b.Stop()
	st.Close()

	st = openStore(t, dir)
	defer st.Close()
	before := st.Metrics().OpsWritten
	b = New(Config{Store: st})
	r, err := b.Recover()
	if err != nil {
		t.Fatalf("recover: %v", err)
	}
	defer b.Stop()
	if r.Exchanges != 1 || r.Queues != 1 || r.Bindings != 1 {
		t.Errorf("recovered %d exchanges, %d queues, %d bindings; want 1, 1, 1", r.Exchanges, r.Queues, r.Bindings)
	}
	if got := routeNames(b.Vhost("/"), "x", "k"); !slices.Equal(got, []string{"kept"}) {
		t.Errorf("x routes k to %v, want [kept]", got)
	}
	if n := st.Metrics().OpsWritten - before; n != 0 {
		t.Errorf("recovery wrote %d operations back to the store", n)
	}
}
