package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrLocked matches (errors.Is) the error Open returns when another
// process holds the data directory.
var ErrLocked = errors.New("storage: data directory in use")

// LockedError says which process holds a data directory.
type LockedError struct {
	Dir string
	PID int // 0 when the lock file holds no readable pid
}

func (e *LockedError) Error() string {
	pid := "unknown"
	if e.PID > 0 {
		pid = strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("storage: data directory %s is in use by another Warren (pid %s)", e.Dir, pid)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// lockDir takes an exclusive flock on dir/LOCK and writes our pid into
// it. The lock lives as long as the returned file stays open, and the
// kernel drops it when the process dies, however it dies.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("storage: cannot open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid := readPID(f)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &LockedError{Dir: dir, PID: pid}
		}
		return nil, fmt.Errorf("storage: cannot lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: cannot write lock file %s: %w", path, err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: cannot write lock file %s: %w", path, err)
	}
	return f, nil
}

func readPID(f *os.File) int {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		return 0
	}
	return pid
}

// unlockDir releases the lock. The file stays: removing it would let a
// process that opened it before the removal lock a file nobody else sees.
//
// The lock is released explicitly (LOCK_UN) before the close: a flock
// belongs to the open file description, and a child this process forks
// holds a copy of every descriptor until its exec closes them, so a close
// alone leaves the lock held for as long as another goroutine's fork and
// exec take (a store reopened at once in the same process, as a restart in
// a test does, then found it "in use by another Warren").
func unlockDir(f *os.File) error {
	if f == nil {
		return nil
	}
	uerr := syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if err := f.Close(); err != nil {
		return err
	}
	return uerr
}
