package server

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"

	"github.com/warrenmq/warren/amqp"
)

// User is an account that may log in. PasswordHash is RabbitMQ's
// rabbit_password_hashing_sha256 format: base64 of a 4-byte salt followed by
// SHA-256(salt + password), so hashes can be moved between the two brokers.
type User struct {
	Name         string
	PasswordHash string
	// Vhosts the user may open; nil means every vhost.
	Vhosts []string
	// Tags are RabbitMQ's user tags (administrator, monitoring,
	// management, policymaker): the management API's gates.
	Tags []string
}

// ErrLoginRefused: Authenticate refused the user name and password, or
// the place they came from.
var ErrLoginRefused = errors.New("server: login refused")

// Authenticate checks a user name and password from remote as the AMQP
// handshake does (loopback-only users included), for other front ends
// such as the management API. The error wraps ErrLoginRefused and says
// why, for the log; tell the client no more than "Login failed".
func (s *Server) Authenticate(name, pass string, remote net.Addr) (User, error) {
	u, ok := s.users[name]
	if !ok || !u.CheckPassword(pass) {
		return User{}, fmt.Errorf("%w: user '%s': invalid credentials", ErrLoginRefused, name)
	}
	for _, lu := range s.cfg.LoopbackUsers {
		if lu == name && !isLoopback(remote) {
			return User{}, fmt.Errorf("%w: user '%s' can only connect via localhost", ErrLoginRefused, name)
		}
	}
	return u, nil
}

// MayOpen reports whether u may use vhost.
func (u *User) MayOpen(vhost string) bool { return u.mayOpen(vhost) }

// HashPassword returns a salted hash of password in the PasswordHash format.
func HashPassword(password string) string {
	var salt [4]byte
	rand.Read(salt[:])
	return hashWithSalt(salt[:], password)
}

func hashWithSalt(salt []byte, password string) string {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(password))
	return base64.StdEncoding.EncodeToString(append(append([]byte{}, salt...), h.Sum(nil)...))
}

// CheckPassword reports whether password matches u's hash.
func (u *User) CheckPassword(password string) bool {
	raw, err := base64.StdEncoding.DecodeString(u.PasswordHash)
	if err != nil || len(raw) != 4+sha256.Size {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hashWithSalt(raw[:4], password)), []byte(u.PasswordHash)) == 1
}

func (u *User) mayOpen(vhost string) bool {
	if u.Vhosts == nil {
		return true
	}
	for _, v := range u.Vhosts {
		if v == vhost {
			return true
		}
	}
	return false
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
