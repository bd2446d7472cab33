package management

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/warrenmq/warren/amqp/broker"
)

// Definitions: /api/definitions (GET: the whole broker's export; POST:
// import) and /api/definitions/{vhost} (one vhost's), administrators
// only. A POST body is the JSON file itself (rabbitmqadmin, rabbit-hole)
// or a multipart/form-data upload with the file in the field "file" (the
// RabbitMQ UI's form). Import is all or nothing (broker.Import): a bad
// file answers 400 with the error naming the bad entry, and changes
// nothing. ?download=NAME answers the export as an attachment.

func (s *Server) writeDefinitions(w http.ResponseWriter, r *http.Request, d any) {
	raw, err := broker.MarshalDefinitions(d)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal_server_error", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	if name := r.URL.Query().Get("download"); name != "" {
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	}
	w.WriteHeader(http.StatusOK)
	w.Write(bytes.TrimRight(raw, "\n"))
}

func (s *Server) getDefinitions(w http.ResponseWriter, r *http.Request) {
	s.writeDefinitions(w, r, s.b.Export(s.cfg.Version))
}

// vhostOfDefinitions checks /api/definitions/{vhost}'s vhost (rabbitmq:
// a missing one is a 400, vhost_not_found).
func (s *Server) vhostOfDefinitions(w http.ResponseWriter, r *http.Request, vh string) bool {
	if s.b.Vhost(vh) == nil {
		badRequest(w, "vhost_not_found")
		return false
	}
	return s.defVhost(w, r, vh)
}

func (s *Server) getVhostDefinitions(w http.ResponseWriter, r *http.Request) {
	vh := vhostParam(r)
	if !s.vhostOfDefinitions(w, r, vh) {
		return
	}
	s.writeDefinitions(w, r, s.b.Vhost(vh).Export())
}

// definitionsBody reads the file of an import: the body, or the "file"
// field of a multipart form.
func definitionsBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	var src io.Reader = r.Body
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); strings.HasPrefix(ct, "multipart/") {
		f, _, err := r.FormFile("file")
		if err != nil {
			badRequest(w, "the upload has no field 'file': "+err.Error())
			return nil, false
		}
		defer f.Close()
		src = f
	}
	raw, err := io.ReadAll(src)
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "bad_request", "cannot read the definitions: "+err.Error())
		return nil, false
	}
	return raw, true
}

func (s *Server) postDefinitions(w http.ResponseWriter, r *http.Request) {
	vh := vhostParam(r)
	if vh != "" && !s.vhostOfDefinitions(w, r, vh) {
		return
	}
	raw, ok := definitionsBody(w, r)
	if !ok {
		return
	}
	if err := s.b.Import(raw, vh); err != nil {
		writeAMQPError(w, err)
		return
	}
	noContent(w, false)
}
