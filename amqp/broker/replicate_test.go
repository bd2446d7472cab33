package broker

import (
	"context"
	"sync"
	"testing"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/exchange"
)

// logReplicator is a cluster in miniature: a log that every proposal is
// appended to, applied in order on each broker, the proposer's result
// handed back.
type logReplicator struct {
	mu      sync.Mutex
	log     [][]byte
	brokers []*Broker // brokers[0] proposes
}

func (r *logReplicator) Propose(_ context.Context, raw []byte) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, raw)
	vhost, cmd, err := DecodeCommand(raw)
	if err != nil {
		return Result{}, err
	}
	var res Result
	for i, b := range r.brokers {
		got, err := b.ApplyLocal(vhost, cmd)
		if i == 0 {
			res = got
			if err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

func TestReplicatorHook(t *testing.T) {
	r := &logReplicator{}
	a := New(Config{Replicator: r})
	other := New(Config{})
	r.brokers = []*Broker{a, other}

	va := a.Vhost("/")
	res := apply(t, va, DeclareQueue{Name: "orders", Durable: true, Args: map[string]any{"x-max-length": int32(5)}})
	if res.Queue == nil || res.Queue != va.Queue("orders") {
		t.Fatalf("the proposer's result holds queue %v, want its own queue", res.Queue)
	}
	apply(t, va, DeclareExchange{Name: "ex", Kind: exchange.Fanout, Durable: true})
	apply(t, va, Bind{Source: "ex", Destination: exchange.Destination{Name: "orders"}})
	hash, err := HashPassword(HashSHA256, "secret")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Apply("", PutUser{User: User{Name: "ann", PasswordHash: hash}}); err != nil {
		t.Fatal(err)
	}
	vo := other.Vhost("/")
	if q := vo.Queue("orders"); q == nil || q.Args["x-max-length"] != int32(5) {
		t.Fatalf("the other broker has queue %v", q)
	}
	if got := routeNames(vo, "ex", ""); len(got) != 1 || got[0] != "orders" {
		t.Fatalf("the other broker routes ex to %v", got)
	}
	if _, ok := other.User("ann"); !ok {
		t.Fatal("the user did not reach the other broker")
	}
	// The apply's error comes back to the proposer unchanged.
	_, err = va.Apply(DeclareQueue{Name: "orders", Durable: true})
	wantCode(t, err, amqp.PreconditionFailed, "inequivalent arg 'x-max-length' for queue 'orders' in vhost '/': received none but current is the value '5' of type 'signedint'")

	// Exclusive queues stay on their node.
	n := len(r.log)
	apply(t, va, DeclareQueue{Name: "mine", Exclusive: true, Owner: 1})
	apply(t, va, DeleteQueue{Name: "mine"})
	if len(r.log) != n {
		t.Fatalf("an exclusive queue's declare or delete was proposed (%d entries, want %d)", len(r.log), n)
	}
	apply(t, va, DeleteQueue{Name: "orders", Queue: va.Queue("orders")})
	if vo.Queue("orders") != nil {
		t.Fatal("the delete did not reach the other broker")
	}
	if len(r.log) != n+1 {
		t.Fatalf("%d entries after the delete, want %d", len(r.log), n+1)
	}
}
