package server

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/amqp/broker"
)

// User is an account configured to log in. The broker core's users are
// the source of truth (broker.PutUser); the configured ones are created
// there the first time the server starts over its store (rabbitmq:
// default_user), and stored ones rule after that. PasswordHash is
// RabbitMQ's rabbit_password_hashing_sha256 format: base64 of a 4-byte salt
// followed by SHA-256(salt + password), so hashes can be moved between the
// two brokers.
type User struct {
	Name         string
	PasswordHash string
	// Tags are RabbitMQ's user tags (administrator, monitoring,
	// management, policymaker): the management API's gates.
	Tags []string
	// Vhosts the user is given permissions (".*" ".*" ".*") on; nil
	// means every configured vhost. From Authenticate: the vhosts the
	// stored user has permissions on (nil for an administrator).
	Vhosts []string
}

// ErrLoginRefused: Authenticate refused the user name and password, or
// the place they came from.
var ErrLoginRefused = errors.New("server: login refused")

// Authenticate checks a user name and password from remote as the AMQP
// handshake does (loopback-only users included), for other front ends
// such as the management API. The error wraps ErrLoginRefused and says
// why, for the log; tell the client no more than "Login failed".
func (s *Server) Authenticate(name, pass string, remote net.Addr) (User, error) {
	u, ok := s.core.User(name)
	if !ok || !u.CheckPassword(pass) {
		return User{}, fmt.Errorf("%w: user '%s': invalid credentials", ErrLoginRefused, name)
	}
	return s.loggedIn(u, remote)
}

// loggedIn is the user u (whose password or certificate checked out)
// logging in from remote: refused for a loopback-only user elsewhere.
func (s *Server) loggedIn(u broker.User, remote net.Addr) (User, error) {
	name := u.Name
	for _, lu := range s.cfg.LoopbackUsers {
		if lu == name && !isLoopback(remote) {
			return User{}, fmt.Errorf("%w: user '%s' can only connect via localhost", ErrLoginRefused, name)
		}
	}
	out := User{Name: u.Name, Tags: u.Tags}
	if !u.HasTag("administrator") {
		out.Vhosts = []string{}
		for _, p := range s.core.Permissions() {
			if p.User == name {
				out.Vhosts = append(out.Vhosts, p.Vhost)
			}
		}
	}
	return out, nil
}

// MayOpen reports whether u may use vhost.
func (u *User) MayOpen(vhost string) bool {
	return u.Vhosts == nil || slices.Contains(u.Vhosts, vhost)
}

// HashPassword returns a salted hash of password in the PasswordHash format.
func HashPassword(password string) string {
	h, _ := broker.HashPassword(broker.HashSHA256, password)
	return h
}

// seedUsers creates the configured users with their permissions in the
// core, the first time it starts over its store.
func (s *Server) seedUsers() error {
	var users []broker.User
	var perms []broker.Permission
	for _, u := range s.cfg.Users {
		if u.Name == "" {
			return errors.New("server: a user has no name")
		}
		users = append(users, broker.User{Name: u.Name, PasswordHash: u.PasswordHash, HashingAlgorithm: broker.HashSHA256, Tags: u.Tags})
		vhosts := u.Vhosts
		if vhosts == nil {
			vhosts = s.cfg.Vhosts
		}
		for _, v := range vhosts {
			if s.core.Vhost(v) == nil {
				continue
			}
			perms = append(perms, broker.Permission{Vhost: v, User: u.Name, Configure: ".*", Write: ".*", Read: ".*"})
		}
	}
	_, err := s.core.SeedUsers(users, perms)
	return err
}

var errBadResponse = errors.New("malformed SASL response")

// parseCredentials reads the user name and password of a PLAIN or AMQPLAIN
// start-ok response.
func parseCredentials(mechanism, response string) (user, pass string, err error) {
	switch mechanism {
	case "PLAIN":
		// RFC 4616: [authzid] NUL authcid NUL passwd
		parts := bytes.Split([]byte(response), []byte{0})
		if len(parts) != 3 {
			return "", "", errBadResponse
		}
		return string(parts[1]), string(parts[2]), nil
	case "AMQPLAIN":
		// A field table without its length prefix: LOGIN and PASSWORD.
		b := make([]byte, 4, 4+len(response))
		b[0], b[1], b[2], b[3] = byte(len(response)>>24), byte(len(response)>>16), byte(len(response)>>8), byte(len(response))
		t, err := amqp.DecodeTable(append(b, response...))
		if err != nil {
			return "", "", errBadResponse
		}
		u, ok1 := t["LOGIN"].(string)
		p, ok2 := t["PASSWORD"].(string)
		if !ok1 || !ok2 {
			return "", "", errBadResponse
		}
		return u, p, nil
	}
	return "", "", fmt.Errorf("unknown mechanism %q", mechanism)
}

func isLoopback(addr net.Addr) bool {
	switch a := addr.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	case nil:
		return false
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.Network() == "pipe"
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
