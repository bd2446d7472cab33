package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/tracing"
	"github.com/chromedp/chromedp"
)

// BenchmarkQueuesKeystrokeTrace is BenchmarkQueuesPage's filter under
// Chromium's own trace (devtools.timeline): for each keystroke, from its
// input event to the filtered table painted, where the renderer's main
// thread spent its CPU time (self time by kind: script, style, layout,
// paint, composite, other; "not running" is the rest: waiting for the
// answer, or for a core on a loaded machine) and the request's own time
// from the Resource Timing API.
//
//	go test -run '^$' -bench BenchmarkQueuesKeystrokeTrace -benchtime 3x ./amqp/management/console/
func BenchmarkQueuesKeystrokeTrace(b *testing.B) {
	w := startWarren(b)
	declareQueues(b, w.amqpURL, benchQueues)
	ctx := browser(b, 10*time.Minute)
	if err := chromedp.Do(ctx, login(w, "guest", "guest"), waitJS(textHas(`#who`, "guest"))); err != nil {
		b.Fatal(err)
	}
	var tr traceRecorder
	if err := chromedp.Listen(ctx, tr.event); err != nil {
		b.Fatal(err)
	}
	sums := make([]keyTrace, len(filterText))
	i := 0
	for b.Loop() {
		i++
		if _, err := measureLoad(ctx, fmt.Sprintf("%s/?r=%d#/queues", w.url, i),
			`document.querySelectorAll('#queues-table tbody tr a').length === 100`); err != nil {
			b.Fatal(err)
		}
		events, err := tr.record(ctx, func() error {
			_, err := chromedp.Run(ctx, chromedp.Evaluate[keyTimes](warrenFilter+`(`+fmt.Sprintf("%q", filterText)+`)`, chromedp.EvalAwaitPromise))
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		// Each keystroke's request: the one for its filter value sent
		// between its marks (a 5 s refresh may send another).
		req, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`[...`+fmt.Sprintf("%q", filterText)+`].map((_, i, a) => {
			const from = performance.getEntriesByName('key' + i).at(-1), to = performance.getEntriesByName('key' + i + '-shown').at(-1);
			const want = 'name=' + a.slice(0, i + 1).join('') + '&';
			const r = performance.getEntriesByType('resource').find((e) => e.name.includes(want) && e.startTime >= from.startTime && e.startTime <= to.startTime);
			return r ? r.responseEnd - r.startTime : -1;
		})`))
		if err != nil {
			b.Fatal(err)
		}
		keys := keyBreakdown(events, len(filterText))
		for k := range keys {
			if k < len(req) {
				keys[k].request = req[k]
			}
			b.Logf("run %d key %d %q: %s", i, k, filterText[:k+1], keys[k])
			sums[k].add(keys[k])
		}
	}
	for k := range sums {
		sums[k].scale(1 / float64(b.N))
		b.Logf("mean key %d %q: %s", k, filterText[:k+1], sums[k])
	}
	b.ReportMetric(0, "ns/op")
}

// traceEvent is one event of Chromium's JSON trace format.
type traceEvent struct {
	Name string          `json:"name"`
	Cat  string          `json:"cat"`
	Ph   string          `json:"ph"`
	TS   float64         `json:"ts"`   // µs
	Dur  float64         `json:"dur"`  // µs, for ph X: wall time
	TDur float64         `json:"tdur"` // µs: the thread's CPU time
	PID  int             `json:"pid"`
	TID  int             `json:"tid"`
	Args json.RawMessage `json:"args"`
}

// traceRecorder collects the events of one Tracing.start .. end.
type traceRecorder struct {
	mu struct {
		sync.Mutex
		events []traceEvent
		done   chan struct{}
	}
}

// event is the chromedp listener: it keeps the events (decoded here, the
// listener's goroutine) and says when the trace is complete.
func (r *traceRecorder) event(ev any) {
	switch e := ev.(type) {
	case *tracing.EventDataCollected:
		var evs []traceEvent
		for _, v := range e.Value {
			var te traceEvent
			if json.Unmarshal(v, &te) == nil {
				evs = append(evs, te)
			}
		}
		r.mu.Lock()
		r.mu.events = append(r.mu.events, evs...)
		r.mu.Unlock()
	case *tracing.EventTracingComplete:
		r.mu.Lock()
		if r.mu.done != nil {
			close(r.mu.done)
			r.mu.done = nil
		}
		r.mu.Unlock()
	}
}

// record traces run and returns its events.
func (r *traceRecorder) record(ctx context.Context, run func() error) ([]traceEvent, error) {
	done := make(chan struct{})
	r.mu.Lock()
	r.mu.events, r.mu.done = nil, done
	r.mu.Unlock()
	if _, err := chromedp.Call(ctx, tracing.Start, tracing.StartParams{
		TransferMode: tracing.StartTransferModeReportEvents,
		TraceConfig: &tracing.TraceConfig{IncludedCategories: []string{
			"devtools.timeline", "disabled-by-default-devtools.timeline", "blink.user_timing", "v8.execute", "toplevel",
		}},
	}); err != nil {
		return nil, err
	}
	runErr := run()
	if _, err := chromedp.Call(ctx, tracing.End, struct{}{}); err != nil {
		return nil, err
	}
	select {
	case <-done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.events, runErr
}

// keyTrace is one keystroke's time (ms) from its input event to the
// filtered table painted (warrenFilter's marks key<i> and key<i>-shown).
type keyTrace struct {
	total, request, idle float64
	self                 map[string]float64 // main-thread self time by kind
	names                map[string]float64 // main-thread self time by event name
	raster               float64            // raster on other threads of the renderer
	threads              map[string]float64 // CPU of each process/thread, top-level events
}

func (k *keyTrace) add(o keyTrace) {
	k.total += o.total
	k.request += o.request
	k.idle += o.idle
	k.raster += o.raster
	if k.self == nil {
		k.self = map[string]float64{}
	}
	for n, v := range o.self {
		k.self[n] += v
	}
	if k.names == nil {
		k.names = map[string]float64{}
	}
	for n, v := range o.names {
		k.names[n] += v
	}
	if k.threads == nil {
		k.threads = map[string]float64{}
	}
	for n, v := range o.threads {
		k.threads[n] += v
	}
}

func (k *keyTrace) scale(f float64) {
	k.total *= f
	k.request *= f
	k.idle *= f
	k.raster *= f
	for n := range k.self {
		k.self[n] *= f
	}
	for n := range k.names {
		k.names[n] *= f
	}
	for n := range k.threads {
		k.threads[n] *= f
	}
}

var traceKinds = []string{"script", "style", "layout", "paint", "composite", "other"}

func (k keyTrace) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "%.1f ms: request %.1f, main thread CPU", k.total, k.request)
	for _, n := range traceKinds {
		fmt.Fprintf(&s, " %s %.1f", n, k.self[n])
	}
	fmt.Fprintf(&s, ", not running %.1f; raster CPU (workers) %.1f; most:", k.idle, k.raster)
	names := make([]string, 0, len(k.names))
	for n := range k.names {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return k.names[names[i]] > k.names[names[j]] })
	for _, n := range names[:min(len(names), 6)] {
		fmt.Fprintf(&s, " %s %.1f", n, k.names[n])
	}
	threads := make([]string, 0, len(k.threads))
	for n := range k.threads {
		threads = append(threads, n)
	}
	sort.Slice(threads, func(i, j int) bool { return k.threads[threads[i]] > k.threads[threads[j]] })
	s.WriteString("; CPU by thread:")
	for _, n := range threads[:min(len(threads), 8)] {
		fmt.Fprintf(&s, " %s %.1f", n, k.threads[n])
	}
	return s.String()
}

// traceKind sorts a main-thread event into the kinds of DevTools'
// Performance panel.
func traceKind(name string) string {
	switch name {
	case "UpdateLayoutTree", "RecalculateStyles", "ParseAuthorStyleSheet", "ScheduleStyleRecalculation", "InvalidateLayout":
		return "style"
	case "Layout", "LayoutShift", "IntersectionObserverController::computeIntersections", "UpdateLayerTree":
		return "layout"
	case "Paint", "PrePaint", "PaintImage", "PaintSetup", "Decode Image", "Layerize", "UpdateLayer":
		return "paint"
	case "Commit", "CompositeLayers", "ProxyMain::BeginMainFrame::commit", "Animation", "BeginMainThreadFrame", "ActivateLayerTree", "DrawFrame":
		return "composite"
	}
	if strings.HasPrefix(name, "V8.") || strings.HasPrefix(name, "v8.") || strings.Contains(name, "GC") {
		return "script"
	}
	switch name {
	case "FunctionCall", "EvaluateScript", "TimerFire", "FireAnimationFrame", "EventDispatch", "RunMicrotasks",
		"XHRReadyStateChange", "XHRLoad", "ResourceReceivedData", "ResourceFinish", "ResourceSendRequest", "ResourceReceiveResponse",
		"FireIdleCallback", "ParseHTML", "TimerInstall", "TimerRemove", "RequestAnimationFrame":
		return "script"
	}
	return "other"
}

// keyBreakdown cuts the trace into the n keystrokes by their user-timing
// marks and sums, per keystroke, the renderer main thread's self time by
// kind and the raster time of its other threads.
func keyBreakdown(events []traceEvent, n int) []keyTrace {
	// The renderer: the process of the marks; its main thread by name.
	marks := map[string]traceEvent{}
	for _, e := range events {
		if strings.Contains(e.Cat, "blink.user_timing") && strings.HasPrefix(e.Name, "key") {
			marks[e.Name] = e
		}
	}
	out := make([]keyTrace, n)
	start, ok := marks["key0"]
	if !ok {
		return out
	}
	pid := start.PID
	mainTID := -1
	for _, e := range events {
		if e.Ph == "M" && e.PID == pid && e.Name == "thread_name" && strings.Contains(string(e.Args), "CrRendererMain") {
			mainTID = e.TID
		}
	}
	// Self time of the main thread's complete events: each event's
	// duration less its children's (events nest by time on one thread).
	var main []traceEvent
	for _, e := range events {
		if e.PID == pid && e.TID == mainTID && e.Ph == "X" {
			main = append(main, e)
		}
	}
	sort.Slice(main, func(i, j int) bool {
		if main[i].TS != main[j].TS {
			return main[i].TS < main[j].TS
		}
		return main[i].Dur > main[j].Dur
	})
	// Self time is CPU time (tdur): on a loaded machine the wall time of
	// an event includes the time its thread was not running.
	self := make([]float64, len(main))
	for i := range main {
		self[i] = main[i].TDur
	}
	var stack []int
	for i, e := range main {
		for len(stack) > 0 && main[stack[len(stack)-1]].TS+main[stack[len(stack)-1]].Dur <= e.TS {
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 {
			self[stack[len(stack)-1]] -= e.TDur
		}
		stack = append(stack, i)
	}
	for k := range n {
		from, ok1 := marks[fmt.Sprintf("key%d", k)]
		to, ok2 := marks[fmt.Sprintf("key%d-shown", k)]
		if !ok1 || !ok2 {
			continue
		}
		kt := keyTrace{total: (to.TS - from.TS) / 1000, self: map[string]float64{}, names: map[string]float64{}}
		busy := 0.0
		for i, e := range main {
			if e.TS < from.TS || e.TS >= to.TS {
				continue
			}
			// The part of the event inside the window (an event running
			// over its end counts up to it).
			d := self[i]
			if over := e.TS + e.Dur - to.TS; over > 0 {
				d = max(0, d*(1-over/e.Dur))
			}
			kt.self[traceKind(e.Name)] += d / 1000
			kt.names[e.Name] += d / 1000
			busy += d / 1000
		}
		kt.idle = max(0, kt.total-busy)
		for _, e := range events {
			if e.PID == pid && e.TID != mainTID && e.Ph == "X" && e.TS >= from.TS && e.TS < to.TS && strings.HasPrefix(e.Name, "RasterTask") {
				kt.raster += e.TDur / 1000
			}
		}
		kt.threads = threadCPU(events, from.TS, to.TS)
		out[k] = kt
	}
	return out
}

// threadCPU is the CPU time (ms) of each process/thread between from and
// to: the tdur of its outermost complete events that start in the span.
func threadCPU(events []traceEvent, from, to float64) map[string]float64 {
	type id struct{ pid, tid int }
	procs, threads := map[int]string{}, map[id]string{}
	byThread := map[id][]traceEvent{}
	for _, e := range events {
		if e.Ph == "M" {
			var a struct{ Name string }
			json.Unmarshal(e.Args, &a)
			switch e.Name {
			case "process_name":
				procs[e.PID] = a.Name
			case "thread_name":
				threads[id{e.PID, e.TID}] = a.Name
			}
		}
		if e.Ph == "X" && e.TS >= from && e.TS < to {
			byThread[id{e.PID, e.TID}] = append(byThread[id{e.PID, e.TID}], e)
		}
	}
	out := map[string]float64{}
	for t, evs := range byThread {
		sort.Slice(evs, func(i, j int) bool { return evs[i].TS < evs[j].TS })
		end := -1.0
		for _, e := range evs {
			if e.TS < end {
				continue // inside the event before
			}
			end = e.TS + e.Dur
			out[procs[t.pid]+"/"+threads[t]] += e.TDur / 1000
		}
	}
	return out
}
