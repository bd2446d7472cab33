package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	amqp "github.com/rabbitmq/amqp091-go"
)

func TestVhostLifecycle(t *testing.T) {
	e := setup(t)
	vh := e.name("vhost")
	res, err := e.rh.PutVhost(vh, rabbithole.VhostSettings{Description: "made by the API test"})
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("PutVhost: %v %v, want 201", res, err)
	}
	t.Cleanup(func() { e.rh.DeleteVhost(vh) })
	if res, err := e.rh.PutVhost(vh, rabbithole.VhostSettings{}); err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("PutVhost again: %v %v, want 204", res, err)
	}
	info, err := e.rh.GetVhost(vh)
	if err != nil || info.Name != vh {
		t.Fatalf("GetVhost: %+v %v", info, err)
	}
	vs, err := e.rh.ListVhosts()
	if err != nil || !slices.ContainsFunc(vs, func(v rabbithole.VhostInfo) bool { return v.Name == vh }) {
		t.Fatalf("ListVhosts has no %q: %v", vh, err)
	}

	// The vhost is there for AMQP clients too, and its queues are its own.
	conn := e.dial(vh, nil)
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("in-vhost", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	qs, err := e.rh.ListQueuesIn(vh)
	if err != nil || len(qs) != 1 || qs[0].Name != "in-vhost" || qs[0].Vhost != vh {
		t.Fatalf("ListQueuesIn(%q): %+v %v, want just in-vhost", vh, qs, err)
	}

	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	if res, err := e.rh.DeleteVhost(vh); err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("DeleteVhost: %v %v, want 204", res, err)
	}
	// rabbitmq: the vhost's connections are closed with it.
	select {
	case ae := <-closed:
		// RabbitMQ sends 320 and, as often as not, resets the socket
		// before the client reads it (seen against 3.10.8): any closing
		// error will do there; Warren's close is always the 320.
		if ae == nil || (e.warren && ae.Code != amqp.ConnectionForced) {
			t.Errorf("the vhost's connection closed with %v, want 320", ae)
		}
	case <-timeoutC():
		t.Fatal("the vhost's connection stayed open after DELETE /api/vhosts")
	}
	if _, err := e.rh.GetVhost(vh); !isStatus(err, http.StatusNotFound) {
		t.Errorf("GetVhost after delete: %v, want 404", err)
	}
	if c, err := e.dialErr(vh, nil); err == nil {
		c.Close()
		t.Errorf("AMQP opened the deleted vhost %q", vh)
	}
	code, raw, _ := e.do("DELETE", "/api/vhosts/"+esc(vh), nil)
	e.wantError("DELETE a missing vhost", code, raw, http.StatusNotFound, "Object Not Found", "Not Found")
}

func TestQueueDeclareListPurgeDelete(t *testing.T) {
	e := setup(t)
	q := e.name("queue")
	e.cleanupQueue(q)
	res, err := e.rh.DeclareQueue("/", q, rabbithole.QueueSettings{Durable: true, Arguments: map[string]any{"x-max-length": 5}})
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("DeclareQueue: %v %v, want 201", res, err)
	}
	if res, err := e.rh.DeclareQueue("/", q, rabbithole.QueueSettings{Durable: true, Arguments: map[string]any{"x-max-length": 5}}); err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("DeclareQueue again: %v %v, want 204", res, err)
	}

	// Over AMQP the queue is there, durable, with its argument: an
	// equivalent declare passes, another is refused.
	ch := e.channel()
	if _, err := ch.QueueDeclare(q, true, false, false, false, amqp.Table{"x-max-length": int64(5)}); err != nil {
		t.Fatalf("equivalent AMQP declare: %v", err)
	}
	if _, err := ch.QueueDeclare(q, false, false, false, false, amqp.Table{"x-max-length": int64(5)}); amqpCode(err) != amqp.PreconditionFailed {
		t.Fatalf("non-durable AMQP declare: %v, want 406", err)
	}
	ch = e.channel()
	for i := range 3 {
		if err := ch.Publish("", q, false, false, amqp.Publishing{Body: []byte{byte('a' + i)}}); err != nil {
			t.Fatal(err)
		}
	}
	e.eventually("GET /api/queues/{v}/{q} shows 3 messages", func() (bool, string) {
		info, err := e.rh.GetQueue("/", q)
		if err != nil {
			return false, err.Error()
		}
		return info.Messages == 3 && info.MessagesReady == 3 && info.Durable && info.Arguments["x-max-length"] == float64(5),
			jsonOf(info)
	})
	qs, err := e.rh.ListQueuesIn("/")
	if err != nil || !slices.ContainsFunc(qs, func(i rabbithole.QueueInfo) bool { return i.Name == q && i.Vhost == "/" }) {
		t.Fatalf("ListQueuesIn(/) has no %q: %v", q, err)
	}

	code, raw, _ := e.do("DELETE", "/api/queues/%2F/"+esc(q)+"?if-empty=true", nil)
	e.wantError("DELETE if-empty of a queue with messages", code, raw, http.StatusBadRequest, "bad_request",
		"queue '"+q+"' in vhost '/' not empty")

	if res, err := e.rh.PurgeQueue("/", q); err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("PurgeQueue: %v %v, want 204", res, err)
	}
	if st, err := ch.QueueDeclarePassive(q, true, false, false, false, nil); err != nil || st.Messages != 0 {
		t.Fatalf("after the purge AMQP counts %d messages (%v), want 0", st.Messages, err)
	}

	if res, err := e.rh.DeleteQueue("/", q); err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("DeleteQueue: %v %v, want 204", res, err)
	}
	if _, err := ch.QueueDeclarePassive(q, true, false, false, false, nil); amqpCode(err) != amqp.NotFound {
		t.Fatalf("passive declare after DeleteQueue: %v, want 404", err)
	}
	if _, err := e.rh.GetQueue("/", q); !isStatus(err, http.StatusNotFound) {
		t.Fatalf("GetQueue after delete: %v, want 404", err)
	}
}

func TestQueueDeclaredOverAMQPIsListed(t *testing.T) {
	e := setup(t)
	q := e.name("amqp-queue")
	e.cleanupQueue(q)
	ch := e.channel()
	if _, err := ch.QueueDeclare(q, false, true, false, false, amqp.Table{"x-message-ttl": int64(60000)}); err != nil {
		t.Fatal(err)
	}
	info, err := e.rh.GetQueue("/", q)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != q || info.Vhost != "/" || info.Durable || !bool(info.AutoDelete) || info.Type != "classic" ||
		info.Arguments["x-message-ttl"] != float64(60000) {
		t.Fatalf("GetQueue: %s", jsonOf(info))
	}
}

func TestExchangeDeclareBindPublishDelete(t *testing.T) {
	e := setup(t)
	x, q := e.name("topic"), e.name("bound")
	e.cleanupExchange(x)
	e.cleanupQueue(q)
	res, err := e.rh.DeclareExchange("/", x, rabbithole.ExchangeSettings{Type: "topic", Durable: true})
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("DeclareExchange: %v %v, want 201", res, err)
	}
	ch := e.channel()
	if err := ch.ExchangeDeclarePassive(x, "topic", true, false, false, false, nil); err != nil {
		t.Fatalf("AMQP passive declare of the API's exchange: %v", err)
	}
	ch = e.channel()
	if _, err := ch.QueueDeclare(q, false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	info, err := e.rh.GetExchange("/", x)
	if err != nil || info.Name != x || info.Type != "topic" || !info.Durable || info.Vhost != "/" {
		t.Fatalf("GetExchange: %+v %v", info, err)
	}

	res, err = e.rh.DeclareBinding("/", rabbithole.BindingInfo{Source: x, Destination: q, DestinationType: "queue",
		RoutingKey: "a.*", Arguments: map[string]any{"k": "v"}})
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("DeclareBinding: %v %v, want 201", res, err)
	}
	loc := res.Header.Get("Location")
	bs, err := e.rh.ListQueueBindingsBetween("/", x, q)
	if err != nil || len(bs) != 1 || bs[0].RoutingKey != "a.*" || bs[0].Arguments["k"] != "v" || bs[0].PropertiesKey == "" {
		t.Fatalf("ListQueueBindingsBetween: %+v %v", bs, err)
	}
	// rabbitmq: the Location names the destination and the properties key.
	if !strings.HasSuffix(loc, "/"+strings.ReplaceAll(esc(bs[0].PropertiesKey), "+", "%2B")) {
		t.Errorf("Location %q does not end with the properties key %q", loc, bs[0].PropertiesKey)
	}
	var one map[string]any
	e.getJSON("/api/bindings/%2F/e/"+esc(x)+"/q/"+esc(q)+"/"+esc(bs[0].PropertiesKey), &one)
	if one["routing_key"] != "a.*" || one["destination_type"] != "queue" {
		t.Errorf("GET the binding by its properties key: %v", one)
	}
	src, err := e.rh.ListExchangeBindingsWithSource("/", x)
	if err != nil || len(src) != 1 || src[0].Destination != q {
		t.Errorf("bindings/source: %+v %v", src, err)
	}
	qb, err := e.rh.ListQueueBindings("/", q)
	if err != nil || len(qb) != 2 || qb[0].Source != "" || qb[1].Source != x {
		t.Errorf("queue bindings (the default exchange's, then %q): %+v %v", x, qb, err)
	}

	if routed := e.publish(x, "a.b", map[string]any{"payload": "hello", "payload_encoding": "string",
		"properties": map[string]any{"headers": map[string]any{"h": "1"}, "content_type": "text/plain"}}); !routed {
		t.Fatal("publish to a.b: routed false, want true")
	}
	d, ok, err := ch.Get(q, true)
	if err != nil || !ok || string(d.Body) != "hello" || d.RoutingKey != "a.b" || d.Exchange != x ||
		d.ContentType != "text/plain" || d.Headers["h"] != "1" {
		t.Fatalf("AMQP get of the API's message: %+v %v %v", d, ok, err)
	}
	if routed := e.publish(x, "z", map[string]any{"payload": "", "payload_encoding": "string", "properties": map[string]any{}}); routed {
		t.Error("publish to z: routed true, want false")
	}

	code, raw, _ := e.do("DELETE", "/api/exchanges/%2F/"+esc(x)+"?if-unused=true", nil)
	e.wantError("DELETE if-unused of a bound exchange", code, raw, http.StatusBadRequest, "bad_request",
		"exchange '"+x+"' in vhost '/' in use")

	if res, err := e.rh.DeleteBinding("/", bs[0]); err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("DeleteBinding: %v %v, want 204", res, err)
	}
	if routed := e.publish(x, "a.b", map[string]any{"payload": "", "payload_encoding": "string", "properties": map[string]any{}}); routed {
		t.Error("publish after DeleteBinding: routed true, want false")
	}
	if res, err := e.rh.DeleteExchange("/", x); err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("DeleteExchange: %v %v", res, err)
	}
	if err := ch.ExchangeDeclarePassive(x, "topic", true, false, false, false, nil); amqpCode(err) != amqp.NotFound {
		t.Fatalf("AMQP passive declare after DeleteExchange: %v, want 404", err)
	}
}

func TestExchangeToExchangeBinding(t *testing.T) {
	e := setup(t)
	src, dst, q := e.name("src"), e.name("dst"), e.name("q")
	e.cleanupExchange(src)
	e.cleanupExchange(dst)
	e.cleanupQueue(q)
	for _, x := range []string{src, dst} {
		if _, err := e.rh.DeclareExchange("/", x, rabbithole.ExchangeSettings{Type: "fanout"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.rh.DeclareQueue("/", q, rabbithole.QueueSettings{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rh.DeclareBinding("/", rabbithole.BindingInfo{Source: dst, Destination: q, DestinationType: "queue"}); err != nil {
		t.Fatal(err)
	}
	res, err := e.rh.DeclareBinding("/", rabbithole.BindingInfo{Source: src, Destination: dst, DestinationType: "exchange", RoutingKey: "k"})
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("exchange-to-exchange DeclareBinding: %v %v", res, err)
	}
	bs, err := e.rh.ListExchangeBindingsWithDestination("/", dst)
	if err != nil || len(bs) != 1 || bs[0].Source != src || bs[0].DestinationType != "exchange" {
		t.Fatalf("bindings/destination of %q: %+v %v", dst, bs, err)
	}
	ch := e.channel()
	if err := ch.Publish(src, "any", false, false, amqp.Publishing{Body: []byte("through")}); err != nil {
		t.Fatal(err)
	}
	e.eventually("the message reaches the queue through both exchanges", func() (bool, string) {
		d, ok, err := ch.Get(q, true)
		if err != nil {
			return false, err.Error()
		}
		return ok && string(d.Body) == "through", "nothing yet"
	})
}

// publish POSTs to /api/exchanges/%2F/{x}/publish (amq.default for "")
// and returns routed.
func (e *env) publish(x, key string, body map[string]any) bool {
	e.t.Helper()
	if x == "" {
		x = "amq.default"
	}
	body["routing_key"] = key
	var out struct {
		Routed *bool `json:"routed"`
	}
	code, raw, _ := e.do("POST", "/api/exchanges/%2F/"+esc(x)+"/publish", body)
	if code != http.StatusOK || jsonInto(raw, &out) != nil || out.Routed == nil {
		e.t.Fatalf("publish to %q: %d %s", x, code, raw)
	}
	return *out.Routed
}

// TestStringBooleans: rabbitmqadmin sends flags as strings ("true"),
// and RabbitMQ takes them.
func TestStringBooleans(t *testing.T) {
	e := setup(t)
	q, x := e.name("q"), e.name("x")
	e.cleanupQueue(q)
	e.cleanupExchange(x)
	if code, raw, _ := e.do("PUT", "/api/queues/%2F/"+esc(q), `{"durable":"true","auto_delete":"false","arguments":{}}`); code != http.StatusCreated {
		t.Fatalf("PUT a queue with string flags: %d %s", code, raw)
	}
	if code, raw, _ := e.do("PUT", "/api/exchanges/%2F/"+esc(x), `{"type":"fanout","durable":"false","auto_delete":"false","internal":"false"}`); code != http.StatusCreated {
		t.Fatalf("PUT an exchange with string flags: %d %s", code, raw)
	}
	ch := e.channel()
	if _, err := ch.QueueDeclarePassive(q, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(q, true, false, false, false, nil); err != nil {
		t.Fatalf("the queue is durable over AMQP: %v", err)
	}
	if err := ch.ExchangeDeclare(x, "fanout", false, false, false, false, nil); err != nil {
		t.Fatalf("the exchange is transient over AMQP: %v", err)
	}
}
