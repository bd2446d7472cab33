package management

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/amqp/broker"
)

// Moving messages out of a queue (Warren's own: RabbitMQ has no such
// endpoint; its shovel plugin moves messages from the console). The
// dead-letter workflow: look at what failed, fix, replay.
//
//	POST /api/queues/{v}/{q}/actions/move
//	  {"destination": {"queue":"q2"}
//	                | {"exchange":"x","routing_key":"k"}
//	                | "origin",
//	   "count": n (omitted or 0: the messages the queue holds now),
//	   "copy": bool (leave the source's messages in place)}
//	  -> 200 {"moved":n,"unroutable":n,"no_origin":n}
//
// "origin" sends each message back to the exchange and routing keys of
// its newest x-death entry. Messages keep their properties, x-death
// included. Each batch is published, and made durable where the
// destination persists it, before it is acked on the source: a crash
// midway may duplicate messages, never lose them. A destination that
// does not exist is a 400; a failure after some batches went through is
// a 500 whose reason says how many were moved.

type moveBody struct {
	Destination json.RawMessage `json:"destination"`
	Count       *json.Number    `json:"count"`
	Copy        bool            `json:"copy"`
}

type moveDest struct {
	Queue      *string `json:"queue"`
	Exchange   *string `json:"exchange"`
	RoutingKey string  `json:"routing_key"`
}

func (s *Server) moveMessages(w http.ResponseWriter, r *http.Request) {
	v, sq, ok := s.vhostQueue(w, r)
	if !ok {
		return
	}
	q := sq.Name
	var body moveBody
	if !decodeBody(w, r, &body) {
		return
	}
	m := broker.Move{Source: q, Copy: body.Copy}
	if body.Count != nil {
		n, err := body.Count.Int64()
		if err != nil || n < 0 || n > 1<<31 {
			badRequest(w, "count must be a non-negative integer")
			return
		}
		m.Count = int(n)
	}
	const destHelp = `destination must be {"queue":name}, {"exchange":name,"routing_key":key} or "origin"`
	var origin string
	var d moveDest
	switch {
	case len(body.Destination) == 0:
		badRequest(w, "[{key_missing,destination}]")
		return
	case json.Unmarshal(body.Destination, &origin) == nil:
		if origin != "origin" {
			badRequest(w, destHelp)
			return
		}
		m.To.Origin = true
	case json.Unmarshal(body.Destination, &d) == nil && (d.Queue == nil) != (d.Exchange == nil):
		if d.Queue != nil {
			m.To.Queue = *d.Queue
		} else {
			m.To.Exchange, m.To.HasExch, m.To.RoutingKey = exchangeName(*d.Exchange), true, d.RoutingKey
			if len(d.RoutingKey) > 255 {
				// spec 0-9-1: a routing key is a shortstr.
				badRequest(w, "routing key is longer than 255 bytes")
				return
			}
		}
	default:
		badRequest(w, destHelp)
		return
	}
	res, err := v.Move(m)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, res)
	case errors.Is(err, broker.ErrMoveDestination):
		var ae *amqp.Error
		errors.As(err, &ae)
		_, reason, _ := strings.Cut(ae.Text, " - ")
		badRequest(w, "destination: "+reason)
	case res.Moved+res.Unroutable+res.NoOrigin > 0:
		writeError(w, http.StatusInternalServerError, "internal_server_error", err.Error()+" (moved before the failure: "+strconv.Itoa(res.Moved)+")")
	default:
		writeAMQPError(w, err)
	}
}

// exchangeName maps amq.default to the default exchange, as the paths do.
func exchangeName(x string) string {
	if x == "amq.default" {
		return ""
	}
	return x
}
