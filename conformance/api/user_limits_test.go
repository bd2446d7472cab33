package api

import (
	"net/http"
	"strings"
	"testing"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
)

// rabbitmq set_user_limits: a user's max-connections and max-channels
// count over all its connections; past them the connection (or the
// connection opening the channel) is refused with 530 and RabbitMQ's text,
// and closing one gives the room back.
func TestUserLimits(t *testing.T) {
	e := setup(t)
	user, pass := e.newUser("limited")
	if res, err := e.rh.UpdatePermissionsIn("/", user, rabbithole.Permissions{Configure: ".*", Write: ".*", Read: ".*"}); err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("UpdatePermissionsIn: %v %v, want 201", res, err)
	}
	for name, v := range map[string]int{"max-connections": 1, "max-channels": 2} {
		if code, raw, _ := e.do("PUT", "/api/user-limits/"+esc(user)+"/"+name, map[string]any{"value": v}); code != http.StatusNoContent {
			t.Fatalf("PUT user limit %s: %d %s, want 204", name, code, raw)
		}
	}

	c1, err := e.dialAs(user, pass, "/")
	if err != nil {
		t.Fatalf("the first connection: %v", err)
	}
	_, err = e.dialAs(user, pass, "/")
	want := "NOT_ALLOWED - connection refused for user '" + user + "': user connection limit (1) is reached"
	if amqpCode(err) != 530 || !strings.Contains(err.Error(), want) {
		t.Fatalf("the second connection: %v, want 530 %q", err, want)
	}

	for i := range 2 {
		if _, err := c1.Channel(); err != nil {
			t.Fatalf("channel %d of 2: %v", i+1, err)
		}
	}
	_, err = c1.Channel()
	want = "NOT_ALLOWED - number of channels opened for user '" + user + "' has reached the maximum allowed user limit of (2)"
	if amqpCode(err) != 530 || !strings.Contains(err.Error(), want) {
		t.Fatalf("channel 3 of 2: %v, want 530 %q", err, want)
	}

	// The refused channel closed the connection: its room is free again.
	e.eventually("a new connection once the first is closed", func() (bool, string) {
		c, err := e.dialAs(user, pass, "/")
		if err != nil {
			return false, err.Error()
		}
		ch, err := c.Channel()
		if err != nil {
			return false, "its channel: " + err.Error()
		}
		ch.Close()
		c.Close()
		return true, ""
	})
}
