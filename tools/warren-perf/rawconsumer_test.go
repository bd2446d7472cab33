package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
)

// TestRawConsumer: the raw consumer receives every message of a classic
// run and of a stream replay from first (x-stream-offset passed through),
// records their latency, acks (the run's prefetch would stall otherwise)
// and leaves nothing behind.
func TestRawConsumer(t *testing.T) {
	url := servertest.Start(t, server.Config{StreamDir: t.TempDir()})
	t.Run("classic", func(t *testing.T) {
		cfg := smallConfig(url)
		cfg.Count, cfg.RawConsumer = 2000, true // 20x the prefetch: only acks let it finish
		r := newRun(cfg)
		res, err := r.execute(context.Background())
		if err != nil || res.Incomplete != "" {
			t.Fatalf("%v %s", err, res.Incomplete)
		}
		if res.Received != 2000 || res.Latency.Count != 2000 {
			t.Errorf("received %d, latencies %d; want 2000 each", res.Received, res.Latency.Count)
		}
		assertCleanedUp(t, url, r)
	})
	t.Run("stream-replay", func(t *testing.T) {
		cfg := smallConfig(url)
		if err := applyScenario(&cfg, "stream-replay"); err != nil {
			t.Fatal(err)
		}
		cfg.URL, cfg.Count, cfg.Time, cfg.RawConsumer = url, 3000, 30*time.Second, true
		res, err := Run(context.Background(), cfg)
		if err != nil || res.Incomplete != "" {
			t.Fatalf("%v %s", err, res.Incomplete)
		}
		if res.Received != 3000 || res.DrainRate <= 0 {
			t.Errorf("received %d, drain %v msg/s; want 3000", res.Received, res.DrainRate)
		}
	})
	t.Run("refused", func(t *testing.T) {
		// A stream consumer without a prefetch: the broker closes the raw
		// consumer's channel, and the run fails with its text.
		cfg := smallConfig(url)
		if err := applyScenario(&cfg, "stream-replay"); err != nil {
			t.Fatal(err)
		}
		cfg.URL, cfg.Count, cfg.Time, cfg.Prefetch, cfg.RawConsumer = url, 10, 30*time.Second, 0, true
		_, err := Run(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), "406 PRECONDITION_FAILED - consumer prefetch count is not set") {
			t.Errorf("err %v, want the broker's 406 on basic.consume", err)
		}
	})
}
