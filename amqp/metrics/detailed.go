package metrics

import (
	"github.com/warrenmq/warren/amqp/broker"
)

// The families of /metrics/detailed that Warren has data for; RabbitMQ
// ignores the families it does not know, and so does Warren.
var detailedFamilies = []string{
	"queue_coarse_metrics",      // ready, unacked, messages
	"queue_consumer_count",      // consumers
	"queue_metrics",             // consumers, bytes, in memory, paged out
	"connection_coarse_metrics", // bytes in and out
	"connection_metrics",        // channels
	"channel_metrics",           // consumers, unacked, unconfirmed, prefetch
	"channel_exchange_metrics",  // published, confirmed, unroutable
	"channel_queue_metrics",     // delivered, redelivered, get, acked
	"exchange_names",            // rabbitmq_cluster_exchange_name
	"exchange_bindings",         // rabbitmq_cluster_exchange_bindings
	"vhost_status",              // rabbitmq_cluster_vhost_status
}

// collectDetailed sends the families asked for, prefixed
// "rabbitmq_detailed_" (the cluster-wide ones "rabbitmq_cluster_"), for
// the vhosts asked for (all without a vhost parameter), then build_info
// and identity_info, as RabbitMQ does.
func (c *collector) collectDetailed(e *emitter) {
	f := c.families
	srv := c.h.cfg.Server
	d := &emitter{ch: e.ch, prefix: "rabbitmq_detailed_", shared: e.shared, local: e.local}
	cl := &emitter{ch: e.ch, prefix: "rabbitmq_cluster_", shared: e.shared, local: e.local}
	var vhosts []*broker.Vhost
	for _, v := range vhostsSorted(srv.Broker()) {
		if c.vhosts == nil || c.vhosts[v.Name()] {
			vhosts = append(vhosts, v)
		}
	}
	if set := c.queueMetrics(false); set.coarse || set.rest || set.consumers {
		for _, v := range vhosts {
			for _, q := range v.Queues() {
				qs := set
				if _, isStream := asStream(v, &q); isStream {
					qs.rest = false // rabbitmq: no byte/RAM series for a stream
				}
				emitQueue(d, q, qs, false)
			}
		}
	}
	if f["connection_coarse_metrics"] || f["connection_metrics"] {
		for _, cn := range srv.Connections() {
			if !c.wantVhost(cn.Vhost) {
				continue
			}
			if f["connection_coarse_metrics"] {
				d.emit(mConnectionBytes, lChannel, float64(cn.BytesIn), cn.Name)
				d.emit(mConnectionOut, lChannel, float64(cn.BytesOut), cn.Name)
			}
			if f["connection_metrics"] {
				d.emit(mConnChannels, lChannel, float64(cn.Channels), cn.Name)
			}
		}
	}
	if f["channel_metrics"] || f["channel_exchange_metrics"] || f["channel_queue_metrics"] {
		chans := srv.Channels()
		for i := range chans {
			ci := &chans[i]
			if !c.wantVhost(ci.Vhost) {
				continue
			}
			if f["channel_metrics"] {
				emitChannel(d, ci)
			}
			if f["channel_exchange_metrics"] {
				emitChannelExchanges(d, ci)
			}
			if f["channel_queue_metrics"] {
				emitChannelQueues(d, ci)
			}
		}
	}
	if f["exchange_names"] || f["exchange_bindings"] {
		for _, v := range vhosts {
			var bound map[string]int
			if f["exchange_bindings"] {
				bound = map[string]int{}
				for _, b := range v.Bindings() {
					bound[b.Source]++
				}
			}
			for _, x := range v.Exchanges() {
				if x.Name == "" {
					continue // rabbitmq: the default exchange is not listed
				}
				if f["exchange_names"] {
					cl.emit(mExchangeName, lExchange, 1, x.Vhost, x.Name, x.Kind)
				}
				if f["exchange_bindings"] {
					cl.emit(mExchangeBindings, lExchange, float64(bound[x.Name]), x.Vhost, x.Name, x.Kind)
				}
			}
		}
	}
	if f["vhost_status"] {
		for _, v := range vhosts {
			cl.emit(mVhostStatus, lVhost, 1, v.Name())
		}
	}
	c.collectIdentity(e)
}

func (c *collector) wantVhost(v string) bool { return c.vhosts == nil || c.vhosts[v] }
