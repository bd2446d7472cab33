package api

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	amqp "github.com/rabbitmq/amqp091-go"
)

// The fields Warren answers with, each of them also in RabbitMQ 3.10's
// answer: run against RabbitMQ, this test proves every name here is
// RabbitMQ's; run against Warren, that Warren has them all. (RabbitMQ has
// more: the doc of amqp/management and the report list what is left out.)
var shapes = map[string][]string{
	"queue": {"arguments", "auto_delete", "consumers", "durable", "effective_policy_definition", "exclusive",
		"exclusive_consumer_tag", "head_message_timestamp", "message_bytes", "message_bytes_ready",
		"message_bytes_unacknowledged", "message_stats", "message_stats.publish", "message_stats.publish_details.rate",
		"message_stats.deliver_get", "message_stats.get", "message_stats.get_empty", "message_stats.ack",
		"message_stats.redeliver", "message_stats.deliver", "message_stats.deliver_no_ack", "message_stats.get_no_ack",
		"messages", "messages_details.rate", "messages_paged_out", "messages_ram", "messages_ready",
		"messages_ready_details.rate", "messages_ready_ram", "messages_unacknowledged", "messages_unacknowledged_details.rate",
		"messages_unacknowledged_ram", "name", "node", "operator_policy", "policy", "single_active_consumer_tag",
		"state", "type", "vhost", "consumer_details", "deliveries", "incoming"},
	"exchange": {"arguments", "auto_delete", "durable", "internal", "name", "type", "user_who_performed_action", "vhost",
		"message_stats.publish_in", "message_stats.publish_in_details.rate", "message_stats.publish_out",
		"message_stats.publish_out_details.rate", "incoming", "outgoing"},
	"vhost": {"name", "description", "tags", "metadata.description", "metadata.tags", "default_queue_type", "tracing",
		"cluster_state", "messages", "messages_details.rate", "messages_ready", "messages_ready_details.rate",
		"messages_unacknowledged", "messages_unacknowledged_details.rate", "message_stats.publish",
		"message_stats.publish_details.rate", "recv_oct", "recv_oct_details.rate", "send_oct", "send_oct_details.rate"},
	"binding": {"source", "vhost", "destination", "destination_type", "routing_key", "arguments", "properties_key"},
	"connection": {"name", "node", "vhost", "user", "user_who_performed_action", "state", "channels", "channel_max",
		"frame_max", "timeout", "connected_at", "client_properties", "host", "port", "peer_host", "peer_port",
		"protocol", "type", "ssl", "peer_cert_issuer", "peer_cert_subject", "peer_cert_validity", "user_provided_name",
		"recv_oct", "recv_oct_details.rate", "send_oct", "send_oct_details.rate"},
	"channel": {"name", "node", "number", "user", "vhost", "connection_details.name", "connection_details.peer_host",
		"connection_details.peer_port", "confirm", "transactional", "consumer_count", "messages_unacknowledged",
		"messages_unconfirmed", "messages_uncommitted", "acks_uncommitted", "global_prefetch_count", "prefetch_count",
		"state", "user_who_performed_action"},
	"consumer": {"consumer_tag", "queue.name", "queue.vhost", "channel_details.name", "channel_details.number",
		"channel_details.connection_name", "channel_details.peer_host", "channel_details.peer_port",
		"channel_details.user", "channel_details.node", "ack_required", "exclusive", "prefetch_count", "arguments",
		"active", "activity_status"},
	"overview": {"management_version", "rates_mode", "sample_retention_policies", "exchange_types", "product_version",
		"product_name", "rabbitmq_version", "cluster_name", "erlang_version", "erlang_full_version", "disable_stats",
		"enable_queue_totals", "message_stats", "queue_totals.messages", "queue_totals.messages_details.rate",
		"queue_totals.messages_ready", "queue_totals.messages_unacknowledged", "object_totals.channels",
		"object_totals.connections", "object_totals.consumers", "object_totals.exchanges", "object_totals.queues",
		"statistics_db_event_queue", "node", "listeners", "contexts"},
	"node": {"name", "type", "running", "uptime", "os_pid", "processors", "rates_mode", "run_queue", "mem_used",
		"mem_limit", "mem_alarm", "proc_used", "proc_total", "sockets_used", "sockets_total", "fd_used", "fd_total",
		"disk_free", "disk_free_limit", "disk_free_alarm", "partitions", "exchange_types", "auth_mechanisms",
		"applications", "enabled_plugins", "cluster_links", "net_ticktime", "gc_num", "db_dir", "config_files",
		"log_files", "metrics_gc_queue_length"},
}

// missingFields lists the dotted paths of want that m lacks.
func missingFields(m map[string]any, want []string) []string {
	var missing []string
	for _, path := range want {
		var v any = m
		for _, k := range strings.Split(path, ".") {
			mm, ok := v.(map[string]any)
			if !ok {
				v = nil
				break
			}
			if v, ok = mm[k]; !ok {
				missing = append(missing, path)
				break
			}
		}
	}
	return missing
}

func TestJSONFieldsAreRabbitMQs(t *testing.T) {
	e := setup(t)
	x, q := e.name("x"), e.name("q")
	e.cleanupExchange(x)
	e.cleanupQueue(q)
	if _, err := e.rh.DeclareExchange("/", x, rabbithole.ExchangeSettings{Type: "fanout"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rh.DeclareQueue("/", q, rabbithole.QueueSettings{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rh.DeclareBinding("/", rabbithole.BindingInfo{Source: x, Destination: q, DestinationType: "queue"}); err != nil {
		t.Fatal(err)
	}
	connName := e.name("conn")
	conn := e.dial("", amqp.Table{"connection_name": connName})
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	tag := e.name("tag")
	if _, err := ch.Consume(q, tag, false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	// Traffic, so that message_stats exist on RabbitMQ too.
	if err := ch.Publish(x, "", false, false, amqp.Publishing{Body: []byte("m")}); err != nil {
		t.Fatal(err)
	}

	check := func(kind string, fetch func() (map[string]any, string)) {
		t.Helper()
		e.eventually(kind+" has RabbitMQ's fields", func() (bool, string) {
			m, why := fetch()
			if m == nil {
				return false, why
			}
			if missing := missingFields(m, shapes[kind]); len(missing) > 0 {
				return false, fmt.Sprintf("missing %v in %s", missing, jsonOf(m))
			}
			return true, ""
		})
	}
	get := func(path string) map[string]any {
		var m map[string]any
		e.getJSON(path, &m)
		return m
	}
	find := func(path string, match func(map[string]any) bool) (map[string]any, string) {
		var items []map[string]any
		e.getJSON(path, &items)
		if i := slices.IndexFunc(items, match); i >= 0 {
			return items[i], ""
		}
		return nil, "not listed yet"
	}
	check("queue", func() (map[string]any, string) { return get("/api/queues/%2F/" + esc(q)), "" })
	check("exchange", func() (map[string]any, string) { return get("/api/exchanges/%2F/" + esc(x)), "" })
	check("vhost", func() (map[string]any, string) { return get("/api/vhosts/%2F"), "" })
	check("binding", func() (map[string]any, string) {
		return find("/api/bindings/%2F/e/"+esc(x)+"/q/"+esc(q), func(map[string]any) bool { return true })
	})
	check("connection", func() (map[string]any, string) {
		return find("/api/connections", func(m map[string]any) bool { return m["user_provided_name"] == connName })
	})
	check("channel", func() (map[string]any, string) {
		return find("/api/channels", func(m map[string]any) bool {
			cd, _ := m["connection_details"].(map[string]any)
			c, _ := e.rh.ListConnections()
			for _, ci := range c {
				if ci.ClientProperties["connection_name"] == connName && cd != nil && cd["name"] == ci.Name {
					return true
				}
			}
			return false
		})
	})
	check("consumer", func() (map[string]any, string) {
		return find("/api/consumers/%2F", func(m map[string]any) bool { return m["consumer_tag"] == tag })
	})
	check("overview", func() (map[string]any, string) { return get("/api/overview"), "" })
	check("node", func() (map[string]any, string) {
		return find("/api/nodes", func(map[string]any) bool { return true })
	})
}
