package console

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed web
var files embed.FS

// Handler serves the console's files: "/" is web/index.html, "/js/app.js"
// is web/js/app.js. Only GET and HEAD; any other method is a 405. The
// files are compiled in, so the handler holds no state and needs no disk.
func Handler() http.Handler {
	web, err := fs.Sub(files, "web")
	if err != nil {
		panic(err) // the embedded tree always has web/
	}
	fsrv := http.FileServerFS(web)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path != "/" && strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		h := w.Header()
		// The console is one origin's own files: no framing by others,
		// no scripts or styles from anywhere else (it works offline).
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		if r.URL.Path == "/" || strings.HasSuffix(r.URL.Path, ".html") {
			h.Set("Cache-Control", "no-cache")
		}
		fsrv.ServeHTTP(w, r)
	})
}

// FromConsole reports whether r was sent by the console's scripts (they
// set X-Requested-With: warren-console). The API leaves out its
// WWW-Authenticate challenge for them, so a wrong password shows the
// console's own error instead of the browser's login dialog.
func FromConsole(r *http.Request) bool {
	return r.Header.Get("X-Requested-With") == "warren-console"
}
