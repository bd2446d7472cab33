package api

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	amqp "github.com/rabbitmq/amqp091-go"
)

func TestConnectionsChannelsConsumers(t *testing.T) {
	e := setup(t)
	connName := e.name("conn")
	q := e.name("consumed")
	e.cleanupQueue(q)
	conn := e.dial("", amqp.Table{"connection_name": connName})
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Qos(7, 0, false); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(q, false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	tag := e.name("tag")
	if _, err := ch.Consume(q, tag, false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}

	var ci rabbithole.ConnectionInfo
	// rabbitmq: state and the figures come with the first statistics,
	// up to 5 s after the connection is listed.
	e.eventually("the connection is listed, running", func() (bool, string) {
		cs, err := e.rh.ListConnections()
		if err != nil {
			return false, err.Error()
		}
		for _, c := range cs {
			if c.ClientProperties["connection_name"] == connName {
				ci = c
				return ci.User == e.user && ci.Vhost == "/" && ci.Protocol == "AMQP 0-9-1" && ci.State == "running" &&
					int(ci.Port) == e.amqpPort && ci.PeerHost != "" && ci.PeerPort != 0 && ci.Channels == 1, jsonOf(ci)
			}
		}
		return false, fmt.Sprintf("%d connections, none named %q", len(cs), connName)
	})
	one, err := e.rh.GetConnection(ci.Name)
	if err != nil || one.Name != ci.Name {
		t.Fatalf("GetConnection(%q): %v %v", ci.Name, one, err)
	}

	e.eventually("the channel is listed with its consumer", func() (bool, string) {
		var chs []rabbithole.ChannelInfo
		e.getJSON("/api/connections/"+esc(ci.Name)+"/channels", &chs)
		return len(chs) == 1 && chs[0].ConsumerCount == 1 && chs[0].Number == 1 &&
			chs[0].Name == ci.Name+" (1)", jsonOf(chs)
	})
	chs, err := e.rh.ListChannels()
	if err != nil || !slices.ContainsFunc(chs, func(c rabbithole.ChannelInfo) bool { return c.Name == ci.Name+" (1)" }) {
		t.Errorf("ListChannels has no %q: %v", ci.Name+" (1)", err)
	}
	if c, err := e.rh.GetChannel(ci.Name + " (1)"); err != nil || c.Vhost != "/" || c.User != e.user {
		t.Errorf("GetChannel: %+v %v", c, err)
	}
	var inVhost []map[string]any
	e.getJSON("/api/vhosts/%2F/connections", &inVhost)
	if !slices.ContainsFunc(inVhost, func(c map[string]any) bool { return c["name"] == ci.Name }) {
		t.Errorf("/api/vhosts/%%2F/connections has no %q", ci.Name)
	}

	e.eventually("the consumer is listed", func() (bool, string) {
		cs, err := e.rh.ListConsumersIn("/")
		if err != nil {
			return false, err.Error()
		}
		for _, c := range cs {
			if c.ConsumerTag == tag {
				return c.Queue.Name == q && c.Queue.Vhost == "/" && c.PrefetchCount == 7 && bool(c.AcknowledgementMode) &&
					c.ChannelDetails.ConnectionName == ci.Name && c.ChannelDetails.Number == 1, jsonOf(c)
			}
		}
		return false, "no consumer " + tag
	})
	var detailed struct {
		Consumers       int              `json:"consumers"`
		ConsumerDetails []map[string]any `json:"consumer_details"`
	}
	e.eventually("the queue's consumer_details", func() (bool, string) {
		e.getJSON("/api/queues/%2F/"+esc(q), &detailed)
		return detailed.Consumers == 1 && len(detailed.ConsumerDetails) == 1 &&
			detailed.ConsumerDetails[0]["consumer_tag"] == tag, jsonOf(detailed)
	})

	// DELETE closes the connection with 320 and the X-Reason.
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	code, raw, _ := e.do("DELETE", "/api/connections/"+esc(ci.Name), nil, "X-Reason", "closed by the API test")
	if code != http.StatusNoContent {
		t.Fatalf("DELETE the connection: %d %s", code, raw)
	}
	select {
	case ae := <-closed:
		if ae == nil || ae.Code != amqp.ConnectionForced || ae.Reason != "CONNECTION_FORCED - closed by the API test" {
			t.Fatalf("the connection closed with %v, want 320 CONNECTION_FORCED - closed by the API test", ae)
		}
	case <-timeoutC():
		t.Fatal("the connection stayed open after DELETE")
	}
	e.eventually("the closed connection leaves the listing", func() (bool, string) {
		_, err := e.rh.GetConnection(ci.Name)
		return isStatus(err, http.StatusNotFound), fmt.Sprint(err)
	})
}

func TestCloseConnectionDefaultReason(t *testing.T) {
	e := setup(t)
	connName := e.name("conn")
	conn := e.dial("", amqp.Table{"connection_name": connName})
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	var name string
	e.eventually("the connection is listed", func() (bool, string) {
		cs, err := e.rh.ListConnections()
		if err != nil {
			return false, err.Error()
		}
		for _, c := range cs {
			if c.ClientProperties["connection_name"] == connName {
				name = c.Name
				return true, ""
			}
		}
		return false, "not yet"
	})
	if res, err := e.rh.CloseConnection(name); err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("CloseConnection: %v %v", res, err)
	}
	select {
	case ae := <-closed:
		if ae == nil || ae.Code != amqp.ConnectionForced || ae.Reason != "CONNECTION_FORCED - Closed via management plugin" {
			t.Fatalf("closed with %v, want 320 CONNECTION_FORCED - Closed via management plugin", ae)
		}
	case <-timeoutC():
		t.Fatal("the connection stayed open")
	}
	code, raw, _ := e.do("DELETE", "/api/connections/"+esc(name), nil)
	e.wantError("DELETE a closed connection", code, raw, http.StatusNotFound, "Object Not Found", "Not Found")
}
