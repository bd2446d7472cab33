package conformance

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/warrenmq/warren/amqp/server"
)

// startWarren starts an in-process Warren on 127.0.0.1:0 for one test and
// returns its URL. The broker is shut down when the test ends.
func startWarren(tb testing.TB) string {
	tb.Helper()
	log := zap.NewNop()
	if os.Getenv("WARREN_TEST_LOG") != "" {
		log = zaptest.NewLogger(tb)
	}
	srv, err := server.New(server.Config{
		Logger: log,
		Users:  []server.User{{Name: "guest", PasswordHash: server.HashPassword("guest")}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			tb.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != server.ErrServerClosed {
			tb.Errorf("serve: %v", err)
		}
	})
	return "amqp://guest:guest@" + ln.Addr().String() + "/"
}
