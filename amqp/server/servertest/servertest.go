// Package servertest runs an in-process Warren for tests and benchmarks.
package servertest

import (
	"testing"

	"github.com/warrenmq/warren/amqp/server"
)

// Start runs a server with cfg on 127.0.0.1:0 until the test ends, and
// returns its amqp:// URL. Without users in cfg, guest/guest may log in.
func Start(tb testing.TB, cfg server.Config) string {
	tb.Helper()
	_, url := StartServer(tb, cfg)
	return url
}

// StartServer is Start that also returns the server, for tests that look
// into it (listings, the connection registry).
func StartServer(tb testing.TB, cfg server.Config) (*server.Server, string) {
	tb.Helper()
	if len(cfg.Users) == 0 {
		cfg.Users = []server.User{{Name: "guest", PasswordHash: server.HashPassword("guest")}}
	}
	srv, err := server.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return srv, "amqp://guest:guest@" + Serve(tb, srv, server.ErrServerClosed) + "/"
}
