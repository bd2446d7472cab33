package conformance

import (
	"os"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
)

// startWarren starts an in-process Warren on 127.0.0.1:0 for one test and
// returns its URL. WARREN_TEST_LOG=1 shows the broker's log in the test's.
func startWarren(tb testing.TB) string {
	tb.Helper()
	log := zap.NewNop()
	if os.Getenv("WARREN_TEST_LOG") != "" {
		log = zaptest.NewLogger(tb)
	}
	return servertest.Start(tb, server.Config{Logger: log, StreamDir: tb.TempDir()})
}
