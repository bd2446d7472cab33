package management

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/warrenmq/warren/amqp/broker"
)

// Users: /api/users[/{name}] (GET, PUT, DELETE), /api/users/without-permissions,
// /api/users/bulk-delete (POST), /api/users/{name}/permissions and
// /topic-permissions; /api/user-limits. Administrators only, as RabbitMQ
// gates them; every change is a core command (broker.PutUser, DeleteUser).

// toUserJSON is u as RabbitMQ 3.10 shows it: the core's record, with the
// default hashing algorithm and [] for no tags.
func toUserJSON(u broker.User) broker.UserJSON {
	if u.HashingAlgorithm == "" {
		u.HashingAlgorithm = broker.HashSHA256
	}
	if u.Tags == nil {
		u.Tags = []string{}
	}
	return broker.UserRecord(u)
}

func (s *Server) getUsers(w http.ResponseWriter, r *http.Request) {
	users := s.b.Users()
	list(w, r, users, func(u *broker.User) string { return u.Name },
		func(u *broker.User) map[string]any { return toMap(toUserJSON(*u)) })
}

func (s *Server) getUsersWithoutPermissions(w http.ResponseWriter, r *http.Request) {
	has := map[string]bool{}
	for _, p := range s.b.Permissions() {
		has[p.User] = true
	}
	out := []broker.UserJSON{}
	for _, u := range s.b.Users() {
		if !has[u.Name] {
			out = append(out, toUserJSON(u))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	u, ok := s.b.User(pathValue(r, "user"))
	if !ok {
		notFound(w)
		return
	}
	one(w, r, toMap(toUserJSON(u)))
}

// userBody is PUT /api/users/{name}'s body. Tags are a comma-separated
// string or a list (rabbitmq accepts both); they must be present.
type userBody struct {
	Password         *string         `json:"password"`
	PasswordHash     *string         `json:"password_hash"`
	HashingAlgorithm string          `json:"hashing_algorithm"`
	Tags             json.RawMessage `json:"tags"`
}

// parseTags reads tags as RabbitMQ does: "a,b" or ["a","b"].
func parseTags(raw json.RawMessage) ([]string, bool) {
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return slices.DeleteFunc(list, func(t string) bool { return strings.TrimSpace(t) == "" }), true
	}
	var str string
	if json.Unmarshal(raw, &str) != nil {
		return nil, false
	}
	out := []string{}
	for _, t := range strings.Split(str, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out, true
}

func (s *Server) putUser(w http.ResponseWriter, r *http.Request) {
	name := pathValue(r, "user")
	var body userBody
	if !decodeBody(w, r, &body) {
		return
	}
	if len(body.Tags) == 0 {
		badRequest(w, "tags_not_present") // rabbitmq's reason
		return
	}
	tags, ok := parseTags(body.Tags)
	if !ok {
		badRequest(w, "tags must be a comma-separated string or a list of strings")
		return
	}
	old, exists := s.b.User(name)
	u := broker.User{Name: name, HashingAlgorithm: body.HashingAlgorithm, Tags: tags, Limits: old.Limits}
	switch {
	case body.Password != nil:
		h, err := broker.HashPassword(body.HashingAlgorithm, *body.Password)
		if err != nil {
			badRequest(w, err.Error())
			return
		}
		u.PasswordHash = h
	case body.PasswordHash != nil:
		u.PasswordHash = *body.PasswordHash
	}
	// rabbitmq: neither password nor password_hash leaves the user
	// without a password (it may not log in with one).
	if _, err := s.b.Apply("", broker.PutUser{User: u}); err != nil {
		writeAMQPError(w, err)
		return
	}
	noContent(w, !exists)
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	name := pathValue(r, "user")
	if _, ok := s.b.User(name); !ok {
		notFound(w)
		return
	}
	if _, err := s.b.Apply("", broker.DeleteUser{Name: name}); err != nil {
		writeAMQPError(w, err)
		return
	}
	noContent(w, false)
}

// bulkDeleteUsers is POST /api/users/bulk-delete {"users": [...]}: every
// user named must exist, else nothing is deleted.
func (s *Server) bulkDeleteUsers(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Users []string `json:"users"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	for _, n := range body.Users {
		if _, ok := s.b.User(n); !ok {
			badRequest(w, fmt.Sprintf("no_such_user: %s", n))
			return
		}
	}
	for _, n := range body.Users {
		if _, err := s.b.Apply("", broker.DeleteUser{Name: n}); err != nil {
			writeAMQPError(w, err)
			return
		}
	}
	noContent(w, false)
}

func (s *Server) getUserPermissions(w http.ResponseWriter, r *http.Request) {
	name := pathValue(r, "user")
	if _, ok := s.b.User(name); !ok {
		notFound(w)
		return
	}
	out := []broker.Permission{}
	for _, p := range s.b.Permissions() {
		if p.User == name {
			out = append(out, p)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getUserTopicPermissions(w http.ResponseWriter, r *http.Request) {
	name := pathValue(r, "user")
	if _, ok := s.b.User(name); !ok {
		notFound(w)
		return
	}
	out := []broker.TopicPermission{}
	for _, p := range s.b.TopicPermissions() {
		if p.User == name {
			out = append(out, p)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// userLimitJSON is one user's limits as /api/user-limits lists them.
type userLimitJSON struct {
	User  string         `json:"user"`
	Value map[string]any `json:"value"`
}

var userLimitNames = []string{"max-connections", "max-channels"}

func (s *Server) getUserLimits(w http.ResponseWriter, r *http.Request) {
	if levelOf(userOf(r)) < levelAdministrator {
		writeJSON(w, http.StatusOK, []any{}) // rabbitmq 3.10: a non-administrator sees none
		return
	}
	only := pathValue(r, "user")
	if only != "" {
		if _, ok := s.b.User(only); !ok {
			notFound(w)
			return
		}
	}
	out := []userLimitJSON{}
	for _, u := range s.b.Users() {
		if len(u.Limits) > 0 && (only == "" || u.Name == only) {
			out = append(out, userLimitJSON{User: u.Name, Value: u.Limits})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// putUserLimit is PUT /api/user-limits/{user}/{name} {"value": N}: a
// user's max-connections or max-channels, kept and exported (Warren
// does not enforce user limits yet).
func (s *Server) putUserLimit(w http.ResponseWriter, r *http.Request) {
	s.changeUserLimit(w, r, true)
}

func (s *Server) deleteUserLimit(w http.ResponseWriter, r *http.Request) {
	s.changeUserLimit(w, r, false)
}

func (s *Server) changeUserLimit(w http.ResponseWriter, r *http.Request, set bool) {
	user, name := pathValue(r, "user"), pathValue(r, "name")
	u, ok := s.b.User(user)
	if !ok {
		notFound(w)
		return
	}
	limits := map[string]any{}
	for k, v := range u.Limits {
		limits[k] = v
	}
	if set {
		n, ok := limitValue(w, r, name)
		if !ok {
			return
		}
		if !slices.Contains(userLimitNames, name) {
			badRequest(w, fmt.Sprintf("Validation failed\n\nUnrecognised terms [{<<\"%s\">>,%d}] in user limits\n", name, n))
			return
		}
		limits[name] = n
	} else {
		delete(limits, name)
	}
	u.Limits = limits
	if _, err := s.b.Apply("", broker.PutUser{User: u}); err != nil {
		writeAMQPError(w, err)
		return
	}
	noContent(w, false)
}
