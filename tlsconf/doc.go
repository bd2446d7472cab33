// Package tlsconf builds the server side of TLS for Warren's listeners
// (AMQPS, the Prometheus endpoint, and later the management API) from
// PEM files, and reloads them at run time (SIGHUP) without dropping a
// connection.
//
// Map:
//
//	tlsconf.go  Config (files, client authentication), Loader (load,
//	            Reload, ServerConfig), ParseClientAuth.
//	identity.go Identity, ParseIdentity, PeerIdentity: the user name
//	            EXTERNAL takes from a client certificate (DN, CN, or a SAN
//	            of a type at an index, as RabbitMQ's ssl_cert_login_*).
//
// Every tls.Config a Loader hands out has GetConfigForClient reading the
// Loader's current snapshot, an atomic pointer: a reload swaps it, new
// handshakes take the new certificate and CA, and the connections already
// open keep the session they negotiated. A reload that fails (a missing
// or mismatched file) keeps the previous snapshot and returns the error.
// TLS 1.2 is the minimum version, as RabbitMQ's default.
//
// Concurrency: Loader is safe for concurrent use; Reload may race with
// handshakes. No package-level mutable state.
package tlsconf
