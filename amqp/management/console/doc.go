// Package console is Warren's web console: plain HTML, CSS and JavaScript
// files (web/), compiled into the binary with go:embed and served by the
// management listener at "/" beside the API at "/api" (routes.go of
// amqp/management). It works offline: no CDN, no web fonts, no npm; the
// charts are its own canvas code (web/js/chart.js).
//
// # Map
//
//	console.go            Handler (the embedded files), FromConsole
//	web/index.html        the shell: header, page links, <main>
//	web/app.css           the look (system fonts; readable at 1366x768)
//	web/js/app.js         login, the hash router (#/page/arg...), the 5 s
//	                      refresh, keyboard shortcuts ("/", "g" + letter)
//	web/js/api.js         fetch of /api with the user's basic credentials
//	web/js/ui.js          DOM builders; tables updated in place by key
//	web/js/chart.js       canvas line charts; the 10-minute History, seeded
//	                      from the API's sampled history
//	web/js/forms.js       publish, bind, bindings table, vhost picker
//	web/js/overview.js    overview: charts, totals, node, alarms, listeners
//	web/js/connections.js connections, a connection (close), channels
//	web/js/exchanges.js   exchanges, an exchange (bindings in/out, publish)
//	web/js/queues.js      queues: paged, sorted and filtered by the API
//	web/js/queue.js       a queue: charts, consumers, bindings, policy, get,
//	                      purge, delete
//	web/js/deadletters.js x-death grouping, headers, replay (actions/move)
//	web/js/access.js      vhosts, users, permissions
//	web/js/policies.js    policies, definitions download and upload
//	docs/                 screenshots (made by the browser tests)
//
// # How a page works
//
// A page is built once and its refresh() updates it in place every 5 s
// (not while the tab is hidden): tables keep one row per key and touch a
// cell only when its text changed, forms are never rebuilt, so filters,
// scroll position, focus and half-filled forms survive. Rows whose key
// left the table are recycled for the new keys (a filter keystroke
// rewrites 100 rows' text rather than building 1,400 elements), and the
// queues list rewrites the rows down to the bottom of the window (at
// most 30) in the frame after the answer, the rest in the next
// (data-filter, then data-complete). Its table is a grid of fixed
// columns and fixed-height rows, each row contain: strict and
// content-visibility: auto, so Chromium lays out and paints only the
// rows in view, each on its own; ui.js gives its parts their table
// roles. Each of its requests cancels the one before (AbortController):
// fast typing does not pile requests up.
//
// The overview's and a queue's charts ask the API for the last 10
// minutes on the page's first request (RabbitMQ's lengths_age/incr and
// msg_rates_age/incr: samples of the gauges and counters), so they are
// drawn as the page loads; the refreshes add the figures of now. Each
// chart canvas says how many points it drew in data-points. Every change
// goes through the API, and an API error is shown in the form (or beside
// the button) the user acted in. A user whose tags hold none of
// administrator, management or policymaker (monitoring) gets no forms.
//
// The list of queues asks the API for one page (page, page_size, name,
// sort, columns): its cost does not grow with the number of queues.
//
// # Concurrency
//
// Handler holds no state; the files are read-only. The console's own
// requests carry X-Requested-With: warren-console, and the API leaves
// out its WWW-Authenticate challenge for them (so a wrong password does
// not open the browser's dialog).
//
// # Tests
//
// The tests drive Debian's Chromium headless with chromedp against an
// in-process Warren (AMQP and API on 127.0.0.1:0) and check each effect
// over AMQP with amqp091-go:
//
//	harness_test.go   the Warren, the browser, login, DOM waits, screenshots
//	console_test.go   the dead-letter walk (declare, publish, get, reject
//	                  over AMQP, replay) and the docs/ screenshots
//	                  (CONSOLE_SCREENSHOTS=1)
//	more_test.go      login refused, monitoring read-only, the queues list
//	                  keeping its place, closing a connection, exchanges,
//	                  the files served offline
//	admin_test.go     every page refreshes; vhost, user, permission,
//	                  policy and definitions upload, used over AMQP
//	keyboard_test.go  the keyboard alone
//	history_test.go   the charts drawn from the API's history on load
//	download_test.go  the definitions download (a real file, imported
//	                  into a second Warren) and deleting an exchange
//
// Without Chromium they skip, saying how to install it. A failing test
// saves a screenshot under $TEST_ARTIFACTS, or testdata/failures/ when
// that is unset.
// bench_test.go measures the queues page at 10,000 queues (and, with
// CONSOLE_BENCH_RABBITMQ=http://guest:guest@127.0.0.1:15672, RabbitMQ's
// UI), and the broker CPU a console left open costs; trace_test.go
// (BenchmarkQueuesKeystrokeTrace) runs the same keystrokes under
// Chromium's trace and says where each one's time went (request, main
// thread script, style, layout, paint, composite; CPU per thread).
package console
