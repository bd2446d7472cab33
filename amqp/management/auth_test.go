package management_test

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/amqp/server"
)

func tagged(name string, vhosts []string, tags ...string) server.User {
	return server.User{Name: name, PasswordHash: server.HashPassword(name + "-pw"), Vhosts: vhosts, Tags: tags}
}

// TestTagGates checks each gate as RabbitMQ's management plugin draws
// it: no tag, no API; management sees its vhosts; monitoring sees the
// node and every connection; administrator changes vhosts.
func TestTagGates(t *testing.T) {
	a := startAPI(t, []server.User{
		tagged("none", nil),
		tagged("mgmt", []string{"other"}, "management"),
		tagged("mon", nil, "monitoring"),
		tagged("pm", nil, "policymaker"),
	})
	as := func(user, method, path string) (int, []byte) {
		return a.do(user, user+"-pw", method, path, "")
	}

	code, raw := as("none", "GET", "/api/overview")
	wantError(t, "a user with no tags", code, raw, http.StatusUnauthorized, "not_authorised", "Not management user")

	code, raw = as("mgmt", "GET", "/api/vhosts")
	var vhosts []struct{ Name string }
	if code != http.StatusOK || json.Unmarshal(raw, &vhosts) != nil || len(vhosts) != 1 || vhosts[0].Name != "other" {
		t.Errorf("management user's vhosts: %d %s, want just other", code, raw)
	}
	code, raw = as("mgmt", "GET", "/api/queues/%2F")
	// rabbitmq 3.10's text (conformance/api TestPermissionMatrixHTTP)
	wantError(t, "management user, a vhost not theirs", code, raw, http.StatusUnauthorized, "not_authorised", "User not authorised to access virtual host")
	code, raw = as("mgmt", "PUT", "/api/queues/%2F/q")
	wantError(t, "management user declares in a vhost not theirs", code, raw, http.StatusUnauthorized, "not_authorised", "User not authorised to access virtual host")
	if code, raw = as("mgmt", "PUT", "/api/queues/other/q"); code != http.StatusCreated {
		t.Errorf("management user declares in their vhost: %d %s", code, raw)
	}
	if a.broker.Vhost("other").Queue("q") == nil {
		t.Error("the management user's queue is not in the core")
	}
	code, raw = as("mgmt", "GET", "/api/nodes")
	wantError(t, "management user, nodes", code, raw, http.StatusUnauthorized, "not_authorised", "Not monitor user")
	code, raw = as("pm", "GET", "/api/nodes")
	wantError(t, "policymaker, nodes", code, raw, http.StatusUnauthorized, "not_authorised", "Not monitor user")
	code, raw = as("mon", "PUT", "/api/vhosts/new")
	wantError(t, "monitoring user creates a vhost", code, raw, http.StatusUnauthorized, "not_authorised", "Not administrator user")
	if a.broker.Vhost("new") != nil {
		t.Error("the refused vhost exists")
	}
	if code, raw = as("mon", "GET", "/api/nodes"); code != http.StatusOK {
		t.Errorf("monitoring user, nodes: %d %s", code, raw)
	}
	code, raw = as("mgmt", "GET", "/api/whoami")
	var who struct {
		Name string
		Tags []string
	}
	if code != http.StatusOK || json.Unmarshal(raw, &who) != nil || who.Name != "mgmt" || !slices.Equal(who.Tags, []string{"management"}) {
		t.Errorf("whoami: %d %s", code, raw)
	}

	// guest's AMQP connection: a monitor sees it, the management user
	// (someone else) does not.
	conn, err := amqp.Dial(a.amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	names := func(user string) []string {
		code, raw := as(user, "GET", "/api/connections")
		var cs []struct{ Name, User string }
		if code != http.StatusOK || json.Unmarshal(raw, &cs) != nil {
			t.Fatalf("%s lists connections: %d %s", user, code, raw)
		}
		var out []string
		for _, c := range cs {
			out = append(out, c.User)
		}
		return out
	}
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(names("mon"), "guest") {
		if time.Now().After(deadline) {
			t.Fatal("the monitor never sees guest's connection")
		}
		runtimeYield()
	}
	if got := names("mgmt"); len(got) != 0 {
		t.Errorf("the management user sees connections %v, want none of theirs", got)
	}
}

// runtimeYield waits a moment between polls (a poll, not a sync).
func runtimeYield() { <-time.After(20 * time.Millisecond) }

// TestGuestIsLoopbackOnly checks the Authenticator cmd/warren wires:
// guest is refused from another address, as over AMQP.
func TestGuestIsLoopbackOnly(t *testing.T) {
	a := startAPI(t, nil)
	if _, err := a.srv.Authenticate("guest", "guest", &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 4000}); !errors.Is(err, server.ErrLoginRefused) {
		t.Fatalf("guest from 10.1.2.3: %v, want ErrLoginRefused", err)
	}
	if _, err := a.srv.Authenticate("guest", "guest", &net.TCPAddr{IP: net.IPv6loopback, Port: 4000}); err != nil {
		t.Fatalf("guest from ::1: %v", err)
	}
	if _, err := a.srv.Authenticate("guest", "nope", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}); !errors.Is(err, server.ErrLoginRefused) {
		t.Fatalf("a wrong password: %v", err)
	}
}
