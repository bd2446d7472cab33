package console_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/amqp/server"
)

func do(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestLoginRefused: a wrong password is said in the login form, and the
// console stays on it.
func TestLoginRefused(t *testing.T) {
	w := startWarren(t)
	ctx := browser(t, 60*time.Second)
	do(t, "log in wrong", chromedp.Do(ctx, login(w, "guest", "nope"),
		waitJS(textHas(`#login .err`, "Login failed")),
		waitJS(`document.getElementById('top').hidden === true`)))
}

// TestMonitoringReadOnly: a monitoring user sees the queues and gets no
// form to change anything; the same user's API write is refused too.
func TestMonitoringReadOnly(t *testing.T) {
	w := startWarren(t, server.User{Name: "watcher", PasswordHash: server.HashPassword("pw"), Tags: []string{"monitoring"}})
	_, ch := w.channel(t)
	if _, err := ch.QueueDeclare("seen", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	ctx := browser(t, 60*time.Second)
	do(t, "monitoring sees, cannot change", chromedp.Do(ctx, login(w, "watcher", "pw"),
		waitJS(textHas(`#who`, "read-only")),
		chromedp.Navigate(w.url+"/#/queues"),
		waitJS(`[...document.querySelectorAll('#queues-table a')].some(a => a.textContent === 'seen')`),
		waitJS(`document.querySelector('#add-queue') === null`),
		chromedp.Navigate(w.url+"/#/queue/%2F/seen"),
		waitJS(textIs(`#queue-name`, "seen")),
		waitJS(`document.querySelector('#publish') === null && document.querySelector('#get-messages') === null`)))
}

// TestQueuesKeepPlace: 250 queues; the filter, the page and a half-typed
// form survive the 5 s refresh, and the list pages and filters through
// the API.
func TestQueuesKeepPlace(t *testing.T) {
	w := startWarren(t)
	_, ch := w.channel(t)
	for i := range 250 {
		if _, err := ch.QueueDeclare(fmt.Sprintf("q-%03d", i), false, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	ctx := browser(t, 90*time.Second)
	do(t, "page and filter", chromedp.Do(ctx, login(w, "guest", "guest"),
		chromedp.Navigate(w.url+"/#/queues"),
		waitJS(textHas(`#queue-count`, "250 of 250 queues")),
		waitJS(`document.querySelector('#queues-table').dataset.rows === '100'`),
		chromedp.Click(css(`.pager button:last-of-type`)),
		waitJS(textHas(`#queue-count`, "page 2 of 3")),
		waitJS(textHas(`#queues-table tbody tr:first-child`, "q-100")),
		chromedp.SendKeys(css(`#queue-filter`), "q-24"),
		waitJS(`document.querySelector('#queues-table').dataset.filter === 'q-24'`),
		waitJS(textHas(`#queue-count`, "10 of 250 queues")),
		chromedp.SendKeys(css(`#add-queue input[name=name]`), "half-typed"),
		eval(`window.__marker = document.querySelector('#queues-table tbody tr'); document.querySelector('#add-queue input[name=name]').focus()`)))
	// A queue declared now shows up at the next refresh, with the place kept.
	if _, err := ch.QueueDeclare("q-24x", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	do(t, "after a refresh", chromedp.Do(ctx,
		waitJS(textHas(`#queue-count`, "11 of 251 queues")),
		waitJS(`document.querySelector('#queue-filter').value === 'q-24'`),
		waitJS(`document.querySelector('#add-queue input[name=name]').value === 'half-typed'`),
		waitJS(`document.activeElement === document.querySelector('#add-queue input[name=name]')`),
		waitJS(`window.__marker === document.querySelector('#queues-table tbody tr')`)))
	// Sorting by name, descending, is the API's.
	do(t, "sort", chromedp.Do(ctx,
		eval(`document.querySelector('#queue-filter').value=''; document.querySelector('#queue-filter').dispatchEvent(new Event('input'))`),
		waitJS(textHas(`#queue-count`, "251 of 251")),
		eval(`[...document.querySelectorAll('#queues-table th button')].find(b => b.textContent.startsWith('Name')).click()`),
		eval(`[...document.querySelectorAll('#queues-table th button')].find(b => b.textContent.startsWith('Name')).click()`),
		waitJS(textHas(`#queues-table tbody tr:first-child`, "q-24x")),
		waitJS(textHas(`#queues-table tbody tr:nth-child(2)`, "q-249"))))
}

// TestCloseConnection: the console lists an AMQP connection, shows its
// channels, and closes it with a reason the client receives.
func TestCloseConnection(t *testing.T) {
	w := startWarren(t)
	conn, ch := w.channel(t)
	if err := ch.Qos(7, 0, false); err != nil {
		t.Fatal(err)
	}
	closed := conn.NotifyClose(make(chan *amqp091.Error, 1))
	ctx := browser(t, 60*time.Second)
	do(t, "close", chromedp.Do(ctx, login(w, "guest", "guest"),
		chromedp.Navigate(w.url+"/#/connections"),
		waitJS(`document.querySelector('table tbody a') !== null`),
		eval(`document.querySelector('table tbody a').click()`),
		waitJS(textHas(`main table tbody`, "guest")),
		waitJS(`[...document.querySelectorAll('main table tbody td')].some(td => td.textContent === '7')`),
		chromedp.SetValue(css(`form input[name=reason]`), "maintenance window"),
		chromedp.Click(css(`form button[type=submit]`)),
		waitJS(textHas(`form .ok`, "Connection closed."))))
	select {
	case err := <-closed:
		if err == nil || !strings.Contains(err.Reason, "maintenance window") {
			t.Fatalf("the client saw %v, want the reason", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the connection was not closed")
	}
}

// TestExchangeBindAndPublish: create an exchange, bind a queue to it and
// publish through it from the console; the message arrives over AMQP.
func TestExchangeBindAndPublish(t *testing.T) {
	w := startWarren(t)
	_, ch := w.channel(t)
	if _, err := ch.QueueDeclare("inbox", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	ctx := browser(t, 60*time.Second)
	do(t, "exchange", chromedp.Do(ctx, login(w, "guest", "guest"),
		chromedp.Navigate(w.url+"/#/exchanges"),
		chromedp.SendKeys(css(`#add-exchange input[name=name]`), "events"),
		chromedp.SetValue(css(`#add-exchange select[name=type]`), "topic"),
		chromedp.Click(css(`#add-exchange button[type=submit]`)),
		waitJS(textHas(`#add-exchange .ok`, "Exchange events added.")),
		chromedp.Navigate(w.url+"/#/exchange/%2F/events"),
		chromedp.SendKeys(css(`form.write input[name=other]`), "inbox"),
		chromedp.SendKeys(css(`form.write input[name=routing_key]`), "order.*"),
		chromedp.Click(css(`form.write button[type=submit]`)),
		waitJS(textHas(`main table tbody`, "inbox")),
		chromedp.SendKeys(css(`#publish input[name=routing_key]`), "order.created"),
		chromedp.SetValue(css(`#publish textarea[name=payload]`), "hello"),
		chromedp.Click(css(`#publish button[type=submit]`)),
		waitJS(textIs(`#publish .ok`, "Message published."))))
	waitMessages(t, ch, "inbox", 1)
	// An error from the API is shown where the user acted.
	do(t, "bad bind", chromedp.Do(ctx,
		chromedp.SetValue(css(`form.write input[name=other]`), "no-such-queue"),
		chromedp.Click(css(`form.write button[type=submit]`)),
		waitJS(textHas(`form.write .err`, "HTTP 404"))))
}

// TestServedOffline: "/" is the console, every embedded file refers only
// to its own origin, other methods get 405, /api is unchanged, and the
// console's requests get no browser login challenge.
func TestServedOffline(t *testing.T) {
	w := startWarren(t)
	get := func(path string, hdr map[string]string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, w.url+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	res, body := get("/", nil)
	if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, `src="js/app.js"`) {
		t.Fatalf("GET / = %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, f := range []string{"/app.css", "/js/app.js", "/js/api.js", "/js/ui.js", "/js/chart.js", "/js/forms.js", "/js/overview.js",
		"/js/connections.js", "/js/exchanges.js", "/js/queues.js", "/js/queue.js", "/js/deadletters.js", "/js/access.js", "/js/policies.js"} {
		res, body := get(f, nil)
		if res.StatusCode != 200 {
			t.Fatalf("GET %s = %d", f, res.StatusCode)
		}
		if strings.Contains(body, "http://") || strings.Contains(body, "https://") || strings.Contains(body, "//fonts.") {
			t.Errorf("%s refers to another origin: the console must work offline", f)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, w.url+"/", nil)
	res2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res2.Body.Close()
	if res2.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST / = %d, want 405", res2.StatusCode)
	}
	if res, _ := get("/api/overview", nil); res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("GET /api/overview without credentials = %d, challenge %q", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}
	if res, _ := get("/api/overview", map[string]string{"X-Requested-With": "warren-console"}); res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") != "" {
		t.Fatalf("the console's GET /api/overview = %d, challenge %q: want 401 with none", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}
	for _, p := range []string{"/js/", "/no-such-file.js", "/../go.mod", "/docs/overview.png"} {
		if res, _ := get(p, nil); res.StatusCode != 404 {
			t.Fatalf("GET %s = %d, want 404", p, res.StatusCode)
		}
	}
	if res, _ := get("/api/no-such-path", nil); res.StatusCode != 404 {
		t.Fatalf("GET /api/no-such-path = %d, want 404", res.StatusCode)
	}
}

// TestPurgeAndDelete: a queue's page purges it and deletes it, each
// asked again in place; both checked over AMQP.
func TestPurgeAndDelete(t *testing.T) {
	w := startWarren(t)
	_, ch := w.channel(t)
	if _, err := ch.QueueDeclare("scratch", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := ch.Publish("", "scratch", false, false, amqp091.Publishing{Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	waitMessages(t, ch, "scratch", 3)
	ctx := browser(t, 60*time.Second)
	do(t, "purge", chromedp.Do(ctx, login(w, "guest", "guest"),
		chromedp.Navigate(w.url+"/#/queue/%2F/scratch"),
		waitJS(textIs(`#q-total`, "3")),
		eval(`[...document.querySelectorAll('button')].find(b => b.textContent === 'Purge').click()`),
		eval(`[...document.querySelectorAll('button')].find(b => b.textContent === 'Yes, purge').click()`),
		waitJS(textIs(`#q-total`, "0"))))
	waitMessages(t, ch, "scratch", 0)
	do(t, "delete", chromedp.Do(ctx,
		eval(`[...document.querySelectorAll('button')].find(b => b.textContent === 'Delete').click()`),
		eval(`[...document.querySelectorAll('button')].find(b => b.textContent === 'Yes, delete').click()`),
		waitJS(`location.hash === '#/queues'`)))
	if _, err := ch.QueueDeclarePassive("scratch", false, false, false, false, nil); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("scratch after the console's delete: %v, want NOT_FOUND", err)
	}
}

// TestFilterCancelsStaleRequests: keystrokes faster than the answers do
// not pile requests up: each keystroke's request cancels the one before
// (AbortController), and the table shows the last filter's answer.
func TestFilterCancelsStaleRequests(t *testing.T) {
	w := startWarren(t)
	_, ch := w.channel(t)
	for _, q := range []string{"alpha", "alpine", "beta"} {
		if _, err := ch.QueueDeclare(q, false, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	ctx := browser(t, 60*time.Second)
	do(t, "queues", chromedp.Do(ctx, login(w, "guest", "guest"),
		chromedp.Navigate(w.url+"/#/queues"),
		waitJS(textHas(`#queue-count`, "3 of 3 queues"))))
	// Three keystrokes in one task: no answer can arrive between them.
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]bool](`(() => {
		const seen = window.__queueFetches = [];
		const orig = window.fetch;
		window.fetch = (url, opts) => {
			if (String(url).includes('/api/queues')) seen.push(opts && opts.signal);
			return orig(url, opts);
		};
		const f = document.querySelector('#queue-filter');
		for (const v of ['a', 'al', 'alp']) { f.value = v; f.dispatchEvent(new Event('input')); }
		return seen.map((s) => !!(s && s.aborted));
	})()`))
	do(t, "type", err)
	if fmt.Sprint(got) != "[true true false]" {
		t.Fatalf("requests cancelled: %v, want [true true false] (each keystroke cancels the request before it)", got)
	}
	do(t, "the last filter's answer", chromedp.Do(ctx,
		waitJS(`document.querySelector('#queues-table').dataset.filter === 'alp'`),
		waitJS(textHas(`#queue-count`, "2 of 3 queues")),
		waitJS(`document.querySelector('#queue-filter').value === 'alp'`),
		waitJS(`document.querySelector('.err[role=alert]').textContent === ''`)))
}

// TestFilterFromIndex: a keystroke shows its matches from the page's
// index of names before the API answers (the answers are held back
// here): case-insensitive, in the API's order, with the figures last
// seen for a row, none (dimmed) for a row never shown; the API's answer
// then fills them in, and a regular expression waits for the API.
func TestFilterFromIndex(t *testing.T) {
	w := startWarren(t)
	_, ch := w.channel(t)
	for i := range 120 {
		if _, err := ch.QueueDeclare(fmt.Sprintf("q-%03d", i), false, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{"alpha-2", "Alpha", "Beta"} {
		if _, err := ch.QueueDeclare(q, false, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if err := ch.Publish("", "alpha-2", false, false, amqp091.Publishing{Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	waitMessages(t, ch, "alpha-2", 3)
	ctx := browser(t, 60*time.Second)
	rows := `[...document.querySelectorAll('#queues-table tbody tr')].map((r) => r.children[1].textContent + (r.classList.contains('pending') ? '?' : '') + ':' + r.children[9].textContent).join(' ')`
	do(t, "queues", chromedp.Do(ctx, login(w, "guest", "guest"),
		chromedp.Navigate(w.url+"/#/queues"),
		waitJS(textHas(`#queue-count`, "123 of 123 queues")),
		waitJS(`document.querySelector('#queues-table').dataset.index === '123'`),
		// From now on the listing's answers wait until released.
		eval(`(() => {
			const orig = window.fetch, held = window.__held = [];
			window.__release = () => { window.fetch = orig; held.splice(0).forEach((go) => go()); };
			window.fetch = (url, opts) => String(url).includes('page=')
				? new Promise((ok, no) => held.push(() => orig(url, opts).then(ok, no)))
				: orig(url, opts);
		})()`)))
	typeFilter := func(v string) chromedp.Action[chromedp.Void] {
		return eval(`(() => { const f = document.querySelector('#queue-filter'); f.value = ` + fmt.Sprintf("%q", v) + `; f.dispatchEvent(new Event('input')); })()`)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const f = document.querySelector('#queue-filter');
		f.value = 'ALP'; f.dispatchEvent(new Event('input'));
		return document.querySelector('#queue-count').textContent + ' | ' + `+rows+`;
	})()`))
	do(t, "ALP", err)
	if want := "2 of 123 queues · page 1 of 1 | Alpha:0 alpha-2:3"; got != want {
		t.Errorf("ALP before any answer: %q, want %q", got, want)
	}
	do(t, "q-11", chromedp.Do(ctx, typeFilter("q-11"),
		waitJS(textHas(`#queue-count`, "10 of 123 queues")),
		waitJS(rows+` === 'q-110?: q-111?: q-112?: q-113?: q-114?: q-115?: q-116?: q-117?: q-118?: q-119?:'`),
		waitJS(`window.__held.length > 0 && document.querySelector('#queues-table').dataset.complete !== 'q-11'`),
		eval(`window.__release()`),
		waitJS(`document.querySelector('#queues-table').dataset.complete === 'q-11'`),
		waitJS(rows+` === 'q-110:0 q-111:0 q-112:0 q-113:0 q-114:0 q-115:0 q-116:0 q-117:0 q-118:0 q-119:0'`)))
	do(t, "regex", chromedp.Do(ctx,
		eval(`document.querySelector('.row input[type=checkbox]').click()`),
		typeFilter("^q-11[89]$"),
		waitJS(`document.querySelector('#queues-table').dataset.complete === '^q-11[89]$'`),
		waitJS(rows+` === 'q-118:0 q-119:0'`)))
}
