package broker

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/storage"
)

// Config configures a Broker.
type Config struct {
	Logger *zap.Logger // nil: no logging
	Vhosts []string    // the virtual hosts to start with; empty means just "/"
	// Store keeps durable definitions; nil keeps everything in memory. The
	// broker does not close it.
	Store *storage.Store
	// MemoryBudget is how much memory the ready messages of all queues
	// may take, counted as their bodies plus 128 bytes each; beyond it new
	// messages live on disk only and are read back ahead of delivery.
	// Needs a Store. 0: 128 MiB; <0: none.
	MemoryBudget int64
	// QueueHooks, if set, sees the configuration of every queue the broker
	// creates, declared or recovered, just before queue.New, after the
	// core set its journal, memory budget, dead-lettering and x-expires.
	QueueHooks func(v *Vhost, cfg *queue.Config)
	// StreamDir holds the logs of stream queues (Dir/streams), one
	// directory per queue id; empty: stream queues are refused.
	StreamDir string
	// Replicator, if set, makes every definition change a proposal to
	// the cluster (replicate.go); nil: changes are applied here only.
	Replicator Replicator
}

// Broker owns the vhosts and, through them, every exchange, queue and
// binding.
type Broker struct {
	log   *zap.Logger
	store *storage.Store
	hooks func(v *Vhost, cfg *queue.Config)
	repl  Replicator // nil: no cluster

	journal      *journal // nil without a store
	budget       *queue.Budget
	memoryBudget int64
	nextMsgID    atomic.Uint64 // the last stored message id handed out
	delayed      scheduler     // delayed messages
	replies      replyRegistry // direct reply-to consumers
	// replaying is set while Recover applies the stored definitions as
	// commands: nothing is written back, and nothing is refused for want
	// of disk. Recover runs before anything else uses the broker.
	replaying bool
	// Queues created and deleted since the start (recovered ones are not
	// created), for the read side (stats.go).
	queuesCreated, queuesDeleted atomic.Uint64
	bd                           brokerDefs // users, permissions, global parameters (users.go)
	// uc counts each user's connections and channels (user_limits.go).
	uc struct {
		sync.Mutex
		counts userCounts
	}

	mu struct {
		sync.RWMutex
		vhosts      map[string]*Vhost
		nextQueueID uint64 // the last queue id handed out
	}
	streams streamRegistry // stream.go
}

// New returns a Broker with cfg's vhosts, each with its standard
// exchanges. With a Store, call Recover before anything else.
func New(cfg Config) *Broker {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if len(cfg.Vhosts) == 0 {
		cfg.Vhosts = []string{"/"}
	}
	if cfg.MemoryBudget == 0 {
		cfg.MemoryBudget = 128 << 20
	}
	b := &Broker{log: cfg.Logger, store: cfg.Store, hooks: cfg.QueueHooks, repl: cfg.Replicator, memoryBudget: cfg.MemoryBudget}
	b.streams.dir = cfg.StreamDir
	b.streams.store = cfg.Store
	if cfg.Store != nil {
		b.journal = newJournal(cfg.Store, b.log, &b.nextMsgID)
		b.budget = queue.NewBudget(cfg.MemoryBudget)
	}
	b.delayed.b = b
	b.bd.init()
	b.mu.vhosts = map[string]*Vhost{}
	for _, name := range cfg.Vhosts {
		b.mu.vhosts[name] = newVhost(b, name)
	}
	return b
}

// Vhost returns the vhost called name, or nil.
func (b *Broker) Vhost(name string) *Vhost {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.mu.vhosts[name]
}

// Vhosts returns the vhosts, in no particular order.
func (b *Broker) Vhosts() []*Vhost {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]*Vhost, 0, len(b.mu.vhosts))
	for _, v := range b.mu.vhosts {
		out = append(out, v)
	}
	return out
}

// Stop stops releasing delayed messages; those held stay in the store.
// A front end calls it when it shuts down.
func (b *Broker) Stop() { b.delayed.stop() }

// HeldMessages reports how many delayed messages the broker holds.
func (b *Broker) HeldMessages() int { return b.delayed.len() }

// Store is the broker's store, nil without one.
func (b *Broker) Store() *storage.Store { return b.store }

// newQueueID numbers a new queue for the store.
func (b *Broker) newQueueID() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.nextQueueID++
	return b.mu.nextQueueID
}

// admitDefinition refuses a new durable definition while the store is
// short of disk, on the channel (the store would refuse to write it).
func (b *Broker) admitDefinition(kind, name, vhost string) error {
	if b.store == nil || b.replaying {
		return nil
	}
	if err := b.store.Admit(); err != nil {
		return amqp.Errorf(amqp.PreconditionFailed, "cannot declare durable %s '%s' in vhost '%s': %s", kind, name, vhost, diskShortText(b.store))
	}
	return nil
}

// diskShortText says why the store takes nothing new.
func diskShortText(st *storage.Store) string {
	return fmt.Sprintf("disk almost full (%d bytes free, below the disk free limit of %d)", st.DiskFree(), st.MinFreeBytes())
}

// GenName returns a server-generated name such as amq.gen-<random>.
func GenName(prefix string) string {
	var b [16]byte
	rand.Read(b[:])
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// ReservedName reports whether a name uses the reserved amq. prefix.
func ReservedName(name string) bool { return strings.HasPrefix(name, "amq.") }
