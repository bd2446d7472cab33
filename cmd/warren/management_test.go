package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestManagementListen starts a real broker with --management-listen and
// a user from the config file with tags, and checks the API answers on
// the logged address, with the default guest an administrator.
func TestManagementListen(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "warren.json")
	if err := os.WriteFile(cfg, []byte(`{"users": [{"name": "guest", "password": "guest", "tags": ["administrator"]},
		{"name": "watcher", "password": "w", "tags": ["monitoring"]}, {"name": "plain", "password": "p"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"default guest": {},
		"config users":  {"--config", cfg},
	} {
		t.Run(name, func(t *testing.T) {
			p := startWarren(t, []string{"WARREN_LOG_FORMAT=json"}, append([]string{"--listen", "127.0.0.1:0", "--data-dir", t.TempDir(),
				"--management-listen", "127.0.0.1:0"}, args...)...)
			var addr string
			if !p.wait(func(_, errs []string) bool {
				for _, l := range errs {
					var e map[string]any
					json.Unmarshal([]byte(l), &e)
					if e["msg"] == "management API listening" {
						addr, _ = e["addr"].(string)
					}
					if e["msg"] == "Warren listening" {
						return true
					}
				}
				return false
			}) || addr == "" {
				t.Fatalf("no management API line before the broker listened:\n%s", p.output())
			}
			get := func(user, pass string) (int, string) {
				req, _ := http.NewRequest("GET", "http://"+addr+"/api/whoami", nil)
				req.SetBasicAuth(user, pass)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				raw, _ := io.ReadAll(res.Body)
				return res.StatusCode, string(raw)
			}
			if code, body := get("guest", "guest"); code != http.StatusOK || body != `{"name":"guest","tags":["administrator"]}` {
				t.Errorf("guest's whoami: %d %s", code, body)
			}
			if len(args) == 0 {
				return
			}
			if code, body := get("watcher", "w"); code != http.StatusOK || body != `{"name":"watcher","tags":["monitoring"]}` {
				t.Errorf("watcher's whoami: %d %s", code, body)
			}
			if code, body := get("plain", "p"); code != http.StatusUnauthorized || body != `{"error":"not_authorised","reason":"Not management user"}` {
				t.Errorf("a user without tags: %d %s", code, body)
			}
		})
	}
}

// TestManagementOff: --management-listen off starts no API.
func TestManagementOff(t *testing.T) {
	p := startWarren(t, []string{"WARREN_LOG_FORMAT=json"}, "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--management-listen", "off")
	if !p.wait(func(_, errs []string) bool {
		for _, l := range errs {
			var e map[string]any
			json.Unmarshal([]byte(l), &e)
			if e["msg"] == "management API listening" {
				t.Errorf("the API listens with --management-listen off: %s", l)
			}
			if e["msg"] == "Warren listening" {
				return true
			}
		}
		return false
	}) {
		t.Fatalf("the broker did not start:\n%s", p.output())
	}
}
