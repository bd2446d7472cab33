package storage

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func diskFullOptions(dir string) Options {
	return Options{Dir: dir, MemTableSize: 1 << 20, ValueLogFileSize: 1 << 20, GCInterval: -1, MinFreeBytes: 4 << 20}
}

// diskFullChild fills the file system under dir with 64 KiB messages
// until the store refuses them, checks that refusals are ErrDiskFull
// errors, then drains everything (deletes still go through) and reports.
func diskFullChild(dir string) int {
	fail := func(format string, args ...any) int {
		fmt.Printf("FAIL "+format+"\n", args...)
		return 1
	}
	s, err := Open(diskFullOptions(dir))
	if err != nil {
		return fail("open: %v", err)
	}
	if _, err := s.Recover(func(q, seq, id uint64, meta []byte) error { return nil }); err != nil {
		return fail("recover: %v", err)
	}
	confirmed, refused := 0, 0
	for id := uint64(1); refused < 5; id++ {
		var b Batch
		b.PutMessage(id, body(id, 64<<10))
		b.PutEntry(1, id, id, nil)
		switch err := s.apply(&b); {
		case err == nil:
			confirmed++
		case errors.Is(err, ErrDiskFull) && !errors.Is(err, ErrFailed):
			refused++
		default:
			return fail("publish %d: %v", id, err)
		}
		if id > 100000 {
			return fail("the disk never filled")
		}
	}
	fmt.Printf("confirmed %d refused %d\n", confirmed, refused)
	for id := uint64(1); id <= uint64(confirmed); id++ {
		var b Batch
		b.DeleteEntry(1, id)
		b.DeleteMessage(id)
		if err := s.apply(&b); err != nil {
			return fail("drain %d: %v", id, err)
		}
	}
	fmt.Println("drained")
	if err := s.Close(); err != nil {
		return fail("close: %v", err)
	}
	return 0
}

// On a tiny tmpfs the store runs into a full disk: publishes come back as
// ErrDiskFull (never a crash: Badger would die of SIGBUS writing into a
// full mmap'd file), deletes still drain it, and the store reopens with
// nothing lost or left. The filling runs in a child process, so that a
// crash fails this test instead of killing the test binary.
func TestFullDiskOnTmpfs(t *testing.T) {
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=16m"); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v): the full-disk test needs root and mount permission", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	dir := filepath.Join(mnt, "data")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), diskFullChildEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	t.Logf("child: %s", strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("child failed: %v", err)
	}
	var confirmed, refused int
	if _, err := fmt.Sscanf(string(out), "confirmed %d refused %d", &confirmed, &refused); err != nil || confirmed == 0 || refused != 5 {
		t.Fatalf("child output %q", out)
	}
	if !strings.Contains(string(out), "drained") {
		t.Fatal("child did not drain")
	}

	s, err := Open(diskFullOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, st := recoverAll(t, s)
	if st.Entries != 0 || st.Messages != 0 {
		t.Fatalf("after the drain: %+v", st)
	}
	var fs syscall.Statfs_t
	syscall.Statfs(mnt, &fs)
	t.Logf("tmpfs: %d KiB free of 16 MiB after the drain and a restart", int64(fs.Bavail)*int64(fs.Bsize)>>10)
	// The restarted store reclaims the drained space by itself, with no
	// write to set it off, and takes new data again.
	waitFor(t, "the guard to let go after the restart", func() bool { return s.Admit() == nil })
	syscall.Statfs(mnt, &fs)
	t.Logf("tmpfs: %d KiB free once the guard let go", int64(fs.Bavail)*int64(fs.Bsize)>>10)
}
