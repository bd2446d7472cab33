package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Kind is a kind of fault.
type Kind string

// The faults. Link faults name a Node (and a Peer): partition isolates
// Node from every other node both ways; cut cuts Node<->Peer both ways;
// cut-one-way cuts Node->Peer only; delay and drop apply to every link to
// and from Node.
const (
	Kill      Kind = "kill"        // kill -9, healed by a restart on the same data dir
	Pause     Kind = "pause"       // SIGSTOP, healed by SIGCONT
	Stop      Kind = "stop"        // clean stop (SIGTERM), healed by a restart
	Partition Kind = "partition"   // Node cut off from all
	Cut       Kind = "cut"         // Node <-> Peer, both ways
	CutOneWay Kind = "cut-one-way" // Node -> Peer
	Delay     Kind = "delay"       // every link of Node delayed by Fault.Delay
	Drop      Kind = "drop"        // every link of Node resets connections with probability Fault.Drop per chunk
)

// AllKinds are every kind of fault.
func AllKinds() []Kind { return []Kind{Kill, Pause, Stop, Partition, Cut, CutOneWay, Delay, Drop} }

// Fault is one fault of a schedule: injected, held for Hold, healed.
type Fault struct {
	Kind  Kind
	Node  string
	Peer  string        // cut, cut-one-way
	Hold  time.Duration // schedule time the fault lasts
	Delay time.Duration // delay
	Drop  float64       // drop
}

func (f Fault) String() string {
	switch f.Kind {
	case Cut:
		return fmt.Sprintf("cut %s<->%s for %v", f.Node, f.Peer, f.Hold)
	case CutOneWay:
		return fmt.Sprintf("cut %s->%s for %v", f.Node, f.Peer, f.Hold)
	case Delay:
		return fmt.Sprintf("delay %s's links by %v for %v", f.Node, f.Delay, f.Hold)
	case Drop:
		return fmt.Sprintf("drop on %s's links (p=%.2f) for %v", f.Node, f.Drop, f.Hold)
	}
	return fmt.Sprintf("%s %s for %v", f.Kind, f.Node, f.Hold)
}

// links are the directed links a link fault touches.
func (c *Cluster) links(f Fault) [][2]string {
	var out [][2]string
	switch f.Kind {
	case Cut:
		out = append(out, [2]string{f.Node, f.Peer}, [2]string{f.Peer, f.Node})
	case CutOneWay:
		out = append(out, [2]string{f.Node, f.Peer})
	case Partition, Delay, Drop:
		for _, b := range c.names {
			if b != f.Node {
				out = append(out, [2]string{f.Node, b}, [2]string{b, f.Node})
			}
		}
	}
	return out
}

// Inject starts fault f.
func (c *Cluster) Inject(f Fault) error {
	switch f.Kind {
	case Kill:
		c.Kill(f.Node)
		return nil
	case Pause:
		return c.Pause(f.Node)
	case Stop:
		return c.Stop(f.Node)
	case Partition, Cut, CutOneWay, Delay, Drop:
		s := LinkState{Cut: f.Kind == Partition || f.Kind == Cut || f.Kind == CutOneWay, Delay: f.Delay, Drop: f.Drop}
		for _, l := range c.links(f) {
			c.Proxy(l[0], l[1]).Set(s)
		}
		c.Timeline.Add("fault: %s", f)
		return nil
	}
	return fmt.Errorf("chaos: unknown fault kind %q", f.Kind)
}

// Heal ends fault f: a restart, a resume, links healed.
func (c *Cluster) Heal(f Fault) error {
	switch f.Kind {
	case Kill, Stop:
		return c.Restart(f.Node)
	case Pause:
		return c.Resume(f.Node)
	default:
		for _, l := range c.links(f) {
			c.Proxy(l[0], l[1]).Heal()
		}
		c.Timeline.Add("healed: %s", f)
		return nil
	}
}

// Run injects f, holds it for f.Hold (a timer: schedule time) and heals
// it; ctx ends the hold early.
func (c *Cluster) Run(ctx context.Context, f Fault) error {
	if err := c.Inject(f); err != nil {
		return err
	}
	hold := time.NewTimer(f.Hold)
	select {
	case <-hold.C:
	case <-ctx.Done():
		hold.Stop()
	}
	return c.Heal(f)
}

// ScheduleConfig shapes a random schedule.
type ScheduleConfig struct {
	Seed    uint64
	Faults  int
	Nodes   []string
	Kinds   []Kind        // nil: every kind
	MinHold time.Duration // 0: 300 ms
	MaxHold time.Duration // 0: 2 s
}

// RandomSchedule draws cfg.Faults faults from cfg.Seed: the same seed,
// the same schedule.
func RandomSchedule(cfg ScheduleConfig) []Fault {
	kinds := cfg.Kinds
	if len(kinds) == 0 {
		kinds = AllKinds()
	}
	if cfg.MinHold == 0 {
		cfg.MinHold = 300 * time.Millisecond
	}
	if cfg.MaxHold < cfg.MinHold {
		cfg.MaxHold = max(cfg.MinHold, 2*time.Second)
	}
	r := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	var out []Fault
	for range cfg.Faults {
		f := Fault{Kind: kinds[r.IntN(len(kinds))], Node: cfg.Nodes[r.IntN(len(cfg.Nodes))],
			Hold: cfg.MinHold + time.Duration(r.Int64N(int64(cfg.MaxHold-cfg.MinHold)+1))}
		others := make([]string, 0, len(cfg.Nodes))
		for _, n := range cfg.Nodes {
			if n != f.Node {
				others = append(others, n)
			}
		}
		f.Peer = others[r.IntN(len(others))]
		switch f.Kind {
		case Delay:
			f.Delay = time.Duration(20+r.IntN(280)) * time.Millisecond
		case Drop:
			f.Drop = 0.05 + r.Float64()*0.45
		}
		if f.Kind != Cut && f.Kind != CutOneWay {
			f.Peer = ""
		}
		out = append(out, f)
	}
	return out
}
