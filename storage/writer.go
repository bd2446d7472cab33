package storage

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"syscall"
	"time"

	"github.com/dgraph-io/badger/v4"
	"go.uber.org/zap"
)

// group is one group commit: the operations of every Submit that arrived
// while the writer was busy, written with one Badger commit and one sync.
type group struct {
	ops       []op
	dones     []func(error)
	subs      []submission      // parallel to dones
	errs      []error           // per submission, when not all got the same result
	msgs      map[uint64]int32  // msgID -> index in ops of its pending PutMessage
	entries   map[entryID]int32 // (queue, seq) -> index of its pending put or update
	bytes     int64             // submitted weight, cancelled ops included
	cancelled int
	arena     []byte   // keys and entry values while the group is written
	ptrs      []byte   // body pointers while the group is written
	onFile    []uint64 // messages whose bodies this group wrote to body files
	deleted   []uint64 // messages this group deleted (settles their bodies)
}

type entryID struct{ queue, seq uint64 }

// submission is the ops one Submit appended: ops[start:end]. puts says
// whether its batch held any put (ops it cancelled included).
type submission struct {
	start, end int32
	puts       bool
}

type completion struct {
	g   *group
	err error
}

// clientSubs counts the group's submissions other than the store's own
// compactions (diskLoop submits one after every change while the disk is
// short), for the DiskFull metric, which counts refused writes of the
// store's users.
func (g *group) clientSubs() int {
	n := 0
	for _, sub := range g.subs {
		if sub.end-sub.start == 1 && g.ops[sub.start].kind == opCompact {
			continue
		}
		n++
	}
	return n
}

func newGroup() *group {
	return &group{msgs: make(map[uint64]int32), entries: make(map[entryID]int32)}
}

// Submit hands b's operations to the writer and returns at once. If it
// returns nil, done is called exactly once, from the store's notifier
// goroutine, after the group holding b is written and synced (nil), or
// failed (the error). Callbacks run one at a time in submission order; a
// slow one delays the next ones but not the writer. done may call Submit.
// If Submit returns an error (ErrClosed, ErrTooLarge, an invalid
// definition kind) nothing was queued and done is never called.
//
// Operations apply in submission order. A delete that meets its own put
// still pending (not yet taken by the writer) cancels it: neither is
// written, and both callbacks still run after the sync of the group that
// holds them.
func (s *Store) Submit(b *Batch, done func(error)) error {
	if b.err != nil {
		return b.err
	}
	limit := s.opts.maxMessageBytes()
	for i := range b.ops {
		o := &b.ops[i]
		if n := len(o.val) + len(o.body); o.kind == opPutMessage && int64(n) > limit && !s.opts.onFile(n) {
			return fmt.Errorf("%w: message %d has %d bytes, the store takes at most %d", ErrTooLarge, o.id, n, limit)
		}
	}
	if done == nil {
		done = func(error) {}
	}
	s.mu.Lock()
	if s.mu.closing {
		s.mu.Unlock()
		return ErrClosed
	}
	g := s.collectingLocked()
	sub := submission{start: int32(len(g.ops))}
	for i := range b.ops {
		sub.puts = sub.puts || b.ops[i].isPut()
		s.addLocked(g, b.ops[i])
	}
	sub.end = int32(len(g.ops))
	g.dones = append(g.dones, done)
	g.subs = append(g.subs, sub)
	g.bytes += b.bytes
	s.mu.pendingBytes += b.bytes
	s.pending.Store(s.mu.pendingBytes)
	full := g.bytes >= s.opts.MaxBatchBytes
	s.mu.Unlock()
	s.signal(s.wake)
	if full {
		s.signal(s.full)
	}
	return nil
}

// Behind reports whether Throttle would wait now.
func (s *Store) Behind() bool { return s.pending.Load() > s.opts.MaxPendingBytes }

// Throttle blocks while more than MaxPendingBytes are submitted and not
// yet synced: backpressure for publishers. Call it before Submit, from a
// goroutine that may wait and holds no lock that a done callback takes
// (a connection's reader, say).
func (s *Store) Throttle() {
	// Every publish calls this: read the mirror without the lock first.
	if !s.Behind() {
		return
	}
	s.mu.Lock()
	for s.mu.pendingBytes > s.opts.MaxPendingBytes && !s.mu.closing {
		s.room.Wait()
	}
	s.mu.Unlock()
}

// PendingBytes is the weight of what was submitted and whose callbacks
// have not run yet.
func (s *Store) PendingBytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.pendingBytes
}

func (s *Store) signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// collectingLocked returns the group that takes new submissions.
func (s *Store) collectingLocked() *group {
	if n := len(s.mu.groups); n > 0 && s.mu.groups[n-1].bytes < s.opts.MaxBatchBytes {
		return s.mu.groups[n-1]
	}
	var g *group
	if n := len(s.mu.free); n > 0 {
		g, s.mu.free = s.mu.free[n-1], s.mu.free[:n-1]
	} else {
		g = newGroup()
	}
	s.mu.groups = append(s.mu.groups, g)
	return g
}

// addLocked appends o to g, cancelling it against a pending put in any
// group not yet taken by the writer.
func (s *Store) addLocked(g *group, o op) {
	switch o.kind {
	case opPutMessage:
		g.msgs[o.id] = int32(len(g.ops))
		s.mu.messageOps = true
	case opDeleteMessage:
		s.mu.messageOps = true
		if pg, i, ok := s.pendingMessageLocked(o.id); ok {
			// A message put is always fresh: nothing to delete on disk.
			delete(pg.msgs, o.id)
			pg.ops[i].dead = true
			pg.cancelled++
			g.cancelled++
			return
		}
	case opPutEntry:
		g.entries[entryID{o.id, o.seq}] = int32(len(g.ops))
		s.mu.messageOps = true
	case opUpdateEntry:
		s.mu.messageOps = true
		k := entryID{o.id, o.seq}
		if pg, i, ok := s.pendingEntryLocked(k); ok {
			p := &pg.ops[i]
			p.msgID, p.val = o.msgID, o.val
			g.cancelled++
			return
		}
		g.entries[k] = int32(len(g.ops))
	case opDeleteEntry:
		s.mu.messageOps = true
		k := entryID{o.id, o.seq}
		if pg, i, ok := s.pendingEntryLocked(k); ok {
			delete(pg.entries, k)
			p := &pg.ops[i]
			p.dead = true
			pg.cancelled++
			if p.fresh {
				g.cancelled++
				return
			}
		}
	case opDropQueue:
		s.mu.messageOps = true
		for _, pg := range s.mu.groups {
			for k, i := range pg.entries {
				if k.queue == o.id && k.seq >= o.seq {
					delete(pg.entries, k)
					pg.ops[i].dead = true
					pg.cancelled++
				}
			}
		}
	}
	g.ops = append(g.ops, o)
}

func (s *Store) pendingMessageLocked(id uint64) (*group, int32, bool) {
	for j := len(s.mu.groups) - 1; j >= 0; j-- {
		if i, ok := s.mu.groups[j].msgs[id]; ok {
			return s.mu.groups[j], i, true
		}
	}
	return nil, 0, false
}

func (s *Store) pendingEntryLocked(k entryID) (*group, int32, bool) {
	for j := len(s.mu.groups) - 1; j >= 0; j-- {
		if i, ok := s.mu.groups[j].entries[k]; ok {
			return s.mu.groups[j], i, true
		}
	}
	return nil, 0, false
}

// writeLoop is the writer goroutine: it takes the oldest pending group,
// writes it and hands it to the notifier, until Close has been called and
// nothing is pending.
func (s *Store) writeLoop() {
	defer s.writerWG.Done()
	defer close(s.complete)
	for {
		g := s.nextGroup()
		if g == nil {
			return
		}
		s.complete <- completion{g: g, err: s.commit(g)}
	}
}

// nextGroup waits for a pending group and takes it, or returns nil once
// closing with nothing pending.
func (s *Store) nextGroup() *group {
	var timer *time.Timer
	for {
		s.mu.Lock()
		n := len(s.mu.groups)
		if n == 0 && s.mu.closing {
			s.mu.Unlock()
			return nil
		}
		if n > 0 {
			g := s.mu.groups[0]
			if s.opts.MaxDelay > 0 && timer == nil && n == 1 && !s.mu.closing && g.bytes < s.opts.MaxBatchBytes {
				// Let the group fill for MaxDelay, unless it fills up first.
				s.mu.Unlock()
				timer = time.NewTimer(s.opts.MaxDelay)
				select {
				case <-timer.C:
				case <-s.full:
					timer.Stop()
				}
				continue
			}
			copy(s.mu.groups, s.mu.groups[1:])
			s.mu.groups[n-1] = nil
			s.mu.groups = s.mu.groups[:n-1]
			s.mu.Unlock()
			return g
		}
		s.mu.Unlock()
		<-s.wake
	}
}

// notifyLoop runs the callbacks of written groups, so that a slow
// callback never holds up the next write.
func (s *Store) notifyLoop() {
	defer s.writerWG.Done()
	for c := range s.complete {
		for i, done := range c.g.dones {
			err := c.err
			if c.g.errs != nil && c.g.errs[i] != nil {
				err = c.g.errs[i] // refused alone (disk full)
			}
			done(err)
		}
		for i := range c.g.ops {
			if r := c.g.ops[i].release; r != nil {
				r() // the group is written: its bodies are not read again
			}
		}
		s.mu.Lock()
		s.mu.pendingBytes -= c.g.bytes
		s.pending.Store(s.mu.pendingBytes)
		s.room.Broadcast()
		s.recycleLocked(c.g)
		s.mu.Unlock()
	}
}

func (s *Store) recycleLocked(g *group) {
	if cap(g.ops) > 1<<16 || cap(g.arena) > 4<<20 || len(s.mu.free) >= 4 {
		return // let an outsized group go
	}
	clear(g.ops)
	clear(g.dones)
	clear(g.msgs)
	clear(g.entries)
	g.ops, g.dones, g.subs, g.errs = g.ops[:0], g.dones[:0], g.subs[:0], nil
	g.onFile, g.deleted = g.onFile[:0], g.deleted[:0]
	g.bytes, g.cancelled = 0, 0
	s.mu.free = append(s.mu.free, g)
}

// commit writes g with one Badger write batch (one commit, split by
// Badger only if it exceeds its transaction limits) and syncs it.
//
// Failures come in two kinds. A group refused before Badger sees it (the
// disk is almost full) fails alone, and later groups are tried again.
// An error from Badger itself (an I/O error, a failed fsync) leaves
// unknown what is on disk, and Badger's own state in doubt: the store
// then fails every later write with ErrFailed.
func (s *Store) commit(g *group) error {
	s.m.groups.Add(1)
	s.m.opsCancelled.Add(uint64(g.cancelled))
	s.mu.Lock()
	failed := s.mu.failed
	s.mu.Unlock()
	if failed != nil {
		s.m.writeErrors.Add(1)
		return failed
	}
	if err := s.checkSpace(g); err != nil {
		s.m.writeErrors.Add(1)
		return err
	}
	live := 0
	for i := range g.ops {
		if !g.ops[i].dead {
			live++
		}
	}
	if live == 0 {
		return nil // all cancelled or refused: nothing to write or sync
	}
	err := s.writeBodies(g)
	if errors.Is(err, errBodyWrite) {
		// Nothing of this group reached Badger: it fails alone.
		s.m.writeErrors.Add(1)
		return err
	}
	if err == nil {
		s.badgerMu.Lock()
		err = s.write(g, live)
		s.badgerMu.Unlock()
	}
	if err == nil && s.opts.hooks != nil && s.opts.hooks.beforeSync != nil {
		err = s.opts.hooks.beforeSync()
	}
	if err != nil {
		s.m.writeErrors.Add(1)
		s.fail(err)
		s.mu.Lock()
		err = s.mu.failed
		s.mu.Unlock()
		return err
	}
	s.m.syncs.Add(1)
	s.m.opsWritten.Add(uint64(live))
	if s.bodies != nil && len(g.deleted) > 0 {
		s.bodies.release(g.deleted) // their deletes are on disk
	}
	return nil
}

// writeBodies writes the group's large messages to body files and syncs
// them, and turns each of their ops into the put of a pointer (see
// bodies.go): the pointers go to Badger after the bodies are durable, so
// a pointer never outlives a crash without its body. It also lists the
// group's message deletes, whose bodies are settled once it is written.
func (s *Store) writeBodies(g *group) error {
	if s.bodies == nil {
		return nil
	}
	n := 0
	for i := range g.ops {
		o := &g.ops[i]
		switch {
		case o.dead:
		case o.kind == opDeleteMessage:
			g.deleted = append(g.deleted, o.id)
		case o.kind == opPutMessage && s.opts.onFile(len(o.val)+len(o.body)):
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if cap(g.ptrs) < n*bodyPtrLen {
		g.ptrs = make([]byte, n*bodyPtrLen)
	}
	ptrs := g.ptrs[:n*bodyPtrLen]
	var written uint64
	for i := range g.ops {
		o := &g.ops[i]
		if o.dead || o.kind != opPutMessage || !s.opts.onFile(len(o.val)+len(o.body)) {
			continue
		}
		ptr := ptrs[:bodyPtrLen:bodyPtrLen]
		ptrs = ptrs[bodyPtrLen:]
		if err := s.bodies.put(o.id, ptr, o.val, o.body); err != nil {
			s.bodies.forget(g.onFile)
			return err
		}
		written += uint64(len(o.val) + len(o.body))
		g.onFile = append(g.onFile, o.id)
		o.val, o.body, o.onFile = ptr, nil, true
	}
	if err := s.bodies.sync(); err != nil {
		s.bodies.forget(g.onFile)
		return err
	}
	s.m.bodyBytes.Add(written)
	return nil
}

// write applies the live operations of g in order.
func (s *Store) write(g *group, live int) error {
	if h := s.opts.hooks; h != nil && h.beforeWrite != nil {
		if err := h.beforeWrite(); err != nil {
			return err
		}
	}
	// Keys and entry values are cut from one arena sized up front, so
	// they stay put until Badger has copied them (Flush).
	need := 0
	for i := range g.ops {
		if o := &g.ops[i]; !o.dead && (o.kind == opPutEntry || o.kind == opUpdateEntry) {
			need += entryKeyLen + entryHeadLen + len(o.val)
		} else if !o.dead && o.kind == opPutMessage && len(o.body) > 0 {
			need += entryKeyLen + len(o.val) + len(o.body)
		} else {
			need += entryKeyLen
		}
	}
	if cap(g.arena) < need {
		g.arena = make([]byte, 0, need)
	}
	arena := g.arena[:0]
	cut := func(n int) []byte { return arena[len(arena)-n : len(arena) : len(arena)] }

	wb := s.db.NewWriteBatch()
	var bytes, deletes uint64
	for i := range g.ops {
		o := &g.ops[i]
		if o.dead {
			continue
		}
		var err error
		switch o.kind {
		case opPutMessage:
			arena = appendMessageKey(arena, o.id)
			k := cut(messageKeyLen)
			switch {
			case o.onFile:
				err = wb.SetEntry(badger.NewEntry(k, o.val).WithMeta(bodyMeta))
			case len(o.body) > 0:
				arena = append(append(arena, o.val...), o.body...)
				v := cut(len(o.val) + len(o.body))
				err = wb.Set(k, v)
				bytes += uint64(len(v))
			default:
				err = wb.Set(k, o.val)
				bytes += uint64(len(o.val))
			}
		case opDeleteMessage:
			arena = appendMessageKey(arena, o.id)
			err = wb.Delete(cut(messageKeyLen))
			deletes++
		case opPutEntry, opUpdateEntry:
			arena = appendEntryKey(arena, o.id, o.seq)
			k := cut(entryKeyLen)
			arena = appendEntryValue(arena, o.msgID, o.val)
			err = wb.Set(k, cut(entryHeadLen+len(o.val)))
			bytes += uint64(entryHeadLen + len(o.val))
		case opDeleteEntry:
			arena = appendEntryKey(arena, o.id, o.seq)
			err = wb.Delete(cut(entryKeyLen))
		case opPutDefinition:
			err = wb.Set(o.key, o.val)
			bytes += uint64(len(o.val))
		case opDeleteDefinition:
			err = wb.Delete(o.key)
		case opDropQueue:
			wb, err = s.dropQueue(wb, o.id, o.seq)
		case opCompact:
			wb, err = s.flushMemtables(wb)
		}
		if err != nil {
			wb.Cancel()
			return err
		}
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	s.m.bytesWritten.Add(bytes)
	s.m.msgDeletes.Add(deletes)
	return nil
}

// dropQueue removes every entry of a queue. A small queue is deleted key
// by key within the group's write batch: no stall, and the tombstones are
// few. A big one goes through Badger's DropPrefix, which writes no
// tombstones (and removes the old ones) but flushes the memtables and
// rewrites the tables holding the prefix while blocking all writes; the
// batch so far is flushed first, so order holds, and a new batch is
// returned. "Small" counts every version the scan steps over, tombstones
// of acked entries included, so a drained queue with many tombstones
// never makes the writer scan for long. With from > 0 only the entries
// from that seq on go, always key by key (DropPrefix cannot keep the
// older ones).
func (s *Store) dropQueue(wb *badger.WriteBatch, queueID, from uint64) (*badger.WriteBatch, error) {
	prefix := appendQueuePrefix(nil, queueID)
	limit := s.opts.DropPrefixAbove
	if from > 0 {
		limit = math.MaxInt // a range: key by key, whatever its size
	}
	var keys [][]byte
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, AllVersions: true})
		defer it.Close()
		var last []byte
		steps := 0
		for it.Seek(appendEntryKey(nil, queueID, from)); it.ValidForPrefix(prefix); it.Next() {
			if steps++; steps > limit {
				keys = nil
				return errTooMany
			}
			item := it.Item()
			if last != nil && bytes.Equal(item.Key(), last) {
				continue // an older version of the key just seen
			}
			last = append(last[:0], item.Key()...)
			if !item.IsDeletedOrExpired() {
				keys = append(keys, item.KeyCopy(nil))
			}
		}
		return nil
	})
	if err == nil {
		for _, k := range keys {
			if err := wb.Delete(k); err != nil {
				return wb, err
			}
		}
		s.m.dropsByKeys.Add(1)
		return wb, nil
	}
	if err != errTooMany {
		return wb, err
	}
	if err := wb.Flush(); err != nil {
		return s.db.NewWriteBatch(), err
	}
	// No value-log GC runs meanwhile (badgerMu): it would write back
	// (move) values while the drop blocks writes.
	start := time.Now()
	err = s.db.DropPrefix(prefix)
	s.log.Info("queue dropped by prefix", zap.Uint64("queue", queueID), zap.Duration("took", time.Since(start)), zap.Error(err))
	s.m.dropsByPrefix.Add(1)
	return s.db.NewWriteBatch(), err
}

var errTooMany = fmt.Errorf("storage: too many keys")

// flushMemtables writes flushKey and drops it by prefix: Badger has no
// other way to flush its memtables on demand. The drop also compacts
// level 0 into the next level, where Badger counts the value-log garbage
// left by the deletes that were in the memtables.
func (s *Store) flushMemtables(wb *badger.WriteBatch) (*badger.WriteBatch, error) {
	if err := wb.Set(flushKey, nil); err != nil {
		return wb, err
	}
	if err := wb.Flush(); err != nil {
		return s.db.NewWriteBatch(), err
	}
	err := s.db.DropPrefix(flushKey)
	return s.db.NewWriteBatch(), err
}

// checkSpace keeps the file system from filling up. Badger writes through
// mmap: on a full disk its writes would fault (SIGBUS) instead of failing,
// so the store must not get there. It has three levels:
//
//   - below MinFreeBytes the store is short (see Admit): the engine takes
//     no new data, but everything already taken is written, so that
//     nothing it accepted (and perhaps delivered) has to be refused;
//   - below half of it (plus the group's bytes), a last resort: the
//     submissions that put anything get ErrDiskFull while those that only
//     delete go on, so consumers can still drain a full disk;
//   - below a quarter of it, the whole group fails.
//
// Between MinFreeBytes and half of it lie the writes in flight when the
// store went short: at most MaxPendingBytes (Throttle) with the defaults.
func (s *Store) checkSpace(g *group) error {
	min := s.m.minFree.Load()
	if min < 0 {
		return nil
	}
	free, err := s.freeBytes()
	if err != nil {
		return nil // cannot tell; let Badger report what it finds
	}
	s.noteFree(free)
	if free >= min/2+g.bytes {
		return nil
	}
	refused := fmt.Errorf("%w: %s has %d bytes free, the store keeps %d free beyond the %d bytes of this write",
		ErrDiskFull, s.opts.Dir, free, min/2, g.bytes)
	if free < min/4+g.bytes {
		s.m.diskFullRefusals.Add(uint64(g.clientSubs()))
		return refused
	}
	g.errs = make([]error, len(g.dones))
	for i, sub := range g.subs {
		if !sub.puts {
			continue
		}
		g.errs[i] = refused
		s.m.diskFullRefusals.Add(1)
		for j := sub.start; j < sub.end; j++ {
			g.ops[j].dead = true
		}
	}
	return nil
}

func (s *Store) freeBytes() (int64, error) {
	if h := s.opts.hooks; h != nil && h.freeBytes != nil {
		return h.freeBytes()
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
