package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
)

// metricsAddr waits for the log line announcing the metrics address.
func metricsAddr(t *testing.T, p *warrenProc) string {
	t.Helper()
	return logAddr(t, p, "Prometheus metrics listening")
}

// logAddr is the address in the JSON log line msg of p.
func logAddr(t *testing.T, p *warrenProc, msg string) string {
	t.Helper()
	var addr string
	if !p.wait(func(_, errs []string) bool {
		for _, l := range errs {
			var m struct{ Msg, Addr string }
			if json.Unmarshal([]byte(l), &m) == nil && m.Msg == msg {
				addr = m.Addr
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no %q line within %v:\n%s", msg, startWait, p.output())
	}
	return addr
}

func TestPrometheusListen(t *testing.T) {
	p := startWarren(t, []string{"WARREN_PROMETHEUS_LISTEN=127.0.0.1:0"},
		"--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-format", "json")
	addr := metricsAddr(t, p)
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"# TYPE rabbitmq_identity_info untyped", "rabbitmq_connections 0", "rabbitmq_disk_space_available_limit_bytes", "go_goroutines"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("GET /metrics: no %q in\n%.2000s", want, body)
		}
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.exitCode(); code != 0 {
		t.Fatalf("after SIGTERM the exit code is %d:\n%s", code, p.output())
	}
}

func TestPrometheusListenTakenFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	p := startWarren(t, nil, "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--prometheus-listen", addr)
	if code := p.exitCode(); code <= 0 {
		t.Fatalf("with --prometheus-listen %s taken the exit code is %d, want > 0:\n%s", addr, code, p.output())
	}
	if out := p.output(); !strings.Contains(out, "--prometheus-listen: cannot listen on "+addr) {
		t.Errorf("the output does not name the flag and the address:\n%s", out)
	}
}
