package conformance

import "testing"

func startWarren(tb testing.TB) string {
	tb.Helper()
	tb.Fatal("in-process Warren not wired yet: set AMQP_URL")
	return ""
}
