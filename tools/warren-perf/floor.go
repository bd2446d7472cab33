package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// floor measures what this machine gives any broker: the end-to-end
// latency of a relay that does nothing. A child process (a separate
// process, as a broker is) accepts two loopback connections and copies
// the first one's bytes to the second; the parent writes timestamped
// records into one at a fixed rate and reads them back from the other,
// the path of latency-1k without the AMQP and the broker's work. Its
// percentiles are the floor under latency-1k's.
func floorMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("warren-perf floor", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	rateF := fs.Float64("rate", 1000, "records per second")
	dur := fs.Duration("time", 6*time.Second, "run duration")
	size := fs.Int("size", 16, "record bytes (8 or more)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *rateF <= 0 || *size < 8 || *dur <= 0 {
		fmt.Fprintln(stderr, "warren-perf floor: --rate and --time must be positive, --size at least 8")
		return 2
	}
	h, relayCPU, err := floor(ctx, *rateF, *dur, *size)
	if err != nil {
		fmt.Fprintln(stderr, "warren-perf floor:", err)
		return 1
	}
	l := latencyOf(h)
	fmt.Fprintf(stdout, "warren-perf floor: a do-nothing relay process, %s records/s of %d B for %v\n", num(*rateF), *size, *dur)
	fmt.Fprintf(stdout, "  latency          p50 %s  p95 %s  p99 %s  max %s ms (%d samples)\n",
		msf(l.P50), msf(l.P95), msf(l.P99), msf(l.Max), h.Count())
	if n := h.Count(); n > 0 {
		// The relay reads and writes once a record: the least CPU any
		// process spends to pass a record on at this rate on this
		// machine. A broker reads a publish, writes a delivery and reads
		// an ack: half as much again, at least.
		fmt.Fprintf(stdout, "  relay CPU        %v (%.1f%% of a core)  %.1f us per record\n",
			relayCPU.Round(time.Millisecond), 100*relayCPU.Seconds()/dur.Seconds(), float64(relayCPU.Microseconds())/float64(n))
	}
	return 0
}

// relayMain is the child: it prints its address, accepts a writer and a
// reader connection, in that order, and copies one to the other.
func relayMain(stdout io.Writer) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 1
	}
	fmt.Fprintln(stdout, ln.Addr())
	in, err := ln.Accept()
	if err != nil {
		return 1
	}
	out, err := ln.Accept()
	if err != nil {
		return 1
	}
	io.Copy(out, in)
	return 0
}

// floor returns the histogram of the records' latencies and the CPU the
// relay process spent while they passed.
func floor(ctx context.Context, rate float64, dur time.Duration, size int) (*Histogram, time.Duration, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, 0, err
	}
	cmd := exec.CommandContext(ctx, self, "floor-relay")
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, 0, err
	}
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	addr, err := bufio.NewReader(pipe).ReadString('\n')
	if err != nil {
		return nil, 0, fmt.Errorf("the relay did not start: %w", err)
	}
	addr = strings.TrimSpace(addr)
	in, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, 0, err
	}
	defer in.Close()
	out, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, 0, err
	}
	defer out.Close()
	before, err := readProc(cmd.Process.Pid)
	if err != nil {
		return nil, 0, err
	}

	n := int(rate * dur.Seconds())
	h := new(Histogram)
	read := make(chan error, 1)
	go func() {
		buf := make([]byte, size)
		for range n {
			if _, err := io.ReadFull(out, buf); err != nil {
				read <- err
				return
			}
			h.Record(time.Duration(time.Now().UnixNano() - int64(binary.BigEndian.Uint64(buf))))
		}
		read <- nil
	}()
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	rec := make([]byte, size)
	for range n {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
		binary.BigEndian.PutUint64(rec, uint64(time.Now().UnixNano()))
		if _, err := in.Write(rec); err != nil {
			return nil, 0, err
		}
	}
	select {
	case err := <-read:
		if err != nil {
			return nil, 0, err
		}
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	after, err := readProc(cmd.Process.Pid)
	if err != nil {
		return nil, 0, err
	}
	return h, after.CPU - before.CPU, nil
}
