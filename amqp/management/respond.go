package management

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/amqp/broker"
)

// Answers and errors as RabbitMQ's management plugin writes them: JSON
// bodies, errors as {"error": kind, "reason": text}.

// maxBody bounds a request body (rabbitmq: 20 MB for definitions; the
// other bodies are small).
const maxBody = 20 << 20

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		writeError(w, http.StatusInternalServerError, "internal_server_error", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	w.Write(bytes.TrimRight(buf.Bytes(), "\n"))
}

func writeError(w http.ResponseWriter, status int, kind, reason string) {
	b, _ := json.Marshal(map[string]string{"error": kind, "reason": reason})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// notFound is RabbitMQ's answer for a path or object that is not there.
func notFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "Object Not Found", "Not Found")
}

func badRequest(w http.ResponseWriter, reason string) {
	writeError(w, http.StatusBadRequest, "bad_request", reason)
}

// noContent answers a change that succeeded (rabbitmq: 204, or 201 for
// a creation).
func noContent(w http.ResponseWriter, created bool) {
	if created {
		w.WriteHeader(http.StatusCreated)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// writeAMQPError maps an error of the core to RabbitMQ's HTTP answer:
// 404 not_found, 401 not_authorised (a reserved name), 400 bad_request
// for the rest of the soft errors, 500 for internal ones. The reason is
// the reply text without its "CODE_NAME - " prefix.
func writeAMQPError(w http.ResponseWriter, err error) {
	if errors.Is(err, broker.ErrValidation) {
		badRequest(w, err.Error()) // rabbitmq: "Validation failed\n\n<reason>\n"
		return
	}
	var ae *amqp.Error
	if !errors.As(err, &ae) {
		writeError(w, http.StatusInternalServerError, "internal_server_error", err.Error())
		return
	}
	reason := ae.Text
	if _, rest, ok := strings.Cut(reason, " - "); ok {
		reason = rest
	}
	switch ae.Code {
	case amqp.NotFound:
		writeError(w, http.StatusNotFound, "not_found", reason)
	case amqp.AccessRefused:
		// rabbitmq: declaring or deleting an amq.* name answers 401.
		writeError(w, http.StatusUnauthorized, "not_authorised", "Access refused.")
	case amqp.InternalError, amqp.ResourceError:
		writeError(w, http.StatusInternalServerError, "internal_server_error", reason)
	default:
		badRequest(w, reason)
	}
}

// decodeBody reads a JSON object into v. An empty body is an empty
// object. On an error it answers 400 as RabbitMQ does and returns false.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		badRequest(w, "cannot read the request body: "+err.Error())
		return false
	}
	if len(raw) > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, "bad_request", "request body too large")
		return false
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		badRequest(w, "not_json")
		return false
	}
	return true
}

// queryBool reads a flag such as if-empty=true.
func queryBool(r *http.Request, name string) bool {
	return r.URL.Query().Get(name) == "true"
}
