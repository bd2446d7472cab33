package chaos

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Config configures a Cluster.
type Config struct {
	Binary string // the warren binary (BuildWarren)
	Nodes  int    // 0: 3; named n1, n2, ...
	Dir    string // each node's data dir and log under Dir/<name>
	Seed   uint64 // drives the proxies' drop decisions
	// Args go to every warren after the harness's own flags.
	Args []string
	// StartTimeout bounds a node's start (0: 30 s).
	StartTimeout time.Duration
	Timeline     *Timeline // nil: a new one
}

// Cluster is N real warren processes on loopback whose peer links all go
// through a Proxy per directed link. Every method is safe for concurrent
// use; Close tears everything down.
type Cluster struct {
	cfg      Config
	names    []string
	proxies  map[[2]string]*Proxy // [from, to]
	Timeline *Timeline

	mu struct {
		sync.Mutex
		procs  map[string]*process // running (or paused) nodes
		paused map[string]bool
	}
}

// Start starts the cluster: the proxies, then every node, and returns
// once each has reported its addresses.
func Start(cfg Config) (*Cluster, error) {
	if cfg.Nodes == 0 {
		cfg.Nodes = 3
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	c := &Cluster{cfg: cfg, proxies: map[[2]string]*Proxy{}, Timeline: cfg.Timeline}
	if c.Timeline == nil {
		c.Timeline = NewTimeline()
	}
	c.mu.procs = map[string]*process{}
	c.mu.paused = map[string]bool{}
	for i := 1; i <= cfg.Nodes; i++ {
		c.names = append(c.names, fmt.Sprintf("n%d", i))
	}
	seed := cfg.Seed
	for _, a := range c.names {
		for _, b := range c.names {
			if a == b {
				continue
			}
			seed++
			p, err := NewProxy("", seed)
			if err != nil {
				c.Close()
				return nil, err
			}
			c.proxies[[2]string{a, b}] = p
		}
		if err := os.MkdirAll(filepath.Join(cfg.Dir, a), 0o755); err != nil {
			c.Close()
			return nil, err
		}
	}
	// Started together: each waits for its peers only through Raft.
	errs := make(chan error, len(c.names))
	for _, n := range c.names {
		go func() { errs <- c.Restart(n) }()
	}
	var err error
	for range c.names {
		err = errors.Join(err, <-errs)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Names are the nodes' names, n1 first.
func (c *Cluster) Names() []string { return append([]string(nil), c.names...) }

// Proxy is the proxy of the link from -> to.
func (c *Cluster) Proxy(from, to string) *Proxy { return c.proxies[[2]string{from, to}] }

// args are node n's flags: every address 127.0.0.1:0, its peers each
// behind the proxy of the link n -> peer.
func (c *Cluster) args(n string) []string {
	peers := []string{n + "=127.0.0.1:1"} // its own entry: --cluster-listen wins
	for _, b := range c.names {
		if b != n {
			peers = append(peers, b+"="+c.Proxy(n, b).Addr())
		}
	}
	args := []string{"--node-name", n, "--data-dir", filepath.Join(c.cfg.Dir, n, "data"),
		"--listen", "127.0.0.1:0", "--management-listen", "127.0.0.1:0", "--cluster-listen", "127.0.0.1:0",
		"--cluster-peers", strings.Join(peers, ","),
		"--stream-listen", "off", "--prometheus-listen", "off", "--log-format", "json"}
	return append(args, c.cfg.Args...)
}

// LogPath is node n's log (stdout and stderr of every run).
func (c *Cluster) LogPath(n string) string { return filepath.Join(c.cfg.Dir, n, "warren.log") }

// Restart starts node n (again, on its data dir) unless it runs, and
// points the other nodes' proxies at its new peer address.
func (c *Cluster) Restart(n string) error {
	if !slices.Contains(c.names, n) {
		return fmt.Errorf("chaos: no node %q", n)
	}
	c.mu.Lock()
	running := c.mu.procs[n] != nil
	c.mu.Unlock()
	if running {
		return nil
	}
	c.Timeline.Add("%s starting", n)
	p, err := startProcess(c.cfg.Binary, c.args(n), c.LogPath(n), c.cfg.StartTimeout)
	if err != nil {
		return fmt.Errorf("%s: %w", n, err)
	}
	c.mu.Lock()
	c.mu.procs[n] = p
	c.mu.Unlock()
	for _, a := range c.names {
		if a != n {
			c.Proxy(a, n).SetTarget(p.peer)
		}
	}
	c.Timeline.Add("%s started (amqp %s)", n, p.amqp)
	return nil
}

// Kill kills node n with SIGKILL and waits for it to be gone.
func (c *Cluster) Kill(n string) {
	c.mu.Lock()
	p := c.mu.procs[n]
	delete(c.mu.procs, n)
	delete(c.mu.paused, n)
	c.mu.Unlock()
	if p == nil {
		return
	}
	c.Timeline.Add("%s kill -9", n)
	p.kill()
	for _, a := range c.names {
		if a != n {
			c.Proxy(a, n).SetTarget("")
		}
	}
}

// Stop shuts node n down cleanly (SIGTERM).
func (c *Cluster) Stop(n string) error {
	c.mu.Lock()
	p := c.mu.procs[n]
	delete(c.mu.procs, n)
	delete(c.mu.paused, n)
	c.mu.Unlock()
	if p == nil {
		return nil
	}
	c.Timeline.Add("%s stop (SIGTERM)", n)
	err := p.stop(20 * time.Second)
	if p.err != nil && err == nil && !strings.Contains(p.err.Error(), "signal") {
		err = fmt.Errorf("%s exited with %v", n, p.err)
	}
	for _, a := range c.names {
		if a != n {
			c.Proxy(a, n).SetTarget("")
		}
	}
	c.Timeline.Add("%s stopped", n)
	return err
}

// Pause stops node n's processes with SIGSTOP; Resume continues them.
func (c *Cluster) Pause(n string) error  { return c.pause(n, true) }
func (c *Cluster) Resume(n string) error { return c.pause(n, false) }

func (c *Cluster) pause(n string, stop bool) error {
	c.mu.Lock()
	p := c.mu.procs[n]
	if p != nil {
		c.mu.paused[n] = stop
	}
	c.mu.Unlock()
	if p == nil {
		return fmt.Errorf("%s is not running", n)
	}
	sig, what := syscall.SIGCONT, "resume (SIGCONT)"
	if stop {
		sig, what = syscall.SIGSTOP, "pause (SIGSTOP)"
	}
	c.Timeline.Add("%s %s", n, what)
	return p.signal(sig)
}

// AMQPURL is node n's AMQP URL as guest ("" while it is down).
func (c *Cluster) AMQPURL(n string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.mu.procs[n]; p != nil {
		return "amqp://guest:guest@" + p.amqp + "/"
	}
	return ""
}

// APIURL is node n's management API base URL ("" while it is down).
func (c *Cluster) APIURL(n string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.mu.procs[n]; p != nil {
		return "http://" + p.mgmt
	}
	return ""
}

// Running are the nodes running (paused ones included), sorted.
func (c *Cluster) Running() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for n := range c.mu.procs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Exited names nodes that ended although nobody stopped them (a crash).
func (c *Cluster) Exited() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for n, p := range c.mu.procs {
		if p.exited() {
			out = append(out, fmt.Sprintf("%s (%v)", n, p.err))
		}
	}
	sort.Strings(out)
	return out
}

// HealAll clears every link fault, resumes paused nodes and starts those
// that are down.
func (c *Cluster) HealAll() error {
	for _, p := range c.proxies {
		p.Heal()
	}
	var err error
	for _, n := range c.names {
		c.mu.Lock()
		paused := c.mu.paused[n]
		c.mu.Unlock()
		if paused {
			err = errors.Join(err, c.Resume(n))
		}
		err = errors.Join(err, c.Restart(n))
	}
	return err
}

// Close kills every node and stops every proxy; nothing is left running.
// It may be called again.
func (c *Cluster) Close() {
	c.mu.Lock()
	procs := c.mu.procs
	c.mu.procs = map[string]*process{}
	c.mu.Unlock()
	for _, p := range procs {
		p.kill()
	}
	for _, p := range c.proxies {
		p.Close()
	}
}

// pids are the running nodes' process ids.
func (c *Cluster) pids() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for n, p := range c.mu.procs {
		out[n] = p.cmd.Process.Pid
	}
	return out
}
