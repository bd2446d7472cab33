package management_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzDefinitionBodies sends arbitrary JSON bodies to the endpoints that
// take policies, permissions, topic permissions, users, limits and
// parameters: every answer is a status below 500, and nothing panics.
func FuzzDefinitionBodies(f *testing.F) {
	a := startAPI(f, nil)
	paths := []string{
		"/api/policies/%2F/fz", "/api/operator-policies/%2F/fz", "/api/permissions/other/guest",
		"/api/topic-permissions/other/guest", "/api/users/fz", "/api/vhost-limits/%2F/max-queues",
		"/api/user-limits/fz/max-channels", "/api/parameters/vhost-limits/%2F/limits", "/api/global-parameters/fz",
	}
	for _, seed := range []string{
		`{"pattern": ".*", "definition": {"max-length": 1}, "priority": 1, "apply-to": "queues"}`,
		`{"configure": ".*", "write": ".*", "read": ".*"}`,
		`{"exchange": "amq.topic", "write": "^a", "read": ".*"}`,
		`{"password": "p", "tags": "management"}`,
		`{"value": 5}`, `{"value": {"max-queues": 5}}`, `{"pattern": "[", "definition": {}}`, `null`, `[]`, ``,
	} {
		for i := range paths {
			f.Add(uint8(i), seed)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		path := paths[int(which)%len(paths)]
		req := httptest.NewRequest("PUT", path, strings.NewReader(body))
		req.RemoteAddr = "127.0.0.1:1234" // guest is loopback-only
		req.SetBasicAuth("guest", "guest")
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		a.api.ServeHTTP(rec, req)
		if rec.Code >= http.StatusInternalServerError {
			t.Fatalf("PUT %s %q: %d %s", path, body, rec.Code, rec.Body)
		}
	})
}
