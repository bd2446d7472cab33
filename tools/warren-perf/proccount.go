package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// procCounters are a process's cumulative counters that a rate-sweep step
// turns into per-message figures by taking the difference over the step.
// All of them are readable for any PID the caller may ptrace (RabbitMQ's
// beam.smp as much as Warren):
//
//	/proc/PID/stat           utime + stime (fields 14, 15), the whole process
//	/proc/PID/io             syscr, syscw: read- and write-class syscalls of the
//	                         whole process (read, readv, write, writev, ...; not
//	                         recvfrom/sendmsg, epoll_wait or futex)
//	/proc/PID/task/*/status  voluntary_ctxt_switches + nonvoluntary_ctxt_switches,
//	                         per thread, summed (the process's own status file
//	                         shows the main thread's only)
//
// Context switches stand in for goroutine (or Erlang scheduler) wake-ups:
// a thread that parks in futex or epoll_wait and is woken again switches
// out voluntarily once. Threads that exited during a step take their
// counts with them.
type procCounters struct {
	CPU       time.Duration
	SysR      int64
	SysW      int64
	VolCS     int64
	NonvolCS  int64
	CtxSwitch int64 // VolCS + NonvolCS
}

// readCounters reads procCounters of pid from the /proc tree at root
// ("/proc" outside tests).
func readCounters(root string, pid int) (procCounters, error) {
	var c procCounters
	dir := filepath.Join(root, strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return c, err
	}
	if c.CPU, err = parseStatCPU(stat); err != nil {
		return c, fmt.Errorf("%s/stat: %w", dir, err)
	}
	io, err := os.ReadFile(filepath.Join(dir, "io"))
	if err != nil {
		return c, err
	}
	if c.SysR, c.SysW, err = parseIOSyscalls(io); err != nil {
		return c, fmt.Errorf("%s/io: %w", dir, err)
	}
	tasks, err := os.ReadDir(filepath.Join(dir, "task"))
	if err != nil {
		return c, err
	}
	for _, t := range tasks {
		status, err := os.ReadFile(filepath.Join(dir, "task", t.Name(), "status"))
		if err != nil {
			continue // the thread exited since the listing
		}
		v, n, err := parseCtxSwitches(status)
		if err != nil {
			return c, fmt.Errorf("%s/task/%s/status: %w", dir, t.Name(), err)
		}
		c.VolCS += v
		c.NonvolCS += n
	}
	c.CtxSwitch = c.VolCS + c.NonvolCS
	return c, nil
}

// sub is c minus an earlier reading o.
func (c procCounters) sub(o procCounters) procCounters {
	return procCounters{CPU: c.CPU - o.CPU, SysR: c.SysR - o.SysR, SysW: c.SysW - o.SysW,
		VolCS: c.VolCS - o.VolCS, NonvolCS: c.NonvolCS - o.NonvolCS, CtxSwitch: c.CtxSwitch - o.CtxSwitch}
}

// parseIOSyscalls returns syscr and syscw from /proc/PID/io.
func parseIOSyscalls(b []byte) (syscr, syscw int64, err error) {
	return twoFields(b, "syscr:", "syscw:")
}

// parseCtxSwitches returns voluntary_ctxt_switches and
// nonvoluntary_ctxt_switches from a /proc status file.
func parseCtxSwitches(b []byte) (vol, nonvol int64, err error) {
	return twoFields(b, "voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")
}

// twoFields finds the lines starting with keyA and keyB in a "key: value"
// file and parses their values as integers.
func twoFields(b []byte, keyA, keyB string) (a, bv int64, err error) {
	found := 0
	for line := range bytes.Lines(b) {
		var dst *int64
		var rest []byte
		if r, ok := bytes.CutPrefix(line, []byte(keyA)); ok {
			dst, rest = &a, r
		} else if r, ok := bytes.CutPrefix(line, []byte(keyB)); ok {
			dst, rest = &bv, r
		} else {
			continue
		}
		v, perr := strconv.ParseInt(string(bytes.TrimSpace(rest)), 10, 64)
		if perr != nil {
			return 0, 0, fmt.Errorf("odd line %q: %w", bytes.TrimSpace(line), perr)
		}
		*dst = v
		found++
	}
	if found != 2 {
		return 0, 0, errors.New("no " + keyA + " and " + keyB)
	}
	return a, bv, nil
}
