package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
)

// The HTTP API's permission matrix: every kind of call, as a user with
// each tag (none, management, policymaker, monitoring, administrator) and
// with a bad password, each user holding the same vhost permissions
// (configure and write "^own", read "^own|^ro") in one vhost and none in
// another. The expected answers are RabbitMQ 3.10's (PERM_MATRIX_PRINT=1
// prints the observed table in this file's format): the status, and for
// a refusal the reason. Against Warren and RabbitMQ alike:
//
//	go test -race -run TestPermissionMatrixHTTP ./conformance/api/
//	MANAGEMENT_URL=http://guest:guest@127.0.0.1:15672 AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ go test ...

// matrixRoles are the columns, in the order of matrixCase.want.
var matrixRoles = [...]string{"badpass", "none", "management", "policymaker", "monitoring", "administrator"}

// matrixCase is one call. In path and body, {vh} is the vhost the users
// have permissions in, {vh2} one they have none in, {r} a name of the
// role's own, {ru} a user name of the role's own, {admin} the test's
// administrator; in want, {vh} and {user} (the caller).
type matrixCase struct {
	method, path, body string
	want               [len(matrixRoles)]string // "200", "401 Not administrator user", ...
}

func TestPermissionMatrixHTTP(t *testing.T) {
	e := setup(t)
	vh, vh2 := e.newVhost("pm"), e.newVhost("pm2")
	users := map[string][2]string{}
	for _, role := range matrixRoles[1:] {
		var tags []string
		if role != "none" {
			tags = []string{role}
		}
		name, pass := e.newUser("u-"+role, tags...)
		if _, err := e.rh.UpdatePermissionsIn(vh, name, rabbithole.Permissions{Configure: "^own", Write: "^own", Read: "^own|^ro"}); err != nil {
			t.Fatal(err)
		}
		users[role] = [2]string{name, pass}
	}
	users["badpass"] = [2]string{users["administrator"][0], "wrong"}
	for _, q := range []struct{ vh, name string }{{vh, "ro"}, {vh, "other"}, {vh2, "q2"}} {
		if res, err := e.rh.DeclareQueue(q.vh, q.name, rabbithole.QueueSettings{}); err != nil || res.StatusCode != http.StatusCreated {
			t.Fatalf("declare %s: %v %v", q.name, res, err)
		}
	}
	if res, err := e.rh.DeclareExchange(vh, "ro-x", rabbithole.ExchangeSettings{Type: "direct"}); err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("declare ro-x: %v %v", res, err)
	}
	// Names of each role's own, and what the allowed calls make.
	rname, runame := map[string]string{}, map[string]string{}
	for _, role := range matrixRoles {
		rname[role], runame[role] = e.name("r-"+role), e.name("user-"+role)
	}
	t.Cleanup(func() {
		for _, role := range matrixRoles {
			e.rh.DeleteVhost(rname[role])
			e.rh.DeleteUser(runame[role])
		}
	})

	print := os.Getenv("PERM_MATRIX_PRINT") != ""
	var out strings.Builder
	allowed, refused, failed := 0, 0, 0
	differ := 0
	for _, c := range permissionMatrix {
		if d, ok := warrenDiffers[c.method+" "+c.path]; ok && e.warren && !print {
			c.want = d.want
			differ++
			t.Logf("%s %s: Warren differs from RabbitMQ 3.10 on purpose: %s", c.method, c.path, d.why)
		}
		if print {
			fmt.Fprintf(&out, "\t{%q, %q, %q, [len(matrixRoles)]string{", c.method, c.path, c.body)
		}
		for i, role := range matrixRoles {
			u := users[role]
			expand := func(s string) string {
				s = strings.ReplaceAll(s, "{vh}", esc(vh))
				s = strings.ReplaceAll(s, "{vh2}", esc(vh2))
				s = strings.ReplaceAll(s, "{r}", esc(rname[role]))
				s = strings.ReplaceAll(s, "{ru}", esc(runame[role]))
				s = strings.ReplaceAll(s, "{admin}", esc(e.user))
				return s
			}
			var body any
			if c.body != "" {
				body = c.body
			}
			code, raw, _ := e.doAs(u[0], u[1], c.method, expand(c.path), body)
			got := fmt.Sprint(code)
			if code >= 400 {
				var eb struct{ Reason any }
				json.Unmarshal(raw, &eb)
				if r := fmt.Sprint(eb.Reason); eb.Reason != nil && r != "" {
					r = strings.ReplaceAll(r, vh, "{vh}")
					r = strings.ReplaceAll(r, u[0], "{user}")
					got += " " + r
				}
				refused++
			} else {
				allowed++
			}
			if print {
				if i > 0 {
					out.WriteString(", ")
				}
				fmt.Fprintf(&out, "%q", got)
				continue
			}
			if got != c.want[i] {
				failed++
				t.Errorf("%s %s as %s: got %q, want %q (body %.200s)", c.method, c.path, role, got, c.want[i], raw)
			}
		}
		if print {
			out.WriteString("}},\n")
		}
	}
	if print {
		fmt.Fprintf(os.Stderr, "var permissionMatrix = []matrixCase{\n%s}\n", out.String())
	}
	t.Logf("HTTP API permission matrix: %d calls x %d roles = %d requests: %d allowed, %d refused; %d answers wrong; %d calls where Warren differs on purpose",
		len(permissionMatrix), len(matrixRoles), len(permissionMatrix)*len(matrixRoles), allowed, refused, failed, differ)
}
