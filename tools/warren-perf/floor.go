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
	h, err := floor(ctx, *rateF, *dur, *size)
	if err != nil {
		fmt.Fprintln(stderr, "warren-perf floor:", err)
		return 1
	}
	l := latencyOf(h)
	fmt.Fprintf(stdout, "warren-perf floor: a do-nothing relay process, %s records/s of %d B for %v\n", num(*rateF), *size, *dur)
	fmt.Fprintf(stdout, "  latency          p50 %s  p95 %s  p99 %s  max %s ms (%d samples)\n",
		msf(l.P50), msf(l.P95), msf(l.P99), msf(l.Max), h.Count())
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

func floor(ctx context.Context, rate float64, dur time.Duration, size int) (*Histogram, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, "floor-relay")
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	addr, err := bufio.NewReader(pipe).ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("the relay did not start: %w", err)
	}
	addr = strings.TrimSpace(addr)
	in, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	out, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer out.Close()

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
			return nil, ctx.Err()
		}
		binary.BigEndian.PutUint64(rec, uint64(time.Now().UnixNano()))
		if _, err := in.Write(rec); err != nil {
			return nil, err
		}
	}
	select {
	case err := <-read:
		return h, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
