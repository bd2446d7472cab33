package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. It
// is 100 on every Linux architecture Go supports (sysconf needs cgo).
const clockTicks = 100

// procSample is one reading of a process's CPU time and resident memory.
type procSample struct {
	CPU time.Duration // user + system
	RSS int64         // bytes
}

// readProc reads /proc/PID/stat and /proc/PID/status.
func readProc(pid int) (procSample, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procSample{}, err
	}
	cpu, err := parseStatCPU(stat)
	if err != nil {
		return procSample{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procSample{}, err
	}
	rss, err := parseStatusRSS(status)
	if err != nil {
		return procSample{}, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	return procSample{CPU: cpu, RSS: rss}, nil
}

// parseStatCPU returns utime+stime (fields 14 and 15) of a /proc/PID/stat
// line. The command name (field 2) is in parentheses and may hold spaces and
// parentheses itself, so fields are counted from the last ')'.
func parseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("no ')' in stat")
	}
	f := bytes.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, errors.New("short stat")
	}
	ut, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	st, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// parseStatusRSS returns VmRSS from /proc/PID/status, in bytes.
func parseStatusRSS(status []byte) (int64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("odd VmRSS line %q", line)
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		return kb << 10, err
	}
	return 0, errors.New("no VmRSS")
}

// sampler watches a broker process every 100 ms between start and stop: the
// CPU it used in that window and its peak resident memory.
type sampler struct {
	pid    int
	start  procSample
	cancel context.CancelFunc
	done   chan struct{}

	mu struct {
		sync.Mutex
		peak      int64
		phasePeak int64 // the peak since markPhase
		err       error
	}
}

// startSampler takes the first sample and starts the 100 ms loop. A pid of 0
// gives a nil sampler, whose methods all do nothing.
func startSampler(pid int) (*sampler, error) {
	if pid == 0 {
		return nil, nil
	}
	first, err := readProc(pid)
	if err != nil {
		return nil, fmt.Errorf("--broker-pid %d: %w", pid, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &sampler{pid: pid, start: first, cancel: cancel, done: make(chan struct{})}
	s.mu.peak = first.RSS
	go s.loop(ctx)
	return s, nil
}

func (s *sampler) loop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sample()
		}
	}
}

func (s *sampler) sample() (procSample, error) {
	p, err := readProc(s.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.mu.err == nil {
			s.mu.err = err
		}
		return p, err
	}
	s.mu.peak = max(s.mu.peak, p.RSS)
	s.mu.phasePeak = max(s.mu.phasePeak, p.RSS)
	return p, nil
}

// markPhase takes a sample that starts a phase (a backlog's drain): the
// phase's peak RSS counts from it.
func (s *sampler) markPhase() procSample {
	if s == nil {
		return procSample{}
	}
	p, _ := s.sample()
	s.mu.Lock()
	s.mu.phasePeak = p.RSS
	s.mu.Unlock()
	return p
}

// phaseEnd takes a sample that ends the phase markPhase started, and
// returns it with the phase's peak RSS.
func (s *sampler) phaseEnd() (procSample, int64) {
	if s == nil {
		return procSample{}, 0
	}
	p, _ := s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return p, s.mu.phasePeak
}

// now takes a sample outside the loop (for the RSS before and after a
// phase); it also counts towards the peak.
func (s *sampler) now() procSample {
	if s == nil {
		return procSample{}
	}
	p, _ := s.sample()
	return p
}

// brokerStats is what a sampler reports at the end of a run.
type brokerStats struct {
	CPU      time.Duration
	StartRSS int64
	EndRSS   int64
	PeakRSS  int64
}

// stop takes a last sample, stops the loop and reports.
func (s *sampler) stop() (brokerStats, error) {
	if s == nil {
		return brokerStats{}, nil
	}
	last, err := s.sample()
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.err != nil && err != nil {
		return brokerStats{}, fmt.Errorf("broker pid %d: %w", s.pid, s.mu.err)
	}
	return brokerStats{CPU: last.CPU - s.start.CPU, StartRSS: s.start.RSS, EndRSS: last.RSS, PeakRSS: s.mu.peak}, nil
}

// selfCPU is the CPU time (user + system) this process has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// listenInodes returns the inodes of the sockets in a /proc/net/tcp or
// tcp6 table that listen (state 0A) on port.
func listenInodes(table []byte, port int) []string {
	var inodes []string
	for line := range bytes.Lines(table) {
		f := bytes.Fields(line)
		if len(f) < 10 || string(f[3]) != "0A" {
			continue
		}
		local := f[1]
		i := bytes.LastIndexByte(local, ':')
		if i < 0 {
			continue
		}
		if p, err := strconv.ParseUint(string(local[i+1:]), 16, 16); err == nil && int(p) == port {
			inodes = append(inodes, string(f[9]))
		}
	}
	return inodes
}

// listensOn reports whether process pid holds a socket listening on TCP
// port (any address), by matching /proc/net/tcp{,6} with /proc/PID/fd.
func listensOn(pid, port int) (bool, error) {
	want := map[string]bool{}
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		table, err := os.ReadFile(name)
		if err != nil {
			continue // no IPv6, say
		}
		for _, ino := range listenInodes(table, port) {
			want["socket:["+ino+"]"] = true
		}
	}
	if len(want) == 0 {
		return false, nil
	}
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, fd := range fds {
		if target, err := os.Readlink(dir + "/" + fd.Name()); err == nil && want[target] {
			return true, nil
		}
	}
	return false, nil
}
