package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// The test binary stands in for warren-perf as floor's relay process.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "floor-relay" {
		os.Exit(relayMain(os.Stdout))
	}
	os.Exit(m.Run())
}

// floor relays every record through a separate process and reports the
// latency of each.
func TestFloorRelaysEveryRecord(t *testing.T) {
	var out, errb bytes.Buffer
	code := realMain(context.Background(), []string{"floor", "--rate", "2000", "--time", "250ms"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "(500 samples)") || !strings.Contains(out.String(), "p99") {
		t.Fatalf("unexpected output: %s", out.String())
	}
}
