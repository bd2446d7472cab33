package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	amqp091 "github.com/rabbitmq/amqp091-go"
)

// The console's goals, measured in headless Chromium with the browser's
// own clock (performance.now(), whose zero is the navigation's start):
//
//	BenchmarkQueuesPage            Warren's console, 10,000 queues
//	BenchmarkQueuesPageRabbitMQ    RabbitMQ 3.10's UI, 10,000 queues in the
//	                               vhost console-bench (made, then deleted);
//	                               needs CONSOLE_BENCH_RABBITMQ, e.g.
//	                               http://guest:guest@127.0.0.1:15672
//	                               (AMQP on the same host, port 5672)
//	BenchmarkConsoleCPU            the broker's CPU with no console, then
//	                               with the overview and the queues page
//	                               (10,000 queues) open, 60 s each
//	                               (CONSOLE_CPU_SECONDS to change)
//
// Metrics: ms-to-list is a reload of the queues page until its table
// shows queues; ms/keystroke-mean and -max are from the input event of a
// filter keystroke to the filtered table painted (Warren filters as you
// type, from its index of the names, the figures last seen; RabbitMQ's
// UI filters on Enter: its figure is per Enter); ms/keystroke-update is
// the console's table update with the API's answer; ms/keystroke-full-mean
// and -max are to every row of the page painted with the API's answer
// (the figures of rows not seen before; Warren paints the first 30 rows,
// then the rest in the next frame).
// Run: go test -run '^$' -bench . -benchtime 5x ./amqp/management/console/

const benchQueues = 10000

// declareQueues declares n queues queue-00000... on a fresh connection.
func declareQueues(tb testing.TB, amqpURL string, n int) {
	tb.Helper()
	conn, err := amqp091.Dial(amqpURL)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		if _, err := ch.QueueDeclare(fmt.Sprintf("queue-%05d", i), false, false, false, false, nil); err != nil {
			tb.Fatal(err)
		}
	}
}

// measureLoad reloads page and returns the ms from navigation start until
// JS expression ready is true (polled each animation frame).
func measureLoad(ctx context.Context, page, ready string) (float64, error) {
	if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
		return 0, err
	}
	return chromedp.Run(ctx, chromedp.Evaluate[float64](`new Promise((resolve, reject) => {
		const until = performance.now() + 120000;
		const step = () => {
			let ok = false;
			try { ok = `+ready+`; } catch (e) {}
			if (ok) return resolve(performance.now());
			if (performance.now() > until) return reject(new Error('not ready in 120 s'));
			requestAnimationFrame(step);
		};
		step();
	})`, chromedp.EvalAwaitPromise))
}

// warrenFilter types text into the queues filter one character at a time
// and returns, per keystroke, the ms from the input event to the table
// filtered by the API and painted (the next frame after the update):
// vis when the first screenful is (data-filter: what the user sees),
// full when every row of the page is (data-complete: the rows below the
// first 30 follow one frame later). The user-timing marks key<i> and
// key<i>-shown bound each keystroke in a trace (trace_test.go).
const warrenFilter = `(async (text) => {
	const f = document.querySelector('#queue-filter'), t = document.querySelector('#queues-table');
	const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r)));
	const tick = () => new Promise((r) => setTimeout(r));
	const vis = [], full = [];
	f.focus();
	f.value = ''; f.dispatchEvent(new Event('input'));
	while (t.dataset.filter !== '' || t.dataset.complete !== '') await frame();
	for (const [i, c] of [...text].entries()) {
		const t0 = performance.now();
		performance.mark('key' + i);
		f.value += c;
		f.dispatchEvent(new InputEvent('input', { data: c, inputType: 'insertText' }));
		while (t.dataset.filter !== f.value) await tick();
		await frame();
		vis.push(performance.now() - t0);
		performance.mark('key' + i + '-shown');
		while (t.dataset.complete !== f.value) await tick();
		await frame();
		full.push(performance.now() - t0);
	}
	return { vis, full };
})`

// keyTimes is warrenFilter's answer.
type keyTimes struct{ Vis, Full []float64 }

// rabbitFilter is warrenFilter for RabbitMQ 3.10's UI: it filters on
// Enter (keypress 13 on #queues-name), re-rendering the table.
const rabbitFilter = `(async (text) => {
	const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r)));
	const out = [];
	let typed = '';
	for (const c of text) {
		typed += c;
		const old = document.querySelector('table.list');
		if (old) old.dataset.old = '1';
		const t0 = performance.now();
		const f = document.querySelector('#queues-name');
		f.value = typed;
		$(f).trigger($.Event('keypress', { keyCode: 13, which: 13 }));
		for (;;) {
			const t = document.querySelector('table.list');
			const rows = t ? [...t.querySelectorAll('tbody tr')] : [];
			if (t && !t.dataset.old && rows.length > 0 && rows.every((r) => r.textContent.includes(typed))) break;
			if (performance.now() - t0 > 60000) throw new Error('no filtered table in 60 s');
			await new Promise((r) => setTimeout(r, 1));
		}
		await frame();
		out.push(performance.now() - t0);
	}
	return out;
})`

// filterText narrows 10,000 names step by step to one (queue-04213).
const filterText = "04213"

type pageTimes struct{ load, keySum, keyMax, fullSum, fullMax float64 }

func (p *pageTimes) add(load float64, keys []float64) {
	p.load += load
	for _, k := range keys {
		p.keySum += k
		p.keyMax = max(p.keyMax, k)
	}
}

func (p *pageTimes) report(b *testing.B, keysPerOp int) {
	n := float64(b.N)
	b.ReportMetric(p.load/n, "ms-to-list")
	b.ReportMetric(p.keySum/n/float64(keysPerOp), "ms/keystroke-mean")
	b.ReportMetric(p.keyMax, "ms/keystroke-max")
	b.ReportMetric(0, "ns/op")
}

func BenchmarkQueuesPage(b *testing.B) {
	w := startWarren(b)
	declareQueues(b, w.amqpURL, benchQueues)
	ctx := browser(b, 10*time.Minute)
	if err := chromedp.Do(ctx, login(w, "guest", "guest"), waitJS(textHas(`#who`, "guest"))); err != nil {
		b.Fatal(err)
	}
	var p pageTimes
	var updSum float64
	i := 0
	for b.Loop() {
		i++
		load, err := measureLoad(ctx, fmt.Sprintf("%s/?r=%d#/queues", w.url, i),
			`document.querySelectorAll('#queues-table tbody tr a').length === 100`)
		if err != nil {
			b.Fatal(err)
		}
		kt, err := chromedp.Run(ctx, chromedp.Evaluate[keyTimes](warrenFilter+`(`+fmt.Sprintf("%q", filterText)+`)`, chromedp.EvalAwaitPromise))
		if err != nil {
			b.Fatal(err)
		}
		keys := kt.Vis
		for _, k := range kt.Full {
			p.fullSum += k
			p.fullMax = max(p.fullMax, k)
		}
		// The page's own share: the table update of each keystroke's
		// answer (performance.measure 'queues-update' in queues.js).
		upd, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`performance.getEntriesByName('queues-update').slice(-`+fmt.Sprint(len(filterText))+`).map((e) => e.duration)`))
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("run %d: load %.0f ms; keystrokes (ms): %.1f (every row: %.1f); of which table updates (ms): %.1f", i, load, keys, kt.Full, upd)
		for _, u := range upd {
			updSum += u
		}
		p.add(load, keys)
	}
	p.report(b, len(filterText))
	b.ReportMetric(updSum/float64(b.N)/float64(len(filterText)), "ms/keystroke-update")
	b.ReportMetric(p.fullSum/float64(b.N)/float64(len(filterText)), "ms/keystroke-full-mean")
	b.ReportMetric(p.fullMax, "ms/keystroke-full-max")
}

// rabbitAPI calls RabbitMQ's management API at base (with its userinfo).
func rabbitAPI(tb testing.TB, base *url.URL, method, path, body string) {
	tb.Helper()
	u := *base
	u.User = nil
	req, err := http.NewRequest(method, u.String()+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	pass, _ := base.User.Password()
	req.SetBasicAuth(base.User.Username(), pass)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	msg, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode >= 300 && !(method == http.MethodDelete && res.StatusCode == 404) {
		tb.Fatalf("%s %s: %d %s", method, path, res.StatusCode, msg)
	}
}

func BenchmarkQueuesPageRabbitMQ(b *testing.B) {
	raw := os.Getenv("CONSOLE_BENCH_RABBITMQ")
	if raw == "" {
		b.Skip("set CONSOLE_BENCH_RABBITMQ=http://guest:guest@127.0.0.1:15672 to measure RabbitMQ's UI")
	}
	base, err := url.Parse(raw)
	if err != nil || base.User == nil {
		b.Fatalf("CONSOLE_BENCH_RABBITMQ=%q: want http://user:pass@host:port", raw)
	}
	const vhost = "console-bench"
	// RabbitMQ is left as found: the vhost and its queues go at the end.
	rabbitAPI(b, base, http.MethodPut, "/api/vhosts/"+vhost, `{}`)
	b.Cleanup(func() { deleteRabbitVhost(b, base, vhost) })
	rabbitAPI(b, base, http.MethodPut, "/api/permissions/"+vhost+"/"+base.User.Username(), `{"configure":".*","write":".*","read":".*"}`)
	pass, _ := base.User.Password()
	declareQueues(b, fmt.Sprintf("amqp://%s:%s@%s:5672/%s", base.User.Username(), pass, base.Hostname(), vhost), benchQueues)

	ctx := browser(b, 20*time.Minute)
	home := strings.Replace(raw, base.User.String()+"@", "", 1)
	if err := chromedp.Do(ctx, chromedp.Navigate(home+"/"),
		chromedp.WaitVisible(css(`#login input[name=username]`)),
		chromedp.SendKeys(css(`#login input[name=username]`), base.User.Username()),
		chromedp.SendKeys(css(`#login input[name=password]`), pass),
		chromedp.Click(css(`#login input[type=submit]`)),
		waitJS(`document.querySelector('#logout') !== null || document.querySelector('#main') !== null && document.querySelector('#login') === null`),
	); err != nil {
		b.Fatal(err)
	}
	var p pageTimes
	i := 0
	for b.Loop() {
		i++
		load, err := measureLoad(ctx, fmt.Sprintf("%s/?r=%d#/queues", home, i),
			`[...document.querySelectorAll('table.list tbody tr')].filter((r) => r.textContent.includes('queue-')).length > 0`)
		if err != nil {
			b.Fatal(err)
		}
		keys, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](rabbitFilter+`(`+fmt.Sprintf("%q", filterText)+`)`, chromedp.EvalAwaitPromise))
		if err != nil {
			b.Fatal(err)
		}
		if i == 1 {
			b.Logf("first load %.0f ms; filter per Enter (ms): %.1f", load, keys)
		}
		p.add(load, keys)
		// Leave the UI's stored filter empty for the next load.
		if err := chromedp.Do(ctx, eval(`(() => { const f = document.querySelector('#queues-name'); f.value = ''; $(f).trigger($.Event('keypress', { keyCode: 13, which: 13 })); })()`)); err != nil {
			b.Fatal(err)
		}
	}
	p.report(b, len(filterText))
}

// cpuSeconds is this process's user+system CPU time so far (the broker
// is in-process; Chromium is another process and not counted).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func BenchmarkConsoleCPU(b *testing.B) {
	span := 60 * time.Second
	if s := os.Getenv("CONSOLE_CPU_SECONDS"); s != "" {
		d, err := time.ParseDuration(s + "s")
		if err != nil {
			b.Fatal(err)
		}
		span = d
	}
	w := startWarren(b)
	declareQueues(b, w.amqpURL, benchQueues)
	ctx := browser(b, 10*time.Minute)
	// measure returns the share of one core used over span.
	measure := func() float64 {
		c0, t0 := cpuSeconds(), time.Now()
		<-time.After(span) // the measured span itself, not a synchronisation
		return (cpuSeconds() - c0) / time.Since(t0).Seconds()
	}
	for b.Loop() {
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
			b.Fatal(err)
		}
		idle := measure()
		if err := chromedp.Do(ctx, login(w, "guest", "guest"), waitJS(textHas(`#who`, "guest")),
			chromedp.Navigate(w.url+"/#/overview"), waitJS(`document.querySelector('#totals .card') !== null`)); err != nil {
			b.Fatal(err)
		}
		overview := measure()
		if err := chromedp.Do(ctx, chromedp.Navigate(w.url+"/#/queues"),
			waitJS(`document.querySelectorAll('#queues-table tbody tr a').length === 100`)); err != nil {
			b.Fatal(err)
		}
		queues := measure()
		b.Logf("broker CPU over %v: no console %.3f%%, overview open %.3f%%, queues page (10,000 queues) open %.3f%% of a core",
			span, idle*100, overview*100, queues*100)
		b.ReportMetric(idle*100, "%core-idle")
		b.ReportMetric((overview-idle)*100, "%core-overview-extra")
		b.ReportMetric((queues-idle)*100, "%core-queues-extra")
	}
	b.ReportMetric(0, "ns/op")
}

// deleteRabbitVhost deletes the vhost and waits until it is gone:
// RabbitMQ drops the HTTP request of a long delete (10,000 queues) but
// goes on, so the DELETE is repeated until a GET answers 404.
func deleteRabbitVhost(tb testing.TB, base *url.URL, vhost string) {
	u := *base
	u.User = nil
	pass, _ := base.User.Password()
	call := func(method string) (int, error) {
		req, err := http.NewRequest(method, u.String()+"/api/vhosts/"+vhost, nil)
		if err != nil {
			return 0, err
		}
		req.SetBasicAuth(base.User.Username(), pass)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		res.Body.Close()
		return res.StatusCode, nil
	}
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		call(http.MethodDelete) // may time out while RabbitMQ deletes
		if code, err := call(http.MethodGet); err == nil && code == http.StatusNotFound {
			return
		}
	}
	tb.Errorf("RabbitMQ's vhost %s is still there: delete it with curl -u guest:guest -X DELETE %s/api/vhosts/%s", vhost, u.String(), vhost)
}
