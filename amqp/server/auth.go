package server

import (
	"bytes"
	"errors"
	"fmt"
	"net"

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
	Tags         []string // administrator, monitoring, management, policymaker
	// Vhosts the user is given permissions (".*" ".*" ".*") on; nil
	// means every configured vhost.
	Vhosts []string
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
