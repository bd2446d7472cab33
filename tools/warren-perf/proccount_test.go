package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseIOSyscalls(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		r, w       int64
		wantErrSub string
	}{
		{"kernel layout", "rchar: 92323566\nwchar: 3234820469\nsyscr: 1185793\nsyscw: 965960\nread_bytes: 57053184\nwrite_bytes: 230252544\ncancelled_write_bytes: 81920\n", 1185793, 965960, ""},
		{"no final newline", "syscr: 1\nsyscw: 2", 1, 2, ""},
		{"missing syscw", "syscr: 1\n", 0, 0, "no syscr: and syscw:"},
		{"not a number", "syscr: x\nsyscw: 2\n", 0, 0, "odd line"},
		{"empty", "", 0, 0, "no syscr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, w, err := parseIOSyscalls([]byte(tt.in))
			if tt.wantErrSub != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrSub) {
					t.Fatalf("err %v, want one containing %q", err, tt.wantErrSub)
				}
				return
			}
			if err != nil || r != tt.r || w != tt.w {
				t.Errorf("= %d, %d, %v; want %d, %d", r, w, err, tt.r, tt.w)
			}
		})
	}
}

func TestParseCtxSwitches(t *testing.T) {
	status := "Name:\tbeam.smp\nState:\tS (sleeping)\nVmRSS:\t  123 kB\nThreads:\t20\n" +
		"voluntary_ctxt_switches:\t4\nnonvoluntary_ctxt_switches:\t53\n"
	tests := []struct {
		name    string
		in      string
		v, n    int64
		wantErr bool
	}{
		{"status file", status, 4, 53, false},
		// "nonvoluntary_..." must not be read as "voluntary_..." (it does not start with it).
		{"nonvoluntary first", "nonvoluntary_ctxt_switches: 7\nvoluntary_ctxt_switches: 9\n", 9, 7, false},
		{"missing", "Name: x\n", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, n, err := parseCtxSwitches([]byte(tt.in))
			if (err != nil) != tt.wantErr || v != tt.v || n != tt.n {
				t.Errorf("= %d, %d, %v; want %d, %d, error %v", v, n, err, tt.v, tt.n, tt.wantErr)
			}
		})
	}
}

// TestReadCounters reads a fake /proc tree: CPU from stat, syscalls from
// io, and the context switches summed over the threads.
func TestReadCounters(t *testing.T) {
	root := t.TempDir()
	write := func(rel, s string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("42/stat", "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 100 0 0\n")
	write("42/io", "rchar: 1\nwchar: 2\nsyscr: 300\nsyscw: 400\n")
	write("42/task/42/status", "Name:\tx\nvoluntary_ctxt_switches:\t10\nnonvoluntary_ctxt_switches:\t1\n")
	write("42/task/43/status", "Name:\tx\nvoluntary_ctxt_switches:\t20\nnonvoluntary_ctxt_switches:\t2\n")
	c, err := readCounters(root, 42)
	if err != nil {
		t.Fatal(err)
	}
	want := procCounters{CPU: 3 * time.Second, SysR: 300, SysW: 400, VolCS: 30, NonvolCS: 3, CtxSwitch: 33}
	if c != want {
		t.Errorf("readCounters = %+v, want %+v", c, want)
	}
	if d := want.sub(procCounters{CPU: time.Second, SysR: 100, SysW: 100, VolCS: 10, NonvolCS: 1, CtxSwitch: 11}); d != (procCounters{CPU: 2 * time.Second, SysR: 200, SysW: 300, VolCS: 20, NonvolCS: 2, CtxSwitch: 22}) {
		t.Errorf("sub = %+v", d)
	}
	if _, err := readCounters(root, 7); err == nil {
		t.Error("no error for a missing pid")
	}
}

// TestReadCountersSelf reads this process: the counters exist and grow.
func TestReadCountersSelf(t *testing.T) {
	a, err := readCounters("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile("/proc/self/stat"); err != nil {
		t.Fatal(err)
	}
	b, err := readCounters("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d := b.sub(a); d.SysR < 1 || b.CtxSwitch <= 0 {
		t.Errorf("counters did not move: %+v then %+v", a, b)
	}
}
