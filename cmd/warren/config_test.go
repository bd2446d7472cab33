package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// notFromFile and notFromEnv are the only flags the file or the
// environment may not set; every other flag must take both, which
// TestEveryFlagFromFileAndEnv checks by walking the FlagSet, so a new flag
// is covered without an edit here.
var (
	notFromFile = map[string]string{
		"config":  "the file cannot name itself",
		"version": "an action, not a setting",
	}
	notFromEnv = map[string]string{
		"version": "an action, not a setting (WARREN_VERSION often holds a deployment's version)",
	}
)

// flagSample is a value for a flag of this type, as a JSON value for the
// file and as a string for the environment, different from any default.
func flagSample(t *testing.T, f *pflag.Flag) (file []json.RawMessage, env string) {
	t.Helper()
	switch f.Value.Type() {
	case "string":
		s := map[string]string{"log-level": "debug", "log-format": "json"}[f.Name]
		if s == "" {
			s = "sample-" + f.Name
		}
		q, _ := json.Marshal(s)
		return []json.RawMessage{q}, s
	case "int", "int64", "uint16", "uint32":
		return []json.RawMessage{json.RawMessage("7")}, "7"
	case "float64":
		return []json.RawMessage{json.RawMessage("2.5")}, "2.5"
	case "duration":
		return []json.RawMessage{json.RawMessage(`"7m"`)}, "7m"
	case "bytes":
		return []json.RawMessage{json.RawMessage("7"), json.RawMessage(`"7MiB"`)}, "7MiB"
	case "bool":
		return []json.RawMessage{json.RawMessage("true")}, "true"
	case "watermark":
		return []json.RawMessage{json.RawMessage("0.4"), json.RawMessage(`"7MiB"`)}, "0.4"
	}
	t.Fatalf("flag --%s has type %q: give flagSample a value for it", f.Name, f.Value.Type())
	return nil, ""
}

// want is what the flag shows after fs.Set(name, s) on a fresh FlagSet.
func want(t *testing.T, name, s string) string {
	t.Helper()
	fs := newFlagSet(&config{})
	if err := fs.Set(name, s); err != nil {
		t.Fatalf("--%s=%s: %v", name, s, err)
	}
	return fs.Lookup(name).Value.String()
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "warren.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestEveryFlagFromFileAndEnv(t *testing.T) {
	fs := newFlagSet(&config{})
	for name := range notFromFile {
		if fs.Lookup(name) == nil {
			t.Errorf("notFromFile names --%s, which does not exist", name)
		}
	}
	n := 0
	fs.VisitAll(func(f *pflag.Flag) {
		n++
		key := strings.ReplaceAll(f.Name, "-", "_")
		if _, skip := notFromFile[f.Name]; !skip {
			files, _ := flagSample(t, f)
			for _, v := range files {
				t.Run("file/"+key+"="+string(v), func(t *testing.T) {
					var s string
					if json.Unmarshal(v, &s) != nil {
						s = string(v)
					}
					exp := want(t, f.Name, s)
					if exp == f.DefValue {
						t.Fatalf("the sample %s is --%s's default", v, f.Name)
					}
					p := writeConfig(t, `{"`+key+`": `+string(v)+`}`)
					c, err := loadConfig([]string{"--config", p}, envMap(nil))
					if err != nil {
						t.Fatalf("file key %q: %v", key, err)
					}
					if got := c.fs.Lookup(f.Name).Value.String(); got != exp {
						t.Fatalf("file key %q = %s: --%s is %q, want %q", key, v, f.Name, got, exp)
					}
				})
			}
		}
		if _, skip := notFromEnv[f.Name]; !skip {
			ev := envName(f.Name)
			t.Run("env/"+ev, func(t *testing.T) {
				var s string
				if f.Name == "config" {
					// The file it names sets --listen.
					s = writeConfig(t, `{"listen": "127.0.0.1:7"}`)
				} else {
					_, s = flagSample(t, f)
				}
				c, err := loadConfig(nil, envMap(map[string]string{ev: s}))
				if err != nil {
					t.Fatalf("%s=%s: %v", ev, s, err)
				}
				if got, exp := c.fs.Lookup(f.Name).Value.String(), want(t, f.Name, s); got != exp {
					t.Fatalf("%s=%s: --%s is %q, want %q", ev, s, f.Name, got, exp)
				}
				if f.Name == "config" && c.listen != "127.0.0.1:7" {
					t.Fatalf("%s=%s: --listen is %q, want the file's 127.0.0.1:7", ev, s, c.listen)
				}
			})
		}
	})
	// The exceptions hold both ways: the file refuses them by name and the
	// environment leaves them alone.
	for name := range notFromFile {
		key := strings.ReplaceAll(name, "-", "_")
		p := writeConfig(t, `{"`+key+`": "x"}`)
		if _, err := loadConfig([]string{"--config", p}, envMap(nil)); err == nil || !strings.Contains(err.Error(), `"`+key+`"`) {
			t.Errorf("file key %q: got error %v, want one naming the key", key, err)
		}
	}
	for name := range notFromEnv {
		c, err := loadConfig(nil, envMap(map[string]string{envName(name): "true"}))
		if err != nil || c.fs.Changed(name) {
			t.Errorf("%s=true: error %v, --%s changed %v; want it ignored", envName(name), err, name, err == nil && c.fs.Changed(name))
		}
	}
	if n < 12 {
		t.Fatalf("walked %d flags, want at least the 12 the README lists", n)
	}
}

func TestConfigPrecedence(t *testing.T) {
	p := writeConfig(t, `{"memory_budget": 1, "consumer_timeout": "1m", "heartbeat": 1, "listen": "file:1"}`)
	env := envMap(map[string]string{
		"WARREN_CONFIG": p, "WARREN_MEMORY_BUDGET": "2", "WARREN_CONSUMER_TIMEOUT": "2m",
	})
	c, err := loadConfig([]string{"--memory-budget", "3"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.memoryBudget != 3 || c.consumerTimeout.String() != "2m0s" || c.heartbeat != 1 || c.listen != "file:1" || c.frameMax != 131072 {
		t.Fatalf("memory-budget %d (flag 3), consumer-timeout %v (env 2m), heartbeat %d (file 1), listen %q (file), frame-max %d (default 131072)",
			c.memoryBudget, c.consumerTimeout, c.heartbeat, c.listen, c.frameMax)
	}
	// The file's structured keys.
	p = writeConfig(t, `{"vhosts": ["/", "orders"], "users": [{"name": "svc", "password": "x", "vhosts": ["orders"]}], "loopback_users": ["svc"]}`)
	c, err = loadConfig([]string{"--config", p}, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.vhosts) != 2 || len(c.users) != 1 || c.users[0].Name != "svc" || len(c.users[0].Vhosts) != 1 || len(c.loopbackUsers) != 1 {
		t.Fatalf("vhosts %v, users %+v, loopback_users %v", c.vhosts, c.users, c.loopbackUsers)
	}
}

func TestConfigFileErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"memory_budgett": 1}`, `unknown key "memory_budgett"`},
		{`{"config": "other.json"}`, `"config"`},
		{`{"users": [{"name": "a", "pasword": "x"}]}`, `users[0]: unknown key "pasword"`},
		{`{"heartbeat": "often"}`, `"heartbeat"`},
		{`{"heartbeat": 70000}`, `"heartbeat"`},
		{`{"consumer_timeout": 30}`, `"consumer_timeout"`},
		{`{"listen": ["a"]}`, `"listen"`},
		{"{\n  \"listen\": \"a\",\n}", `line 3`},
		{`[1]`, `want a JSON object`},
	} {
		p := writeConfig(t, tc.body)
		_, err := loadConfig([]string{"--config", p}, envMap(nil))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: got error %v, want one naming %s and the file %s", tc.body, err, tc.want, p)
		}
	}
	_, err := loadConfig(nil, envMap(map[string]string{"WARREN_HEARTBEAT": "often"}))
	if err == nil || !strings.Contains(err.Error(), "WARREN_HEARTBEAT") {
		t.Errorf("WARREN_HEARTBEAT=often: got error %v, want one naming the variable", err)
	}
}
