package managementtest

import (
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/warrenmq/warren/amqp/management"
	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
)

// Start serves the management API over srv (whose AMQP URL is amqpURL,
// as servertest.StartServer returns it) with statistics sampled every
// interval, and users authenticated by srv. It returns the API and its
// http:// URL. Each opt may change the configuration first (to add the
// stream protocol's connections, say).
func Start(tb testing.TB, srv *server.Server, amqpURL string, interval time.Duration, opts ...func(*management.Config)) (*management.Server, string) {
	tb.Helper()
	u, err := url.Parse(amqpURL)
	if err != nil {
		tb.Fatal(err)
	}
	amqpAddr, err := net.ResolveTCPAddr("tcp", u.Host)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := management.Config{
		Broker: srv.Broker(), Registry: srv, StatsInterval: interval,
		Listeners: []management.Listener{{Protocol: "amqp", Addr: amqpAddr}},
		Auth: management.AuthFunc(func(user, pass string, remote net.Addr) (management.User, error) {
			u, err := srv.Authenticate(user, pass, remote)
			return management.User{Name: u.Name, Tags: u.Tags, Vhosts: u.Vhosts}, err
		}),
	}
	for _, o := range opts {
		o(&cfg)
	}
	m, err := management.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return m, "http://" + servertest.Serve(tb, m, management.ErrServerClosed)
}
