package main

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
)

// brokerArgsEnv turns the test binary into the broker: it runs run() with
// the JSON list of arguments in this variable, so the crash tests can kill
// a real broker process. (No WARREN_ prefix: run() reads those.)
const brokerArgsEnv = "WARRENTEST_BROKER_ARGS"

func TestMain(m *testing.M) {
	if raw, ok := os.LookupEnv(brokerArgsEnv); ok {
		var args []string
		if err := json.Unmarshal([]byte(raw), &args); err != nil {
			fmt.Fprintln(os.Stderr, "warren test broker:", err)
			os.Exit(2)
		}
		if len(args) > 0 && args[0] == "ctl" {
			// As main: `warren ctl` (ctl_test.go).
			os.Exit(ctlMain(args[1:], os.LookupEnv, os.Stdin, os.Stdout, os.Stderr))
		}
		if _, set := os.LookupEnv("WARREN_MANAGEMENT_LISTEN"); !set {
			// Not RabbitMQ's :15672 (taken on a machine running one, and
			// by the parallel tests): a port of its own, unless a test
			// says otherwise.
			os.Setenv("WARREN_MANAGEMENT_LISTEN", "127.0.0.1:0")
		}
		if _, set := os.LookupEnv("WARREN_STREAM_LISTEN"); !set {
			os.Setenv("WARREN_STREAM_LISTEN", "127.0.0.1:0") // likewise: not :5552
		}
		if _, set := os.LookupEnv("WARREN_STREAM_TLS_LISTEN"); !set {
			os.Setenv("WARREN_STREAM_TLS_LISTEN", "off") // not :5551 beside --tls-listen: a test asks for it
		}
		if err := run(args); err != nil {
			fmt.Fprintln(os.Stderr, "warren:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
