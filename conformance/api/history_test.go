package api

import (
	"fmt"
	"testing"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	amqp "github.com/rabbitmq/amqp091-go"
)

// historyQuery asks for the last minute at 5 s, as RabbitMQ's UI asks
// for its charts (it asks 600 s; 60 s keeps the answer short).
const historyQuery = "lengths_age=60&lengths_incr=5&msg_rates_age=60&msg_rates_incr=5"

// details is a *_details object with its sampled history.
type details struct {
	Rate    *float64 `json:"rate"`
	AvgRate *float64 `json:"avg_rate"`
	Avg     *float64 `json:"avg"`
	Samples []struct {
		Sample    *float64 `json:"sample"`
		Timestamp *int64   `json:"timestamp"`
	} `json:"samples"`
}

// check says what is wrong with d, a history of the last 60 s at 5 s
// whose newest sample should be newest ("" if right).
func (d *details) check(newest float64) string {
	if d.Rate == nil {
		return "no rate"
	}
	if len(d.Samples) == 0 || len(d.Samples) > 60/5+1 {
		return fmt.Sprintf("%d samples, want 1 to 13", len(d.Samples))
	}
	var last int64
	for i, s := range d.Samples {
		if s.Sample == nil || s.Timestamp == nil {
			return fmt.Sprintf("sample %d lacks sample or timestamp", i)
		}
		if *s.Timestamp%5000 != 0 {
			return fmt.Sprintf("sample %d at %d ms, not a multiple of 5 s", i, *s.Timestamp)
		}
		if i > 0 && *s.Timestamp >= last {
			return fmt.Sprintf("sample %d at %d not older than the one before (%d): want newest first", i, *s.Timestamp, last)
		}
		last = *s.Timestamp
	}
	if *d.Samples[0].Sample != newest {
		return fmt.Sprintf("newest sample %v, want %v", *d.Samples[0].Sample, newest)
	}
	if (len(d.Samples) > 1) != (d.AvgRate != nil && d.Avg != nil) {
		return fmt.Sprintf("%d samples with avg_rate %v and avg %v: want both exactly when there are two samples or more", len(d.Samples), d.AvgRate, d.Avg)
	}
	return ""
}

// TestSampledHistory: ?lengths_age=&lengths_incr=&msg_rates_age=&msg_rates_incr=
// on a queue and the overview answer "samples" (newest first, on 5 s
// boundaries), "avg_rate" and "avg" beside each rate: the queue's
// lengths sample the message counts, its message_stats the counters.
func TestSampledHistory(t *testing.T) {
	e := setup(t)
	q := e.name("history")
	e.cleanupQueue(q)
	if _, err := e.rh.DeclareQueue("/", q, rabbithole.QueueSettings{}); err != nil {
		t.Fatal(err)
	}
	ch := e.channel()
	for range 3 {
		if err := ch.Publish("", q, false, false, amqp.Publishing{Body: []byte("h")}); err != nil {
			t.Fatal(err)
		}
	}
	var qi struct {
		Messages        details `json:"messages_details"`
		MessagesReady   details `json:"messages_ready_details"`
		MessagesUnacked details `json:"messages_unacknowledged_details"`
		MessageStats    struct {
			Publish details `json:"publish_details"`
		} `json:"message_stats"`
	}
	// Two samples or more: the history of a queue that is being watched.
	e.eventually("the queue's sampled history", func() (bool, string) {
		e.getJSON("/api/queues/%2F/"+esc(q)+"?"+historyQuery, &qi)
		for what, why := range map[string]string{
			"messages_details":                qi.Messages.check(3),
			"messages_ready_details":          qi.MessagesReady.check(3),
			"messages_unacknowledged_details": qi.MessagesUnacked.check(0),
			"message_stats.publish_details":   qi.MessageStats.Publish.check(3),
		} {
			if why != "" {
				return false, what + ": " + why
			}
		}
		if len(qi.Messages.Samples) < 2 {
			return false, fmt.Sprintf("%d samples of messages_details, want 2 or more", len(qi.Messages.Samples))
		}
		return true, ""
	})
	var plain struct {
		Messages struct {
			Samples []any `json:"samples"`
		} `json:"messages_details"`
	}
	e.getJSON("/api/queues/%2F/"+esc(q), &plain)
	if plain.Messages.Samples != nil {
		t.Errorf("a queue asked for without ages has samples: %v", plain.Messages.Samples)
	}

	var ov struct {
		QueueTotals struct {
			Messages details `json:"messages_details"`
		} `json:"queue_totals"`
		MessageStats struct {
			Publish details `json:"publish_details"`
		} `json:"message_stats"`
	}
	e.eventually("the overview's sampled history", func() (bool, string) {
		e.getJSON("/api/overview?"+historyQuery, &ov)
		// Other tests publish meanwhile: the newest figures are read back
		// from the answer, the shape is what is checked.
		for what, d := range map[string]*details{"queue_totals.messages_details": &ov.QueueTotals.Messages, "message_stats.publish_details": &ov.MessageStats.Publish} {
			if len(d.Samples) == 0 || d.Samples[0].Sample == nil {
				return false, what + ": no samples"
			}
			if why := d.check(*d.Samples[0].Sample); why != "" {
				return false, what + ": " + why
			}
			if len(d.Samples) < 2 {
				return false, what + ": one sample, want 2 or more"
			}
		}
		return true, ""
	})
}
