package management_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestDefinitionEndpointsBadInput: malformed bodies for the users,
// permissions, policies, parameters, limits and definitions endpoints
// each get a 4xx with a reason, never a crash, and change nothing.
func TestDefinitionEndpointsBadInput(t *testing.T) {
	a := startAPI(t, nil)
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"PUT", "/api/users/u", `{"password": "p"}`, http.StatusBadRequest},
		{"PUT", "/api/users/u", `{"password": "p", "tags": 5}`, http.StatusBadRequest},
		{"PUT", "/api/users/u", `{"password": 5, "tags": ""}`, http.StatusBadRequest},
		{"PUT", "/api/users/u", `{"password": "p", "hashing_algorithm": "rot13", "tags": ""}`, http.StatusBadRequest},
		{"PUT", "/api/users/u", `{"password_hash": "!!notbase64", "tags": ""}`, http.StatusBadRequest},
		{"PUT", "/api/users/u", `[1]`, http.StatusBadRequest},
		{"POST", "/api/users/bulk-delete", `{"users": "guest"}`, http.StatusBadRequest},
		{"PUT", "/api/permissions/%2F/guest", `{"configure": 1, "write": "", "read": ""}`, http.StatusBadRequest},
		{"PUT", "/api/permissions/%2F/guest", `{"configure": "[", "write": "", "read": ""}`, http.StatusBadRequest},
		{"PUT", "/api/topic-permissions/%2F/guest", `{"exchange": "", "write": "", "read": ""}`, http.StatusBadRequest},
		{"PUT", "/api/policies/%2F/p", `{"pattern": ".*", "definition": []}`, http.StatusBadRequest},
		{"PUT", "/api/policies/%2F/p", `{"pattern": ".*", "definition": {"max-length": 1}, "priority": "high"}`, http.StatusBadRequest},
		{"PUT", "/api/policies/%2F/p", `{"pattern": ".*", "definition": {"max-length": 1}, "apply-to": "everything"}`, http.StatusBadRequest},
		{"PUT", "/api/policies/%2F/p", `{"pattern": 5, "definition": {}}`, http.StatusBadRequest},
		{"PUT", "/api/operator-policies/%2F/p", `{"pattern": ".*", "definition": {"expires": -1}}`, http.StatusBadRequest},
		{"PUT", "/api/parameters/vhost-limits/%2F/limits", `{"value": {"max-queues": "x"}}`, http.StatusBadRequest},
		{"PUT", "/api/parameters/vhost-limits/%2F/other", `{"value": {}}`, http.StatusBadRequest},
		{"PUT", "/api/vhost-limits/%2F/max-queues", `{"value": 1.5}`, http.StatusBadRequest},
		{"PUT", "/api/vhost-limits/%2F/max-bananas", `{"value": 1}`, http.StatusBadRequest},
		{"PUT", "/api/vhost-limits/%2F/max-queues", `{"value": 1e300}`, http.StatusBadRequest},
		{"PUT", "/api/user-limits/guest/max-bananas", `{"value": 1}`, http.StatusBadRequest},
		{"PUT", "/api/global-parameters/g", `{}`, http.StatusBadRequest},
		{"POST", "/api/definitions", `{"queues": [{"name": "q", "vhost": "nowhere"}]}`, http.StatusBadRequest},
		{"POST", "/api/definitions", `{"queues": 5}`, http.StatusBadRequest},
		{"POST", "/api/definitions", `{{{`, http.StatusBadRequest},
		{"POST", "/api/definitions/%2F", `{"bindings": [{"source": "nope", "destination": "nope", "destination_type": "queue"}]}`, http.StatusBadRequest},
	} {
		code, raw := a.do("guest", "guest", c.method, c.path, c.body)
		if code != c.want {
			t.Errorf("%s %s %s: %d %s, want %d", c.method, c.path, c.body, code, raw, c.want)
		}
		if code >= 400 && !strings.Contains(string(raw), `"reason":`) {
			t.Errorf("%s %s: %d without a reason: %s", c.method, c.path, code, raw)
		}
	}
	// Nothing was made by the refused requests.
	for _, path := range []string{"/api/users/u", "/api/policies/%2F/p", "/api/operator-policies/%2F/p", "/api/global-parameters/g", "/api/queues/%2F/q"} {
		if code, raw := a.do("guest", "guest", "GET", path, ""); code != http.StatusNotFound {
			t.Errorf("GET %s after refused requests: %d %s, want 404", path, code, raw)
		}
	}
	if code, raw := a.do("guest", "guest", "GET", "/api/vhost-limits/%2F", ""); code != http.StatusOK || string(raw) != "[]" {
		t.Errorf("vhost limits after refused requests: %d %s, want []", code, raw)
	}
}
