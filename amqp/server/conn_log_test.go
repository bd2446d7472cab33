package server

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/warrenmq/warren/amqp"
)

// startLogged serves cfg on 127.0.0.1:0 with its log captured from debug
// level up.
func startLogged(t *testing.T, cfg Config) (addr string, logs *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	cfg.Logger = zap.New(core)
	return startTCP(t, cfg), logs
}

// waitLog polls the captured log until an entry with message msg and
// field peer == peer arrives, and fails after 5 s.
func waitLog(t *testing.T, logs *observer.ObservedLogs, msg, peer string) observer.LoggedEntry {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, e := range logs.FilterMessage(msg).All() {
			if e.ContextMap()["peer"] == peer {
				return e
			}
		}
		if time.Now().After(deadline) {
			var all []string
			for _, e := range logs.All() {
				all = append(all, fmt.Sprintf("%s %q %v", e.Level, e.Message, e.ContextMap()))
			}
			t.Fatalf("no %q log entry for peer %s within 5s; the log: %v", msg, peer, all)
		}
		<-time.After(time.Millisecond) // the polling interval
	}
}

// A client that sends something other than AMQP 0-9-1's header gets ours
// back, and the log says at info level who it was and what it sent.
func TestRejectedProtocolHeaderLogged(t *testing.T) {
	addr, logs := startLogged(t, Config{})
	for _, tc := range []struct{ header, hint string }{
		{"AMQP\x01\x01\x00\x09", "another AMQP version"},
		{"HTTP/1.1", "HTTP"},
		{"GET / HTTP/1.1\r\n\r\n", "HTTP"},
		{"\x16\x03\x01\x02\x00\x01\x00\x01", "TLS"},
	} {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nc.Write([]byte(tc.header)); err != nil {
			t.Fatal(err)
		}
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(nc)
		if err != nil || string(got) != amqp.ProtocolHeader {
			t.Fatalf("%q: server answered %q (%v), want its protocol header, then EOF", tc.header, got, err)
		}
		peer := nc.LocalAddr().String()
		nc.Close()
		e := waitLog(t, logs, "protocol header rejected", peer)
		reason, _ := e.ContextMap()["reason"].(string)
		if e.Level != zapcore.InfoLevel || !strings.Contains(reason, fmt.Sprintf("%q", tc.header[:8])) || !strings.Contains(reason, tc.hint) {
			t.Errorf("%q: logged %s %q %v, want info level with a reason that quotes the header and says %q",
				tc.header, e.Level, e.Message, e.ContextMap(), tc.hint)
		}
	}
}

// A client that connects and says nothing is dropped after the handshake
// timeout, and the log says at info level who it was and what the server
// waited for. So is one that stops after the protocol header.
func TestHandshakeTimeoutLogged(t *testing.T) {
	addr, logs := startLogged(t, Config{HandshakeTimeout: 200 * time.Millisecond})
	for _, tc := range []struct {
		send, reason string
	}{
		{"", "no protocol header within 200ms"},
		{amqp.ProtocolHeader, "no connection.start-ok within 200ms"},
	} {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if _, err := nc.Write([]byte(tc.send)); err != nil {
			t.Fatal(err)
		}
		e := waitLog(t, logs, "handshake timed out", nc.LocalAddr().String())
		if e.Level != zapcore.InfoLevel || e.ContextMap()["reason"] != tc.reason {
			t.Errorf("logged %s %q %v, want info level with reason %q", e.Level, e.Message, e.ContextMap(), tc.reason)
		}
	}
}

// The handshake timeout bounds the whole handshake, not each read: a
// client that sends its connection.start-ok a byte at a time, each within
// the timeout, is cut off once the timeout has passed since it connected.
func TestHandshakeTimeoutBoundsTheWholeHandshake(t *testing.T) {
	const timeout = 300 * time.Millisecond
	addr, logs := startLogged(t, Config{HandshakeTimeout: timeout})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	start := time.Now()
	if _, err := nc.Write([]byte("AMQP\x00\x00\x09\x01")); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, nc) // connection.start, then the close
	// A start-ok frame's first bytes, one every timeout/3, far more than
	// the handshake may take; the server must stop reading them.
	frame, err := amqp.AppendMethodFrame(nil, 0, &amqp.ConnectionStartOk{Mechanism: "PLAIN", Response: "\x00guest\x00guest", Locale: "en_US"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(frame)-1; i++ {
		if _, err := nc.Write(frame[i : i+1]); err != nil {
			break // the server closed the connection
		}
		if time.Since(start) > 10*timeout {
			t.Fatalf("still reading a dribbled handshake %v after connecting, with a handshake timeout of %v", time.Since(start), timeout)
		}
		<-time.After(timeout / 3) // the client's pace, not synchronisation
	}
	e := waitLog(t, logs, "handshake timed out", nc.LocalAddr().String())
	t.Logf("closed after %v: %v", time.Since(start).Round(time.Millisecond), e.ContextMap()["reason"])
}
