package servertest

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// Service is what Serve runs: a Serve and Shutdown pair as net/http's,
// the AMQP server's and the management API's.
type Service interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
}

// Serve runs s on 127.0.0.1:0 until the test ends and returns the
// listener's address. At the end it shuts s down and checks that Serve
// returned closed (s's ErrServerClosed).
func Serve(tb testing.TB, s Service, closed error) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			tb.Errorf("shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, closed) {
			tb.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}
