package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := realMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// realMain runs one command and returns the exit code: 0 done, 1 the run
// failed, 2 bad usage.
func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "compare":
			return compareMain(ctx, args[1:], stdout, stderr)
		case "sweep":
			return sweepMain(ctx, args[1:], stdout, stderr)
		case "floor":
			return floorMain(ctx, args[1:], stdout, stderr)
		case "floor-relay":
			return relayMain(stdout)
		}
	}
	if len(args) > 0 && args[0] == "run" {
		args = args[1:]
	}
	cfg, err := parseRunFlags(args, stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "warren-perf:", err)
		return 2
	}
	if !cfg.Quiet {
		cfg.Progress = stderr
	}
	res, err := Run(ctx, cfg)
	if cfg.JSON {
		if jerr := writeJSON(stdout, res); jerr != nil {
			err = errors.Join(err, jerr)
		}
	} else {
		writeSummary(stdout, res)
	}
	if err != nil {
		fmt.Fprintln(stderr, "warren-perf:", err)
		return 1
	}
	return 0
}

func compareMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseCompareFlags(args, stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "warren-perf compare:", err)
		return 2
	}
	loadBefore := loadAverage()
	rows, _, err := compare(ctx, o, stderr)
	if len(rows) == 0 && err != nil {
		fmt.Fprintln(stderr, "warren-perf compare:", err)
		return 1
	}
	fmt.Fprintf(stdout, "\nwarren-perf compare: %d round(s), A then B in each; A = %s (%s), B = %s (%s); pids %v\n\n",
		o.Rounds, o.Names[0], redact(o.URLs[0]), o.Names[1], redact(o.URLs[1]), o.PIDs)
	fmt.Fprint(stdout, formatTable(rows, o.Names[0], o.Names[1]))
	fmt.Fprintf(stdout, "\nratio = %s/%s of the medians; ↑ higher is better, ↓ lower is better; ±x%% is half the range over the rounds.\n",
		o.Names[0], o.Names[1])
	fmt.Fprintf(stdout, "machine load average (1, 5, 15 min) before: %s; after: %s\n", loadBefore, loadAverage())
	if err != nil {
		fmt.Fprintf(stdout, "\nerrors (their runs are left out of the medians):\n")
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stdout, "- %s\n", line)
		}
		return 1
	}
	return 0
}

// loadAverage is the first three fields of /proc/loadavg: how busy the
// machine was, which bounds how much the figures can be trusted.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
