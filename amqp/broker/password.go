package broker

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"hash"
)

// The password hashing algorithms RabbitMQ names in definitions. Each hash
// is base64 of a 4-byte salt followed by H(salt + password)
// (rabbit_password:hash/2), so hashes move between Warren and RabbitMQ
// unchanged.
const (
	HashSHA256 = "rabbit_password_hashing_sha256" // the default
	HashSHA512 = "rabbit_password_hashing_sha512"
	HashMD5    = "rabbit_password_hashing_md5" // legacy: accepted, never chosen
)

func hasher(alg string) (func() hash.Hash, error) {
	switch alg {
	case HashSHA256, "":
		return sha256.New, nil
	case HashSHA512:
		return sha512.New, nil
	case HashMD5:
		return md5.New, nil
	}
	return nil, fmt.Errorf("unknown hashing algorithm %q", alg)
}

// HashPassword returns a new salted hash of password with alg ("" is
// SHA-256), in RabbitMQ's format.
func HashPassword(alg, password string) (string, error) {
	h, err := hasher(alg)
	if err != nil {
		return "", err
	}
	var salt [4]byte
	rand.Read(salt[:])
	return saltedHash(h, salt[:], password), nil
}

func saltedHash(newHash func() hash.Hash, salt []byte, password string) string {
	h := newHash()
	h.Write(salt)
	h.Write([]byte(password))
	return base64.StdEncoding.EncodeToString(h.Sum(append([]byte{}, salt...)))
}

// checkHash validates a stored hash: base64 of a 4-byte salt and a digest
// of alg's size. The empty hash is valid: that user cannot log in with a
// password (rabbitmq: a passwordless user).
func checkHash(alg, hash string) error {
	h, err := hasher(alg)
	if err != nil {
		return err
	}
	if hash == "" {
		return nil
	}
	raw, err := base64.StdEncoding.DecodeString(hash)
	if err != nil {
		return fmt.Errorf("password_hash is not base64: %v", err)
	}
	if len(raw) != 4+h().Size() {
		return fmt.Errorf("password_hash has %d bytes, want %d for %s", len(raw), 4+h().Size(), alg)
	}
	return nil
}

// CheckPassword reports whether password matches u's hash; a user with no
// hash matches no password.
func (u *User) CheckPassword(password string) bool {
	h, err := hasher(u.HashingAlgorithm)
	if err != nil || u.PasswordHash == "" {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(u.PasswordHash)
	if err != nil || len(raw) != 4+h().Size() {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(saltedHash(h, raw[:4], password)), []byte(u.PasswordHash)) == 1
}
