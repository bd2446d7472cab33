package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"testing"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	amqp "github.com/rabbitmq/amqp091-go"
)

// dialAs opens an AMQP connection as user to vhost.
func (e *env) dialAs(user, pass, vhost string) (*amqp.Connection, error) {
	u, err := url.Parse(e.amqpURL)
	if err != nil {
		e.t.Fatal(err)
	}
	u.User = url.UserPassword(user, pass)
	c, err := amqp.DialConfig(u.String(), amqp.Config{Vhost: vhost, Dial: amqp.DefaultDial(waitTimeout)})
	if err == nil {
		e.t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// newUser creates a user with password "pw-"+name and tags, deleted when
// the test ends.
func (e *env) newUser(what string, tags ...string) (name, pass string) {
	e.t.Helper()
	name = e.name(what)
	pass = "pw-" + name
	res, err := e.rh.PutUser(name, rabbithole.UserSettings{Password: pass, Tags: rabbithole.UserTags(tags)})
	if err != nil || res.StatusCode != http.StatusCreated {
		e.t.Fatalf("PutUser %q: %v %v, want 201", name, res, err)
	}
	e.t.Cleanup(func() { e.rh.DeleteUser(name) })
	return name, pass
}

// newVhost creates a vhost deleted when the test ends.
func (e *env) newVhost(what string) string {
	e.t.Helper()
	vh := e.name(what)
	if res, err := e.rh.PutVhost(vh, rabbithole.VhostSettings{}); err != nil || res.StatusCode != http.StatusCreated {
		e.t.Fatalf("PutVhost %q: %v %v", vh, res, err)
	}
	e.t.Cleanup(func() { e.rh.DeleteVhost(vh) })
	return vh
}

// rabbitHash is RabbitMQ's rabbit_password_hashing_sha256 hash of pass.
func rabbitHash(pass string) string {
	salt := make([]byte, 4)
	rand.Read(salt)
	sum := sha256.Sum256(append(append([]byte{}, salt...), pass...))
	return base64.StdEncoding.EncodeToString(append(salt, sum[:]...))
}

func TestUserLifecycle(t *testing.T) {
	e := setup(t)
	name, pass := e.newUser("user", "management", "policymaker")
	if res, err := e.rh.PutUser(name, rabbithole.UserSettings{Password: pass, Tags: rabbithole.UserTags{"monitoring"}}); err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("PutUser again: %v %v, want 204", res, err)
	}
	u, err := e.rh.GetUser(name)
	if err != nil || u.Name != name || !slices.Equal([]string(u.Tags), []string{"monitoring"}) || u.HashingAlgorithm != "rabbit_password_hashing_sha256" || u.PasswordHash == "" {
		t.Fatalf("GetUser: %+v %v", u, err)
	}
	// The password works on the API and over AMQP (once permitted).
	var who struct {
		Name string
		Tags []string
	}
	code, raw, _ := e.doAs(name, pass, "GET", "/api/whoami", nil)
	if code != http.StatusOK || jsonInto(raw, &who) != nil || who.Name != name || !slices.Equal(who.Tags, []string{"monitoring"}) {
		t.Fatalf("whoami as %q: %d %s", name, code, raw)
	}
	code, _, _ = e.doAs(name, "wrong", "GET", "/api/whoami", nil)
	if code != http.StatusUnauthorized {
		t.Errorf("whoami with a wrong password: %d, want 401", code)
	}

	// Without permissions until given some.
	var without []struct{ Name string }
	e.getJSON("/api/users/without-permissions", &without)
	if !slices.ContainsFunc(without, func(u struct{ Name string }) bool { return u.Name == name }) {
		t.Errorf("users/without-permissions lacks %q", name)
	}
	users, err := e.rh.ListUsers()
	if err != nil || !slices.ContainsFunc(users, func(u rabbithole.UserInfo) bool { return u.Name == name }) {
		t.Errorf("ListUsers lacks %q: %v", name, err)
	}

	// Tags as a list, and a password hash in RabbitMQ's format.
	code, raw, _ = e.do("PUT", "/api/users/"+esc(name), map[string]any{"password_hash": rabbitHash("hashed"), "tags": []string{"management"}})
	if code != http.StatusNoContent {
		t.Fatalf("PUT with password_hash: %d %s", code, raw)
	}
	if code, raw, _ = e.doAs(name, "hashed", "GET", "/api/whoami", nil); code != http.StatusOK {
		t.Fatalf("whoami with the hashed password: %d %s", code, raw)
	}
	code, raw, _ = e.do("PUT", "/api/users/"+esc(name), map[string]any{"password": "x"})
	e.wantError("PUT without tags", code, raw, http.StatusBadRequest, "bad_request", "tags_not_present")

	if res, err := e.rh.DeleteUser(name); err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("DeleteUser: %v %v", res, err)
	}
	if _, err := e.rh.GetUser(name); !isStatus(err, http.StatusNotFound) {
		t.Errorf("GetUser after delete: %v, want 404", err)
	}
	code, raw, _ = e.do("DELETE", "/api/users/"+esc(name), nil)
	e.wantError("DELETE again", code, raw, http.StatusNotFound, "Object Not Found", "Not Found")
	if code, _, _ = e.doAs(name, "hashed", "GET", "/api/whoami", nil); code != http.StatusUnauthorized {
		t.Errorf("whoami of a deleted user: %d, want 401", code)
	}
}

func TestUsersBulkDelete(t *testing.T) {
	e := setup(t)
	a, _ := e.newUser("a")
	b, _ := e.newUser("b")
	code, raw, _ := e.do("POST", "/api/users/bulk-delete", map[string]any{"users": []string{a, b}})
	if code != http.StatusNoContent {
		t.Fatalf("bulk-delete: %d %s", code, raw)
	}
	for _, n := range []string{a, b} {
		if _, err := e.rh.GetUser(n); !isStatus(err, http.StatusNotFound) {
			t.Errorf("GetUser(%q) after bulk-delete: %v, want 404", n, err)
		}
	}
}

func TestPermissions(t *testing.T) {
	e := setup(t)
	vh := e.newVhost("vhost")
	user, pass := e.newUser("user", "management")

	// No permissions: the user may not open the vhost.
	if _, err := e.dialAs(user, pass, vh); err == nil {
		t.Fatal("a user without permissions opened the vhost")
	}
	res, err := e.rh.UpdatePermissionsIn(vh, user, rabbithole.Permissions{Configure: "^own-", Write: ".*", Read: ".*"})
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("UpdatePermissionsIn: %v %v, want 201", res, err)
	}
	res, err = e.rh.UpdatePermissionsIn(vh, user, rabbithole.Permissions{Configure: "^own-", Write: ".*", Read: ".*"})
	if err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("UpdatePermissionsIn again: %v %v, want 204", res, err)
	}
	p, err := e.rh.GetPermissionsIn(vh, user)
	if err != nil || p.Vhost != vh || p.User != user || p.Configure != "^own-" || p.Write != ".*" || p.Read != ".*" {
		t.Fatalf("GetPermissionsIn: %+v %v", p, err)
	}
	if ps, err := e.rh.ListPermissionsOf(user); err != nil || len(ps) != 1 || ps[0].Vhost != vh {
		t.Errorf("ListPermissionsOf: %+v %v", ps, err)
	}
	var inVhost []rabbithole.PermissionInfo
	e.getJSON("/api/vhosts/"+esc(vh)+"/permissions", &inVhost)
	if !slices.ContainsFunc(inVhost, func(p rabbithole.PermissionInfo) bool { return p.User == user }) {
		t.Errorf("vhosts/{v}/permissions lacks the user: %+v", inVhost)
	}
	if ps, err := e.rh.ListPermissions(); err != nil || !slices.ContainsFunc(ps, func(p rabbithole.PermissionInfo) bool { return p.User == user && p.Vhost == vh }) {
		t.Errorf("ListPermissions lacks the permission: %v", err)
	}

	// Over AMQP: configure is checked against the queue's name.
	conn, err := e.dialAs(user, pass, vh)
	if err != nil {
		t.Fatalf("dial with permissions: %v", err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("own-q", false, true, false, false, nil); err != nil {
		t.Fatalf("declare own-q: %v", err)
	}
	if _, err := ch.QueueDeclare("other-q", false, true, false, false, nil); amqpCode(err) != amqp.AccessRefused {
		t.Fatalf("declare other-q: %v, want 403", err)
	}

	// Bad bodies.
	path := "/api/permissions/" + esc(vh) + "/" + esc(user)
	code, raw, _ := e.do("PUT", path, map[string]any{"configure": ".*"})
	e.wantError("PUT without write and read", code, raw, http.StatusBadRequest, "bad_request", "[{key_missing,write},{key_missing,read}]")
	code, raw, _ = e.do("PUT", "/api/permissions/"+esc(vh)+"/"+esc(e.name("nobody")), map[string]any{"configure": "", "write": "", "read": ""})
	e.wantError("PUT for a missing user", code, raw, http.StatusBadRequest, "bad_request", "vhost_or_user_not_found")
	code, raw, _ = e.do("PUT", "/api/permissions/"+esc(e.name("novhost"))+"/"+esc(user), map[string]any{"configure": "", "write": "", "read": ""})
	e.wantError("PUT for a missing vhost", code, raw, http.StatusBadRequest, "bad_request", "vhost_or_user_not_found")
	if code, raw, _ = e.do("PUT", path, map[string]any{"configure": "(", "write": "", "read": ""}); code != http.StatusBadRequest {
		t.Errorf("PUT with a bad regular expression: %d %s, want 400", code, raw)
	}

	if res, err := e.rh.ClearPermissionsIn(vh, user); err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("ClearPermissionsIn: %v %v", res, err)
	}
	if _, err := e.rh.GetPermissionsIn(vh, user); !isStatus(err, http.StatusNotFound) {
		t.Errorf("GetPermissionsIn after clear: %v, want 404", err)
	}
	code, raw, _ = e.do("DELETE", path, nil)
	e.wantError("DELETE again", code, raw, http.StatusNotFound, "Object Not Found", "Not Found")
	if _, err := e.dialAs(user, pass, vh); err == nil {
		t.Error("the user opened the vhost after its permissions were cleared")
	}
}

func TestTopicPermissions(t *testing.T) {
	e := setup(t)
	vh := e.newVhost("vhost")
	user, pass := e.newUser("user", "management")
	if _, err := e.rh.UpdatePermissionsIn(vh, user, rabbithole.Permissions{Configure: ".*", Write: ".*", Read: ".*"}); err != nil {
		t.Fatal(err)
	}
	res, err := e.rh.UpdateTopicPermissionsIn(vh, user, rabbithole.TopicPermissions{Exchange: "amq.topic", Write: "^allowed\\.", Read: ".*"})
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("UpdateTopicPermissionsIn: %v %v, want 201", res, err)
	}
	tps, err := e.rh.GetTopicPermissionsIn(vh, user)
	if err != nil || len(tps) != 1 || tps[0].Exchange != "amq.topic" || tps[0].Write != "^allowed\\." || tps[0].Vhost != vh || tps[0].User != user {
		t.Fatalf("GetTopicPermissionsIn: %+v %v", tps, err)
	}
	if all, err := e.rh.ListTopicPermissionsOf(user); err != nil || len(all) != 1 {
		t.Errorf("ListTopicPermissionsOf: %+v %v", all, err)
	}
	var inVhost []rabbithole.TopicPermissionInfo
	e.getJSON("/api/vhosts/"+esc(vh)+"/topic-permissions", &inVhost)
	if len(inVhost) != 1 || inVhost[0].User != user {
		t.Errorf("vhosts/{v}/topic-permissions: %+v", inVhost)
	}
	code, raw, _ := e.do("PUT", "/api/topic-permissions/"+esc(vh)+"/"+esc(user), map[string]any{"write": "", "read": ""})
	e.wantError("PUT without exchange", code, raw, http.StatusBadRequest, "bad_request", "[{key_missing,exchange}]")

	// Over AMQP: a routing key the write pattern refuses closes the channel.
	conn, err := e.dialAs(user, pass, vh)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Publish("amq.topic", "allowed.key", false, false, amqp.Publishing{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("", false, true, true, false, nil); err != nil {
		t.Fatalf("the channel after an allowed key: %v", err)
	}
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	if err := ch.Publish("amq.topic", "refused.key", false, false, amqp.Publishing{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ae := <-closed:
		if ae == nil || ae.Code != amqp.AccessRefused {
			t.Errorf("channel closed with %v, want 403", ae)
		}
	case <-timeoutC():
		t.Fatal("publishing with a refused routing key did not close the channel")
	}

	if res, err := e.rh.ClearTopicPermissionsIn(vh, user); err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("ClearTopicPermissionsIn: %v %v", res, err)
	}
	code, raw, _ = e.do("DELETE", "/api/topic-permissions/"+esc(vh)+"/"+esc(user), nil)
	e.wantError("DELETE again", code, raw, http.StatusNotFound, "Object Not Found", "Not Found")
}

func TestNonAdminRefused(t *testing.T) {
	e := setup(t)
	vh := e.newVhost("vhost")
	user, pass := e.newUser("user", "management")
	if _, err := e.rh.UpdatePermissionsIn(vh, user, rabbithole.Permissions{Configure: ".*", Write: ".*", Read: ".*"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ method, path, reason string }{
		{"GET", "/api/users", "Not administrator user"},
		{"PUT", "/api/users/" + esc(e.name("x")), "Not administrator user"},
		{"GET", "/api/permissions", "Not administrator user"},
		{"GET", "/api/definitions", "Not administrator user"},
		{"POST", "/api/definitions", "Not administrator user"},
		{"GET", "/api/global-parameters", "User not authorised to access object"},
		{"GET", "/api/parameters", "User not authorised to access object"},
		{"PUT", "/api/policies/" + esc(vh) + "/p", "User not authorised to access object"},
		{"GET", "/api/vhost-limits/%2F", "User not authorised to access virtual host"},
	} {
		code, raw, _ := e.doAs(user, pass, c.method, c.path, map[string]any{"pattern": ".*", "definition": map[string]any{}, "tags": ""})
		e.wantError(c.method+" "+c.path+" as a management user", code, raw, http.StatusUnauthorized, "not_authorised", c.reason)
	}
	// What a management user may read: its vhosts' policies and limits.
	code, raw, _ := e.doAs(user, pass, "GET", "/api/policies/"+esc(vh), nil)
	if code != http.StatusOK || string(raw) != "[]" {
		t.Errorf("GET policies of its vhost: %d %s, want 200 []", code, raw)
	}
	// A policymaker may set policies in its vhosts only.
	if _, err := e.rh.PutUser(user, rabbithole.UserSettings{Password: pass, Tags: rabbithole.UserTags{"policymaker"}}); err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"pattern": "^nothing$", "definition": map[string]any{"max-length": 1}}
	code, raw, _ = e.doAs(user, pass, "PUT", "/api/policies/"+esc(vh)+"/p", body)
	if code != http.StatusCreated {
		t.Errorf("a policymaker's PUT policy in its vhost: %d %s, want 201", code, raw)
	}
	code, raw, _ = e.doAs(user, pass, "PUT", "/api/policies/%2F/"+esc(e.name("p")), body)
	e.wantError("a policymaker's PUT policy in another vhost", code, raw, http.StatusUnauthorized, "not_authorised", "User not authorised to access object")
}

// TestObjectOperationsCheckPermissions: the API checks configure, write
// and read as AMQP does, with RabbitMQ's answers.
func TestObjectOperationsCheckPermissions(t *testing.T) {
	e := setup(t)
	vh := e.newVhost("vhost")
	user, pass := e.newUser("user", "management")
	if _, err := e.rh.UpdatePermissionsIn(vh, user, rabbithole.Permissions{Configure: "^own", Write: "^own", Read: "^own"}); err != nil {
		t.Fatal(err)
	}
	if res, err := e.rh.DeclareQueue(vh, "other", rabbithole.QueueSettings{}); err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("guest declares other: %v %v", res, err)
	}
	base := "/api/queues/" + esc(vh) + "/"
	as := func(method, path string, body any) (int, []byte) {
		code, raw, _ := e.doAs(user, pass, method, path, body)
		return code, raw
	}
	code, raw := as("PUT", base+"own1", map[string]any{})
	if code != http.StatusCreated {
		t.Fatalf("PUT a queue the user may configure: %d %s", code, raw)
	}
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"PUT", base + "other2", map[string]any{}},
		{"DELETE", base + "other", nil},
		{"DELETE", base + "other/contents", nil},
		{"PUT", "/api/exchanges/" + esc(vh) + "/x", map[string]any{"type": "direct"}},
		{"POST", "/api/bindings/" + esc(vh) + "/e/amq.direct/q/own1", map[string]any{}},
	} {
		code, raw := as(c.method, c.path, c.body)
		e.wantError(c.method+" "+c.path, code, raw, http.StatusUnauthorized, "not_authorised", "Access refused.")
	}
	code, raw = as("POST", base+"other/get", map[string]any{"count": 1, "ackmode": "ack_requeue_true", "encoding": "auto"})
	e.wantError("get from other", code, raw, http.StatusUnauthorized, "not_authorised",
		"ACCESS_REFUSED - access to queue 'other' in vhost '"+vh+"' refused for user '"+user+"'")
	code, raw = as("POST", "/api/exchanges/"+esc(vh)+"/amq.default/publish", map[string]any{"routing_key": "x", "payload": "", "payload_encoding": "string", "properties": map[string]any{}})
	e.wantError("publish to amq.default", code, raw, http.StatusBadRequest, "bad_request",
		"403 ACCESS_REFUSED - access to exchange 'amq.default' in vhost '"+vh+"' refused for user '"+user+"'")
	if code, raw = as("GET", base+"other", nil); code != http.StatusOK {
		t.Errorf("GET a queue of its vhost: %d %s, want 200", code, raw)
	}
	if _, err := e.rh.GetQueue(vh, "other"); err != nil {
		t.Errorf("other is gone after refused deletes: %v", err)
	}
}
