package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
)

// Identity is where the EXTERNAL mechanism reads the user name in a
// verified client certificate, as RabbitMQ's rabbitmq_auth_mechanism_ssl
// configures it:
//
//	ssl_cert_login_from = distinguished_name | common_name | subject_alternative_name
//	ssl_cert_login_san_type = dns | ip | email | uri     (default dns)
//	ssl_cert_login_san_index = N                          (default 0)
//
// The zero Identity is off: EXTERNAL is not offered.
type Identity struct {
	From     Source
	SANType  SANType // with FromSAN
	SANIndex int     // with FromSAN: the Nth name of SANType, from 0
}

// Source is ssl_cert_login_from.
type Source string

const (
	FromDN  Source = "distinguished_name"       // the subject, RFC 4514: "CN=alice,O=Acme"
	FromCN  Source = "common_name"              // the subject's common name
	FromSAN Source = "subject_alternative_name" // a subject alternative name
)

// SANType is ssl_cert_login_san_type.
type SANType string

const (
	SANDNS   SANType = "dns"
	SANIP    SANType = "ip"
	SANEmail SANType = "email"
	SANURI   SANType = "uri"
)

// Enabled reports whether EXTERNAL is on.
func (id Identity) Enabled() bool { return id.From != "" }

func (id Identity) String() string {
	if id.From == FromSAN {
		return fmt.Sprintf("%s (%s, index %d)", id.From, id.SANType, id.SANIndex)
	}
	if id.From == "" {
		return "off"
	}
	return string(id.From)
}

// ParseIdentity reads the source (RabbitMQ's names, or cn, dn, san,
// subject_alt_name; "" or off: off), the SAN type ("": dns) and index.
func ParseIdentity(from, sanType string, sanIndex int) (Identity, error) {
	var id Identity
	switch strings.ToLower(strings.TrimSpace(from)) {
	case "", "off":
		return Identity{}, nil
	case "distinguished_name", "dn":
		id.From = FromDN
	case "common_name", "cn":
		id.From = FromCN
	case "subject_alternative_name", "subject_alt_name", "san":
		id.From = FromSAN
	default:
		return Identity{}, fmt.Errorf("identity source %q: want distinguished_name, common_name, subject_alternative_name or off", from)
	}
	if id.From != FromSAN {
		return id, nil
	}
	switch t := SANType(strings.ToLower(strings.TrimSpace(sanType))); t {
	case "":
		id.SANType = SANDNS
	case SANDNS, SANIP, SANEmail, SANURI:
		id.SANType = t
	default:
		return Identity{}, fmt.Errorf("subject alternative name type %q: want dns, ip, email or uri", sanType)
	}
	if sanIndex < 0 {
		return Identity{}, fmt.Errorf("subject alternative name index %d: must be 0 or more", sanIndex)
	}
	id.SANIndex = sanIndex
	return id, nil
}

// PeerIdentity is the user name id reads in the verified client
// certificate of st.
func PeerIdentity(st tls.ConnectionState, id Identity) (string, error) {
	if len(st.VerifiedChains) == 0 || len(st.PeerCertificates) == 0 {
		return "", errors.New("no verified client certificate")
	}
	return CertIdentity(st.PeerCertificates[0], id)
}

// CertIdentity is the user name id reads in c.
func CertIdentity(c *x509.Certificate, id Identity) (string, error) {
	switch id.From {
	case FromDN:
		// rabbitmq rabbit_ssl: the RDN sequence reversed, comma-joined (RFC
		// 4514), as pkix.Name.String writes it.
		if dn := c.Subject.String(); dn != "" {
			return dn, nil
		}
		return "", errors.New("the client certificate has an empty subject")
	case FromCN:
		if c.Subject.CommonName != "" {
			return c.Subject.CommonName, nil
		}
		return "", errors.New("the client certificate has no common name")
	case FromSAN:
		var names []string
		switch id.SANType {
		case SANDNS:
			names = c.DNSNames
		case SANEmail:
			names = c.EmailAddresses
		case SANIP:
			for _, ip := range c.IPAddresses {
				names = append(names, ip.String())
			}
		case SANURI:
			for _, u := range c.URIs {
				names = append(names, u.String())
			}
		default:
			return "", fmt.Errorf("unknown subject alternative name type %q", id.SANType)
		}
		if id.SANIndex >= len(names) {
			return "", fmt.Errorf("the client certificate has %d subject alternative names of type %s, none at index %d",
				len(names), id.SANType, id.SANIndex)
		}
		return names[id.SANIndex], nil
	}
	return "", fmt.Errorf("unknown identity source %q", id.From)
}
