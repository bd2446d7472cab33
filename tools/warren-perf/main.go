package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
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
