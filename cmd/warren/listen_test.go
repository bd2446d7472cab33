package main

import (
	"net"
	"regexp"
	"strings"
	"syscall"
	"testing"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/amqp/server"
)

var listeningLine = regexp.MustCompile(`^Warren (\S+) listening on (\S+) \(AMQP 0-9-1\)$`)

func TestFirstStdoutLineNamesTheAddress(t *testing.T) {
	p := startWarren(t, nil, "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	var first string
	if !p.wait(func(out, _ []string) bool {
		if len(out) > 0 {
			first = out[0]
		}
		return len(out) > 0
	}) {
		t.Fatalf("no line on stdout within %v:\n%s", startWait, p.output())
	}
	m := listeningLine.FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("the first line on stdout is %q, want one matching %s:\n%s", first, listeningLine, p.output())
	}
	if m[1] != server.Version {
		t.Errorf("the first line names version %s, want %s", m[1], server.Version)
	}
	host, port, err := net.SplitHostPort(m[2])
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("the first line names %q, want the bound address 127.0.0.1:<port>", m[2])
	}
	conn, err := amqp091.DialConfig("amqp://guest:guest@"+m[2]+"/", amqp091.Config{Dial: amqp091.DefaultDial(startWait)})
	if err != nil {
		t.Fatalf("dial %s: %v\n%s", m[2], err, p.output())
	}
	defer conn.Close()
	if got := conn.Properties["product"]; got != "Warren" {
		t.Fatalf("server product at %s is %v, want Warren", m[2], got)
	}
	conn.Close()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.exitCode(); code != 0 {
		t.Fatalf("after SIGTERM the exit code is %d:\n%s", code, p.output())
	}
}

func TestListenOnTakenAddressFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	p := startWarren(t, nil, "--listen", addr, "--data-dir", t.TempDir())
	code := p.exitCode()
	out := p.output()
	if code <= 0 {
		t.Fatalf("with %s taken the exit code is %d, want > 0:\n%s", addr, code, out)
	}
	for _, want := range []string{addr, "make run LISTEN=127.0.0.1:5673"} {
		if !strings.Contains(out, want) {
			t.Errorf("with %s taken the output does not name %q:\n%s", addr, want, out)
		}
	}
	if strings.Contains(out, "listening on") {
		t.Errorf("with %s taken the output claims to listen:\n%s", addr, out)
	}
}
