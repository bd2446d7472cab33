package management

// Rendering figures as RabbitMQ does: a count beside its
// "<name>_details": {"rate": per second}.

// Which message_stats each kind of object has (rabbitmq 3.10).
func queueStats() []stat {
	return []stat{statPublish, statDeliver, statDeliverNoAck, statGet, statGetNoAck, statGetEmpty,
		statRedeliver, statAck, statDeliverGet}
}

func exchangeStats() []stat { return []stat{statPublishIn, statPublishOut} }

func vhostStats() []stat {
	return []stat{statPublish, statDeliver, statDeliverNoAck, statGet, statGetNoAck, statGetEmpty,
		statRedeliver, statAck, statDeliverGet, statDropUnroutable}
}

func details(rate float64) map[string]any { return map[string]any{"rate": rate} }

// messageStats renders the stats of an object: counts from val (read
// live), rates from the sampler's rate.
func messageStats(stats []stat, val, rate *vec) map[string]any {
	m := make(map[string]any, 2*len(stats))
	for _, st := range stats {
		n := statName(st)
		m[n] = uint64(val[st])
		m[n+"_details"] = details(rate[st])
	}
	return m
}

// putGauges adds messages, messages_ready and messages_unacknowledged
// with their rates (queues, vhosts, queue_totals).
func putGauges(m map[string]any, val, rate *vec) {
	for _, st := range []stat{statMessages, statReady, statUnacked} {
		n := statName(st)
		m[n] = int64(val[st])
		m[n+"_details"] = details(rate[st])
	}
}

// putOctets adds recv_oct and send_oct with their rates (connections,
// vhosts).
func putOctets(m map[string]any, val, rate *vec) {
	for _, st := range []stat{statRecvOct, statSendOct} {
		n := statName(st)
		m[n] = uint64(val[st])
		m[n+"_details"] = details(rate[st])
	}
}
