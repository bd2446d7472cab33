package main

import (
	"context"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSweep runs a short sweep of both shapes against two in-process
// Warrens (this process is the broker, so its PID gives the broker
// figures) and checks that the table has every step with sane numbers.
func TestSweep(t *testing.T) {
	a, b := startWarren(t), startWarren(t)
	pid := os.Getpid()
	o, err := parseSweepFlags([]string{"--url", a, "--name", "one", "--pid", itoa(pid),
		"--url", b, "--name", "two", "--pid", itoa(pid),
		"--scenario", "rate-sweep,rate-sweep-10", "--rates", "100,1000,0",
		"--step", "400ms", "--warmup", "100ms", "--pause", "0"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	results, err := sweep(context.Background(), o, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if want := 2 * 3 * 2; len(results) != want {
		t.Fatalf("%d results, want %d", len(results), want)
	}
	for _, r := range results {
		name := r.Scenario + " " + rateName(r.Rate) + " " + r.Name
		if r.Sent <= 0 || r.Received <= 0 || r.Latency.Count == 0 || r.Latency.Max <= 0 {
			t.Errorf("%s: no traffic measured: %+v", name, r)
		}
		// CPU comes from /proc in 10 ms ticks: a short step at a low rate
		// may see none, so only its absence (NaN) is a failure.
		if !(r.CPUPerMsg >= 0) || !(r.CtxSwitchPerMsg > 0) || math.IsNaN(r.SyscallsPerMsg) || !(r.ClientCPUPerMsg >= 0) {
			t.Errorf("%s: per-message figures missing: %+v", name, r)
		}
		if r.Rate > 0 && r.Rate <= 1000 {
			// At a low rate nothing arrives that was not sent, but for the
			// few in flight at the window's edges, and the pacer never
			// sends faster than asked. (Slower is what a loaded machine
			// does to a 400 ms step: not checked here.)
			tol := max(0.1*float64(r.Sent), 12)
			if float64(r.Received-r.Sent) > tol {
				t.Errorf("%s: sent %d, received %d", name, r.Sent, r.Received)
			}
			// The pacer catches up what a loaded machine delayed, the
			// warm-up's share included, into the window, and a late reading
			// of the window's end adds more: 1.5x still tells a paced
			// producer from one that ignores its rate (tens of times it).
			if r.SendRate > 1.5*r.Rate {
				t.Errorf("%s: send rate %.0f, want at most about %.0f", name, r.SendRate, r.Rate)
			}
		}
	}
	table := formatSweep(results, o.Names)
	for _, want := range []string{"### rate-sweep, each message acked", "### rate-sweep-10, each message acked",
		"| 100 | one |", "| 1,000 | two |", "| flat out | one/two |", "broker CPU µs/msg"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if n := strings.Count(table, "| one/two |"); n != 6 {
		t.Errorf("%d ratio rows, want 6:\n%s", n, table)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestParseSweepFlags(t *testing.T) {
	u := "amqp://guest:guest@127.0.0.1:5672/"
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"one broker, defaults", []string{"--url", u}, ""},
		{"no url", nil, "one or two --url"},
		{"three urls", []string{"--url", u, "--url", u, "--url", u}, "one or two --url"},
		{"not loopback", []string{"--url", "amqp://guest:guest@example.com:5672/"}, "loopback"},
		{"pid count", []string{"--url", u, "--url", u, "--pid", "1"}, "one --pid per --url"},
		{"unknown scenario", []string{"--url", u, "--scenario", "rate-sweep-3"}, "unknown sweep scenario"},
		{"ack above prefetch", []string{"--url", u, "--multiple-ack-every", "1,5000"}, "--multiple-ack-every"},
		{"negative rate", []string{"--url", u, "--rates", "100,-1"}, "--rates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errOut strings.Builder
			o, err := parseSweepFlags(tt.args, &errOut)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(o.Rates) != 6 || o.Rates[5] != 0 || o.AckEvery[0] != 1 || o.Step != 5*time.Second || o.Warmup != time.Second {
					t.Errorf("defaults: %+v", o)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestMeasureStep checks the arithmetic of a step's figures.
func TestMeasureStep(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s0 := snapshot{at: t0, sent: 100, received: 90, client: time.Second,
		broker: procCounters{CPU: time.Second, SysR: 10, SysW: 10, CtxSwitch: 5}}
	s1 := snapshot{at: t0.Add(2 * time.Second), sent: 2100, received: 2090, client: 1500 * time.Millisecond,
		broker: procCounters{CPU: 1200 * time.Millisecond, SysR: 3010, SysW: 1010, CtxSwitch: 1005}}
	r := measureStep(s0, s1, true)
	if r.SendRate != 1000 || r.RecvRate != 1000 || r.CPUPerMsg != 100 || r.SyscallsPerMsg != 2 ||
		r.CtxSwitchPerMsg != 0.5 || r.ClientCPUCores != 0.25 || r.ClientCPUPerMsg != 250 {
		t.Errorf("measureStep = %+v", r)
	}
	if r := measureStep(s0, s1, false); !math.IsNaN(r.CPUPerMsg) || r.ClientCPUPerMsg != 250 {
		t.Errorf("without a broker pid: %+v", r)
	}
}
