package broker

import (
	"encoding/json"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/storage"
)

// Definition kinds in the store.
const (
	defExchange = "exchange"
	defQueue    = "queue"
	defBinding  = "binding"
)

// Definition records, JSON with field tables in their wire form.
type exchangeDef struct {
	Vhost      string `json:"vhost"`
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	AutoDelete bool   `json:"auto_delete,omitempty"`
	Internal   bool   `json:"internal,omitempty"`
	Args       []byte `json:"args,omitempty"`
}

type queueDef struct {
	Vhost      string `json:"vhost"`
	Name       string `json:"name"`
	ID         uint64 `json:"id"`
	AutoDelete bool   `json:"auto_delete,omitempty"`
	Args       []byte `json:"args,omitempty"`
}

type bindingDef struct {
	Vhost       string `json:"vhost"`
	Source      string `json:"source"`
	Destination string `json:"destination"`
	ToExchange  bool   `json:"to_exchange,omitempty"`
	Key         string `json:"key"`
	Args        []byte `json:"args,omitempty"`
}

func encodeArgs(t map[string]any) []byte {
	if len(t) == 0 {
		return nil
	}
	b, err := amqp.AppendTable(nil, amqp.Table(t))
	if err != nil {
		return nil
	}
	return b
}

func decodeArgs(b []byte) (map[string]any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	return amqp.DecodeTable(b)
}

func defKey(parts ...string) string {
	k := ""
	for i, p := range parts {
		if i > 0 {
			k += "\x00"
		}
		k += p
	}
	return k
}

func bindingKey(vhost string, b exchange.Binding) string {
	kind := "q"
	if b.Destination.Exchange {
		kind = "x"
	}
	return defKey(vhost, b.Source, kind, b.Destination.Name, b.Key, string(encodeArgs(b.Args)))
}

// defBatch collects the definition changes of one command. They are
// submitted under the vhost's lock, so they reach the store in the order
// the changes happened, and waited for after it is released (no lock is
// held during the sync).
type defBatch struct {
	b    *Broker
	sb   storage.Batch
	done chan error
}

func (v *Vhost) defs() *defBatch { return &defBatch{b: v.b} }

func (b *Broker) defs() *defBatch { return &defBatch{b: b} }

func (d *defBatch) put(kind, key string, v any) {
	if d.b.store == nil || d.b.replaying {
		return
	}
	raw, err := json.Marshal(v)
	if err != nil {
		d.b.log.Error("cannot encode a definition", zap.String("kind", kind), zap.Error(err))
		return
	}
	d.sb.PutDefinition(kind, key, raw)
}

func (d *defBatch) del(kind, key string) {
	if d.b.store != nil && !d.b.replaying {
		d.sb.DeleteDefinition(kind, key)
	}
}

// submit hands the changes to the store; call it with the vhost's lock held.
func (d *defBatch) submit() {
	if d.b.store == nil || d.sb.Len() == 0 {
		return
	}
	d.done = make(chan error, 1)
	if err := d.b.store.Submit(&d.sb, func(err error) { d.done <- err }); err != nil {
		d.done <- err
	}
}

// wait returns once the changes are on disk; a failure is a 541.
func (d *defBatch) wait() error {
	if d.done == nil {
		return nil
	}
	if err := <-d.done; err != nil {
		d.b.log.Error("cannot store definitions", zap.Error(err))
		return amqp.Errorf(amqp.InternalError, "cannot store the change: %v", err)
	}
	return nil
}
