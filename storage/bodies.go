package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"go.uber.org/zap"
)

// bodyLog keeps large message bodies out of Badger: each goes to the end
// of a plain segment file with write(2), and Badger keeps a small pointer
// under the message's key (see doc.go, "Large bodies"). Badger would copy
// such a body three times (into its write buffer, then page by page into
// its memory-mapped value log, then msync); here the bytes go from the
// message's own slices to the kernel once.
//
// The writer goroutine is the only one that appends (put, sync, abort)
// and settles (release); reads (read) come from any goroutine. mu guards
// the maps and counts, never I/O.
type bodyLog struct {
	dir     string
	segSize int64
	log     *zap.Logger

	dirty []*segment // written since the last sync; writer-owned

	mu struct {
		sync.Mutex
		segs   map[uint64]*segment
		msgs   map[uint64]uint64 // msgID -> segment, for every body with a pointer (or about to get one)
		active *segment          // being appended; nil: the next put starts one
		next   uint64            // the next segment number
	}
}

// segment is one body file. live counts the bodies in it that are still
// referenced; at zero (and not active) the file is deleted.
type segment struct {
	num  uint64
	f    *os.File
	size int64 // appended bytes; the writer's, under mu for others
	live int   // under bodyLog.mu
}

// Pointer value (Badger value of a message key whose UserMeta is
// bodyMeta):
//
//	segment u64 BE | offset u64 BE | length u32 BE
const (
	bodyMeta   = 0x01
	bodyPtrLen = 8 + 8 + 4
	segSuffix  = ".seg"
	bodiesDir  = "bodies"
)

// errBodyWrite marks a body that could not be written (the disk is full,
// say): the group fails alone, and the segment is cut back to where it was.
var errBodyWrite = errors.New("storage: cannot write message body")

func segName(num uint64) string { return fmt.Sprintf("%016x%s", num, segSuffix) }

// openBodyLog opens dir (creating it), and the segments already there for
// reading; new bodies go to new segments. Which of the old bodies are
// live is learned by Recover (note), which then deletes the rest (sweep).
func openBodyLog(dir string, segSize int64, log *zap.Logger) (*bodyLog, error) {
	l := &bodyLog{dir: dir, segSize: segSize, log: log}
	l.mu.segs = map[uint64]*segment{}
	l.mu.msgs = map[uint64]uint64{}
	l.mu.next = 1
	if err := os.Mkdir(dir, 0o750); err == nil {
		if err := syncDir(filepath.Dir(dir)); err != nil {
			return nil, fmt.Errorf("storage: cannot sync %s: %w", filepath.Dir(dir), err)
		}
	} else if !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("storage: cannot create %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: cannot read %s: %w", dir, err)
	}
	for _, e := range entries {
		num, ok := parseSegName(e.Name())
		if !ok {
			continue // not ours; leave it
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			l.close()
			return nil, fmt.Errorf("storage: cannot open body segment: %w", err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			l.close()
			return nil, fmt.Errorf("storage: cannot read body segment: %w", err)
		}
		l.mu.segs[num] = &segment{num: num, f: f, size: fi.Size()}
		l.mu.next = max(l.mu.next, num+1)
	}
	return l, nil
}

func parseSegName(name string) (uint64, bool) {
	hex, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(hex) != 16 {
		return 0, false
	}
	n, err := strconv.ParseUint(hex, 16, 64)
	return n, err == nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// put appends one message's body, made of parts in order, and returns the
// pointer to it in ptr (bodyPtrLen bytes). The body is durable only after
// sync. A failed write is cut back and reported wrapped in errBodyWrite.
func (l *bodyLog) put(msgID uint64, ptr []byte, parts ...[]byte) error {
	seg, err := l.activeFor()
	if err != nil {
		return err
	}
	start := seg.size
	n := 0
	for _, p := range parts {
		if _, err := seg.f.Write(p); err != nil {
			if terr := seg.f.Truncate(start); terr != nil {
				return fmt.Errorf("storage: body segment %s: write failed (%v), and cutting it back too: %w", segName(seg.num), err, terr)
			}
			seg.f.Seek(start, io.SeekStart)
			return fmt.Errorf("%w: %w", errBodyWrite, err)
		}
		n += len(p)
	}
	binary.BigEndian.PutUint64(ptr, seg.num)
	binary.BigEndian.PutUint64(ptr[8:], uint64(start))
	binary.BigEndian.PutUint32(ptr[16:], uint32(n))
	l.mu.Lock()
	seg.size += int64(n)
	seg.live++
	l.mu.msgs[msgID] = seg.num
	l.mu.Unlock()
	if len(l.dirty) == 0 || l.dirty[len(l.dirty)-1] != seg {
		l.dirty = append(l.dirty, seg)
	}
	return nil
}

// activeFor returns the segment to append to, starting a new one when
// there is none or the active one is full. A new file's directory entry
// is synced at once, so a synced body is never in a file that a crash
// loses.
func (l *bodyLog) activeFor() (*segment, error) {
	l.mu.Lock()
	seg := l.mu.active
	if seg != nil && seg.size < l.segSize {
		l.mu.Unlock()
		return seg, nil
	}
	num := l.mu.next
	l.mu.next++
	l.mu.Unlock()
	path := filepath.Join(l.dir, segName(num))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBodyWrite, err)
	}
	if err := syncDir(l.dir); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("storage: cannot sync %s: %w", l.dir, err)
	}
	seg = &segment{num: num, f: f}
	l.mu.Lock()
	old := l.mu.active
	l.mu.active = seg
	l.mu.segs[num] = seg
	if old != nil && old.live == 0 {
		l.removeLocked(old)
	}
	l.mu.Unlock()
	return seg, nil
}

// sync makes every body written since the last sync durable (fdatasync:
// the data and the file's size).
func (l *bodyLog) sync() error {
	for _, seg := range l.dirty {
		if err := syscall.Fdatasync(int(seg.f.Fd())); err != nil {
			return fmt.Errorf("storage: fdatasync of body segment %s: %w", segName(seg.num), err)
		}
	}
	clear(l.dirty)
	l.dirty = l.dirty[:0]
	return nil
}

// forget undoes the accounting of bodies written for a group that then
// failed: no pointer to them was written.
func (l *bodyLog) forget(ids []uint64) {
	l.release(ids)
}

// release settles the bodies of deleted messages (ids of messages whose
// body is not in a segment are ignored). A segment left with no live body
// is deleted; the active one too, so that a drained store holds no body
// file at all.
func (l *bodyLog) release(ids []uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.mu.msgs) == 0 {
		return
	}
	for _, id := range ids {
		num, ok := l.mu.msgs[id]
		if !ok {
			continue
		}
		delete(l.mu.msgs, id)
		seg := l.mu.segs[num]
		if seg == nil {
			continue
		}
		if seg.live--; seg.live <= 0 {
			l.removeLocked(seg)
		}
	}
}

// removeLocked closes and deletes a segment with no live body. The active
// one goes too: the next put starts a new file. Its removal need not be
// durable: a segment a crash brings back has no pointer to it, and
// recovery deletes it again.
func (l *bodyLog) removeLocked(seg *segment) {
	if l.mu.active == seg {
		l.mu.active = nil
		for i, d := range l.dirty {
			if d == seg {
				l.dirty = append(l.dirty[:i], l.dirty[i+1:]...)
				break
			}
		}
	}
	delete(l.mu.segs, seg.num)
	seg.f.Close()
	if err := os.Remove(filepath.Join(l.dir, segName(seg.num))); err != nil && !errors.Is(err, os.ErrNotExist) {
		l.log.Warn("cannot delete a settled body segment", zap.String("segment", segName(seg.num)), zap.Error(err))
	}
}

// read returns a copy of the body ptr points to.
func (l *bodyLog) read(ptr []byte) ([]byte, error) {
	if len(ptr) != bodyPtrLen {
		return nil, fmt.Errorf("storage: malformed body pointer (%d bytes)", len(ptr))
	}
	num := binary.BigEndian.Uint64(ptr)
	off := int64(binary.BigEndian.Uint64(ptr[8:]))
	n := int(binary.BigEndian.Uint32(ptr[16:]))
	l.mu.Lock()
	seg := l.mu.segs[num]
	l.mu.Unlock()
	if seg == nil {
		return nil, fmt.Errorf("%w: body segment %s is gone", ErrNotFound, segName(num))
	}
	out := make([]byte, n)
	if _, err := seg.f.ReadAt(out, off); err != nil {
		if errors.Is(err, os.ErrClosed) {
			return nil, fmt.Errorf("%w: body segment %s was deleted", ErrNotFound, segName(num))
		}
		return nil, fmt.Errorf("storage: read body segment %s at %d: %w", segName(num), off, err)
	}
	return out, nil
}

// note records, during recovery, that a message's body lives where ptr
// points.
func (l *bodyLog) note(msgID uint64, ptr []byte) {
	if len(ptr) != bodyPtrLen {
		return
	}
	num := binary.BigEndian.Uint64(ptr)
	l.mu.Lock()
	defer l.mu.Unlock()
	seg := l.mu.segs[num]
	if seg == nil {
		return // dangling: reading it reports the message missing
	}
	l.mu.msgs[msgID] = num
	seg.live++
}

// sweep deletes, after recovery, the segments no pointer references: the
// bodies of messages settled before a crash, or written by a group whose
// pointers never reached the disk.
func (l *bodyLog) sweep() {
	l.mu.Lock()
	defer l.mu.Unlock()
	nums := make([]uint64, 0, len(l.mu.segs))
	for num := range l.mu.segs {
		nums = append(nums, num)
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	for _, num := range nums {
		if seg := l.mu.segs[num]; seg.live <= 0 && seg != l.mu.active {
			l.removeLocked(seg)
		}
	}
}

// stats returns the segments on disk and their bytes.
func (l *bodyLog) stats() (segs int, bytes int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, seg := range l.mu.segs {
		bytes += seg.size
	}
	return len(l.mu.segs), bytes
}

func (l *bodyLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, seg := range l.mu.segs {
		seg.f.Close()
	}
}
