package server_test

import (
	"errors"
	"net"
	"net/url"
	"testing"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/tlsconf"
	"github.com/warrenmq/warren/tlsconf/tlstest"
)

// EXTERNAL logs in as the name the configured part of the client
// certificate holds (RabbitMQ's ssl_cert_login_from, _san_type and
// _san_index), over amqp091-go on a real TLS socket, and refuses with 403
// when the certificate has no such name or no such user exists.
func TestExternalIdentitySources(t *testing.T) {
	t.Parallel()
	uri, _ := url.Parse("spiffe://example.org/uri-user")
	full := tlstest.Options{
		CommonName: "cn-user", Organization: []string{"Acme"}, OrganizationalUnit: []string{"Ops"},
		DNSNames: []string{"dns0-user", "dns1-user"}, Emails: []string{"mail-user@example.com"},
		IPs: []net.IP{net.ParseIP("10.1.2.3")}, URIs: []*url.URL{uri}, Client: true,
	}
	for _, tc := range []struct {
		name, from, sanType string
		index               int
		want                string // the user logged in as; "" refused
	}{
		{"common_name", "common_name", "", 0, "cn-user"},
		{"cn", "cn", "", 0, "cn-user"},
		{"distinguished_name", "distinguished_name", "", 0, "CN=cn-user,OU=Ops,O=Acme"},
		{"san dns 0", "subject_alternative_name", "dns", 0, "dns0-user"},
		{"san default type", "san", "", 1, "dns1-user"},
		{"san email", "subject_alternative_name", "email", 0, "mail-user@example.com"},
		{"san ip", "subject_alt_name", "ip", 0, "10.1.2.3"},
		{"san uri", "subject_alternative_name", "uri", 0, "spiffe://example.org/uri-user"},
		{"san dns index past the names", "subject_alternative_name", "dns", 2, ""},
		{"san email index past the names", "subject_alternative_name", "email", 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id, err := tlsconf.ParseIdentity(tc.from, tc.sanType, tc.index)
			if err != nil {
				t.Fatal(err)
			}
			// Every name the certificate holds is a user: only the
			// configured one may be the one logged in as.
			b := startTLSBrokerWith(t, tlsconf.ClientAuthRequire, id, "cn-user", "CN=cn-user,OU=Ops,O=Acme",
				"dns0-user", "dns1-user", "mail-user@example.com", "10.1.2.3", "spiffe://example.org/uri-user")
			cert := b.ca.Issue(full)
			conn, err := b.dialTLS(b.ca.ClientConfig(cert), true)
			if tc.want == "" {
				var ae *amqp091.Error
				if !errors.As(err, &ae) || ae.Code != amqp091.AccessRefused {
					t.Fatalf("got %v, want 403 ACCESS_REFUSED", err)
				}
				return
			}
			must(t, err, "dial amqps with EXTERNAL")
			defer conn.Close()
			roundTripOn(t, conn)
			if u := userOf(t, b.srv, conn); u != tc.want {
				t.Fatalf("logged in as %q, want %q", u, tc.want)
			}
		})
	}
	t.Run("no SAN of the type", func(t *testing.T) {
		t.Parallel()
		id, _ := tlsconf.ParseIdentity("subject_alternative_name", "uri", 0)
		b := startTLSBrokerWith(t, tlsconf.ClientAuthRequire, id, "cn-user")
		conn, err := b.dialTLS(b.ca.ClientConfig(b.ca.Issue(tlstest.Options{CommonName: "cn-user", Client: true})), true)
		if err == nil {
			conn.Close()
			t.Fatal("EXTERNAL with a certificate without a URI name logged in")
		}
		var ae *amqp091.Error
		if !errors.As(err, &ae) || ae.Code != amqp091.AccessRefused {
			t.Fatalf("got %v, want 403 ACCESS_REFUSED", err)
		}
	})
}

func TestParseIdentityRejects(t *testing.T) {
	for _, c := range []struct {
		from, typ string
		index     int
	}{
		{"subject", "", 0}, {"san", "x400", 0}, {"san", "other_name", 0}, {"san", "dns", -1},
	} {
		if id, err := tlsconf.ParseIdentity(c.from, c.typ, c.index); err == nil {
			t.Errorf("ParseIdentity(%q, %q, %d) = %v, want an error", c.from, c.typ, c.index, id)
		}
	}
	if id, err := tlsconf.ParseIdentity("off", "", 0); err != nil || id.Enabled() {
		t.Errorf("ParseIdentity(off) = %v, %v; want off", id, err)
	}
}
