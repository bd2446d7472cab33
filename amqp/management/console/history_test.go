package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	amqp091 "github.com/rabbitmq/amqp091-go"
)

// historyQuery is what the console asks on a page's first load.
const historyQuery = "lengths_age=600&lengths_incr=5&msg_rates_age=600&msg_rates_incr=5"

// apiGet reads path of w's API as guest into v.
func apiGet(tb testing.TB, w *warren, path string, v any) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, w.url+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.SetBasicAuth("guest", "guest")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %d %s", path, res.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
}

type sampled struct {
	Samples []struct{ Sample int64 } `json:"samples"`
}

// firstDrawPoints waits for the first drawing of the chart canvas sel
// and returns how many points it drew then (data-points; the next draw
// is the refresh 5 s later).
func firstDrawPoints(tb testing.TB, ctx context.Context, sel string) int {
	tb.Helper()
	expr := fmt.Sprintf(`(document.querySelector(%q)||{dataset:{}}).dataset.points`, sel)
	if err := chromedp.Do(ctx, waitJS(expr+` !== undefined`)); err != nil {
		tb.Fatal(err)
	}
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		tb.Fatal(err)
	}
	n, _ := strconv.Atoi(s)
	return n
}

// TestChartsDrawnFromHistory: the overview's and a queue's charts are
// drawn from the API's sampled history as the page loads, not from the
// page's own refreshes only (which add one point per 5 s).
func TestChartsDrawnFromHistory(t *testing.T) {
	w := startWarren(t)
	_, ch := w.channel(t)
	if _, err := ch.QueueDeclare("charted", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := ch.Publish("", "charted", false, false, amqp091.Publishing{Body: []byte("c")}); err != nil {
			t.Fatal(err)
		}
	}
	waitMessages(t, ch, "charted", 3)
	// Someone looked at the queue's history (its ring starts): wait, over
	// HTTP, until the API holds 2 samples of both (passes every 5 s, on 5 s
	// boundaries).
	var ov struct {
		QueueTotals struct {
			Messages sampled `json:"messages_details"`
		} `json:"queue_totals"`
	}
	var q struct {
		Messages sampled `json:"messages_details"`
	}
	deadline := time.Now().Add(40 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond) // the poll's pace
	defer tick.Stop()
	for {
		apiGet(t, w, "/api/overview?"+historyQuery, &ov)
		apiGet(t, w, "/api/queues/%2F/charted?"+historyQuery, &q)
		if len(ov.QueueTotals.Messages.Samples) >= 2 && len(q.Messages.Samples) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API holds %d overview and %d queue samples after 40 s, want 2", len(ov.QueueTotals.Messages.Samples), len(q.Messages.Samples))
		}
		<-tick.C
	}
	if got := q.Messages.Samples[0].Sample; got != 3 {
		t.Errorf("the queue's newest messages sample is %d, want 3", got)
	}

	ctx := browser(t, 60*time.Second)
	// Logging in opens the overview: its first drawing has the samples the
	// API had and the page's own reading of now (without the history: 1).
	if err := chromedp.Do(ctx, login(w, "guest", "guest"), waitJS(textHas(`#who`, "guest")), waitJS(`document.querySelector('#overview') !== null`)); err != nil {
		t.Fatal(err)
	}
	if got, want := firstDrawPoints(t, ctx, `#overview canvas[aria-label="Queued messages"]`), len(ov.QueueTotals.Messages.Samples)+1; got < want {
		t.Errorf("the overview's queued chart drew %d points as it loaded, want %d or more", got, want)
	}
	if got := firstDrawPoints(t, ctx, `#overview canvas[aria-label="Message rates"]`); got < 2 {
		t.Errorf("the overview's rates chart drew %d points as it loaded, want 2 or more", got)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(w.url+"/#/queue/%2F/charted"), waitJS(textIs(`#queue-name`, "charted"))); err != nil {
		t.Fatal(err)
	}
	if got, want := firstDrawPoints(t, ctx, `main canvas[aria-label="Queued messages"]`), len(q.Messages.Samples)+1; got < want {
		t.Errorf("the queue's queued chart drew %d points as it loaded, want %d or more", got, want)
	}
}
