package demo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Chapter 8: consumer groups. A super stream is a set of partitions (one
// stream each) behind an exchange; a group of consumers with single
// active consumer shares them, one active member per partition. When a
// member joins or leaves, partitions move, and the new owner resumes from
// the group's stored offset: nothing skipped.
//
// This chapter speaks RabbitMQ's stream protocol (rabbitmq-stream-go-
// client), not AMQP 0-9-1: it needs the broker's stream listener.

// errNoStreamListener: chapter 8 has no stream protocol listener to use.
var errNoStreamListener = errors.New("no stream protocol listener")

// errNoSuperStreamCommand: the broker cannot create super streams over the
// stream protocol (its create_super_stream came in RabbitMQ 3.13).
var errNoSuperStreamCommand = errors.New("the broker cannot create super streams over the stream protocol")

// group is the chapter's view of the group: who is active where, and
// what each member read.
type group struct {
	mu       sync.Mutex
	owner    map[string]string // partition -> active member
	received map[string]int    // body -> times read
	byMember map[string]int    // member -> messages read
}

func (g *group) events(member string) groupEvents {
	return groupEvents{
		activated: func(partition string, active bool) {
			g.mu.Lock()
			defer g.mu.Unlock()
			if active {
				g.owner[partition] = member
			} else if g.owner[partition] == member {
				delete(g.owner, partition)
			}
		},
		received: func(_, body string) {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.received[body]++
			g.byMember[member]++
		},
	}
}

// balanced reports whether every partition has an active member of
// members, each member has one, and no member has two more than another.
func (g *group) balanced(partitions, members []string) (map[string]int, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.balancedLocked(partitions, members)
}

func (g *group) balancedLocked(partitions, members []string) (map[string]int, bool) {
	per := map[string]int{}
	for _, p := range partitions {
		m, ok := g.owner[p]
		if !ok || !slices.Contains(members, m) {
			return nil, false
		}
		per[m]++
	}
	lo, hi := len(partitions), 0
	for _, m := range members {
		lo, hi = min(lo, per[m]), max(hi, per[m])
	}
	return per, lo >= 1 && hi-lo <= 1
}

// snapshot is balanced with a copy of the owners and the messages each
// member has read, all under one lock.
func (g *group) snapshot(partitions, members []string) (per map[string]int, owner map[string]string, read map[string]int, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if per, ok = g.balancedLocked(partitions, members); !ok {
		return nil, nil, nil, false
	}
	return per, maps.Clone(g.owner), maps.Clone(g.byMember), true
}

func (g *group) unique() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.received)
}

func playSuperStream(ctx context.Context, e *env) error {
	if e.streamURL == "" {
		// The embedded Warren always has one; a broker given by --url
		// needs --stream-url (its port is the broker's to choose).
		return fmt.Errorf("%w was given: this chapter speaks RabbitMQ's stream protocol (Warren's --stream-listen, RabbitMQ's rabbitmq_stream plugin); pass --stream-url rabbitmq-stream://guest:guest@HOST:5552", errNoStreamListener)
	}
	c, err := dialStreams(e.streamURL)
	if err != nil {
		return err
	}
	defer c.Close()
	return superStreamStory(ctx, e, c)
}

func superStreamStory(ctx context.Context, e *env, c superStreams) error {
	const name, groupName, n = "demo.ch8.orders", "fulfilment", 6
	batch := e.pick(60, 24)
	e.deleteSuperStream(c, name, n) // what an earlier run left
	parts, err := c.Declare(name, n)
	if errors.Is(err, errNoSuperStreamCommand) {
		e.out.note("(the broker creates no super stream over the stream protocol: its exchange and partitions are declared over AMQP)")
		if err = e.declareSuperStreamAMQP(name, n); err == nil {
			parts, err = c.Partitions(name)
		}
	}
	if err != nil {
		return err
	}
	defer e.deleteSuperStream(c, name, n)
	e.out.say("A super stream %s of %d partitions: %s.", name, len(parts), strings.Join(parts, ", "))
	g := &group{owner: map[string]string{}, received: map[string]int{}, byMember: map[string]int{}}
	leaves := map[string]func() error{}
	defer func() {
		for _, l := range leaves {
			l()
		}
	}()
	join := func(m string) error {
		l, err := c.Join(name, groupName, m, g.events(m))
		if err != nil {
			return err
		}
		leaves[m] = l
		return nil
	}
	published := 0
	var stages []map[string]any
	var before map[string]string // the owners at the previous stage
	stage := func(title string, members []string) error {
		settled := func() bool { _, ok := g.balanced(parts, members); return ok }
		if err := waitFor(ctx, "the partitions to settle among "+strings.Join(members, ", "), settled); err != nil {
			return err
		}
		keys := make([]string, batch)
		for i := range keys {
			published++
			keys[i] = fmt.Sprintf("order-%d", published)
		}
		if err := c.Publish(ctx, name, keys); err != nil {
			return err
		}
		if err := waitFor(ctx, fmt.Sprintf("the group to read all %d orders", published), func() bool {
			e.out.progress("orders read by the group", g.unique(), published)
			return g.unique() == published
		}); err != nil {
			return err
		}
		e.out.endProgress()
		// Who is active where once the batch is read.
		var per, read map[string]int
		var owner map[string]string
		if err := waitFor(ctx, "the partitions to settle", func() bool {
			var ok bool
			per, owner, read, ok = g.snapshot(parts, members)
			return ok
		}); err != nil {
			return err
		}
		moved := 0
		if before != nil {
			for p, m := range owner {
				if before[p] != m {
					moved++
				}
			}
		}
		before = owner
		on := map[string][]string{}
		for p, m := range owner {
			on[m] = append(on[m], strings.TrimPrefix(p, name+"-"))
		}
		rows := [][]string{{"consumer", "partitions", "active on", "read so far"}}
		for _, m := range members {
			sort.Strings(on[m])
			rows = append(rows, []string{m, itoa(per[m]), strings.Join(on[m], " "), itoa(read[m])})
		}
		e.out.say("%s: %d partitions moved; %d orders published, the group has read %d distinct ones:", title, moved, batch, g.unique())
		e.out.table(rows)
		stages = append(stages, map[string]any{"stage": title, "members": len(members), "partitions": per, "moved": moved})
		return nil
	}

	members := []string{"consumer-1", "consumer-2", "consumer-3"}
	for _, m := range members {
		if err := join(m); err != nil {
			return err
		}
	}
	if err := stage("three consumers in group "+groupName, members); err != nil {
		return err
	}
	if err := join("consumer-4"); err != nil {
		return err
	}
	members = append(members, "consumer-4")
	if err := stage("consumer-4 joins", members); err != nil {
		return err
	}
	leaving := "consumer-2"
	if err := leaves[leaving](); err != nil {
		return fmt.Errorf("%s leaving: %w", leaving, err)
	}
	delete(leaves, leaving)
	members = slices.DeleteFunc(members, func(m string) bool { return m == leaving })
	if err := stage(leaving+" leaves", members); err != nil {
		return err
	}

	g.mu.Lock()
	total := 0
	for _, v := range g.received {
		total += v
	}
	unique := len(g.received)
	g.mu.Unlock()
	e.out.measured("%d orders published, %d read, %d skipped, %d read twice (a partition moved before its offset was stored)",
		published, unique, published-unique, total-unique)
	e.out.say("Order within a partition is kept (one active reader each); the group scales by moving partitions, not by splitting one.")
	e.figs["partitions"] = len(parts)
	e.figs["published"] = published
	e.figs["read"] = unique
	e.figs["skipped"] = published - unique
	e.figs["duplicates"] = total - unique
	e.figs["stages"] = stages
	return nil
}

// declareSuperStreamAMQP declares a super stream as RabbitMQ lays it out:
// a direct exchange (x-super-stream), a stream per partition, name-0 ..
// name-(n-1), bound with the key "i" and x-stream-partition-order i.
func (e *env) declareSuperStreamAMQP(name string, n int) error {
	ch, err := e.channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := ch.ExchangeDeclare(name, "direct", true, false, false, false, amqp.Table{"x-super-stream": true}); err != nil {
		return err
	}
	for i := range n {
		q := fmt.Sprintf("%s-%d", name, i)
		if _, err := ch.QueueDeclare(q, true, false, false, false, amqp.Table{"x-queue-type": "stream"}); err != nil {
			return err
		}
		if err := ch.QueueBind(q, itoa(i), name, false, amqp.Table{"x-stream-partition-order": int32(i)}); err != nil {
			return err
		}
	}
	return nil
}

// deleteSuperStream deletes a super stream over the stream protocol and,
// for brokers that cannot, its exchange and partitions over AMQP.
func (e *env) deleteSuperStream(c superStreams, name string, n int) {
	c.Delete(name)
	for i := range n {
		e.deleteQueues(fmt.Sprintf("%s-%d", name, i))
	}
	e.deleteExchanges(name)
}
