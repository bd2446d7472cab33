package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/amqp/cluster/chaos"
	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
)

func TestParseRunEnvAndFlags(t *testing.T) {
	t.Setenv("CHAOS_FAULTS", "7")
	t.Setenv("CHAOS_SEED", "9")
	t.Setenv("CHAOS_QUEUE_TYPE", "quorum")
	o, err := parseRun(nil, io.Discard)
	if err != nil || o.faults != 7 || o.seed != 9 || o.queueType != "quorum" {
		t.Fatalf("from the environment: %+v, %v", o, err)
	}
	o, err = parseRun([]string{"--faults", "3", "--seed", "5", "--queue-type", "classic", "--kinds", "kill,drop"}, io.Discard)
	if err != nil || o.faults != 3 || o.seed != 5 || o.queueType != "classic" || len(o.kinds) != 2 {
		t.Fatalf("flags over the environment: %+v, %v", o, err)
	}
	for _, tc := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"--queue-type", "stream"}, "", "--queue-type"},
		{[]string{"--kinds", "kill,melt"}, "", `unknown kind "melt"`},
		{[]string{"--nodes", "1"}, "", "--nodes 1"},
		{nil, "many", "CHAOS_FAULTS"},
	} {
		t.Setenv("CHAOS_FAULTS", tc.env)
		if _, err := parseRun(tc.args, io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseRun(%v) with CHAOS_FAULTS=%q: %v, want an error saying %q", tc.args, tc.env, err, tc.want)
		}
	}
}

func TestBenchRefusesRemoteBrokers(t *testing.T) {
	err := benchCmd(context.Background(), []string{"--publish-url", "amqp://guest:guest@example.com:5672/"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Fatalf("bench against example.com: %v", err)
	}
}

// TestBenchInProcess: a short bench against an in-process Warren, with a
// fault command, reports its figures, finds nothing wrong and deletes its
// queue.
func TestBenchInProcess(t *testing.T) {
	url := servertest.Start(t, server.Config{})
	var out bytes.Buffer
	err := benchCmd(context.Background(), []string{"--publish-url", url, "--queue-type", "classic", "--time", "1500ms",
		"--fault-after", "500ms", "--fault-cmd", "true", "--heal-after", "10ms", "--heal-cmd", "true"}, &out, io.Discard)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, &out)
	}
	for _, want := range []string{"msg/s", "confirm latency ms: p50", "fault command at +0.5", "checker: lost 0, duplicated 0 (unexplained 0), invented 0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("bench output lacks %q:\n%s", want, &out)
		}
	}
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	_, err = ch.QueueDeclarePassive("chaos-bench", true, false, false, false, nil)
	var ae *amqp.Error
	if !errors.As(err, &ae) || ae.Code != amqp.NotFound {
		t.Errorf("the bench's queue is still there: %v", err)
	}
}

// TestRunShortSchedule: `warren-chaos run` with two faults on real
// processes prints the seed and a clean summary.
func TestRunShortSchedule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs warren processes")
	}
	dir := t.TempDir()
	bin, err := chaos.BuildWarren(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = runCmd(context.Background(), []string{"--binary", bin, "--dir", dir, "--faults", "2", "--seed", "11",
		"--kinds", "kill,partition", "--min-hold", "300ms", "--max-hold", "400ms"}, &out, io.Discard)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, &out)
	}
	for _, want := range []string{"seed 11 (again: CHAOS_SEED=11)", "faults        2:", "lost          0", "invented      0", "disagreements 0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("run's output lacks %q:\n%s", want, &out)
		}
	}
}
