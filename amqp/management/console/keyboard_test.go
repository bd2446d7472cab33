package console_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestKeyboardOnly: log in, go to the queues, filter and open a queue
// with the keyboard alone.
func TestKeyboardOnly(t *testing.T) {
	w := startWarren(t)
	_, ch := w.channel(t)
	for _, q := range []string{"alpha", "beta"} {
		if _, err := ch.QueueDeclare(q, false, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	ctx := browser(t, 60*time.Second)
	err := chromedp.Do(ctx,
		chromedp.Navigate(w.url+"/"),
		waitJS(`document.activeElement === document.querySelector('#login input[name=username]')`),
		chromedp.KeyEvent("guest"+kb.Tab+"guest"+kb.Enter),
		waitJS(textHas(`#who`, "guest")),
		eval(`document.activeElement.blur()`),
		chromedp.KeyEvent("gq"), // g then q: the queues
		waitJS(textHas(`main h1`, "Queues")),
		waitJS(textHas(`#queue-count`, "2 of 2")),
		chromedp.KeyEvent("/"), // focuses the filter
		waitJS(`document.activeElement === document.querySelector('#queue-filter')`),
		chromedp.KeyEvent("bet"),
		waitJS(textHas(`#queue-count`, "1 of 2")),
		waitJS(`document.querySelector('#queue-filter').value === 'bet'`),
	)
	if err != nil {
		t.Fatal(err)
	}
	// Tab on from the filter until the queue's link has the focus (it is
	// reachable from the keyboard), then open it with Enter.
	for i := 0; ; i++ {
		on, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.activeElement === document.querySelector('#queues-table tbody a')`))
		if err != nil {
			t.Fatal(err)
		}
		if on {
			break
		}
		if i == 30 {
			t.Fatal("30 tabs from the filter and the queue's link never had the focus")
		}
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Enter), waitJS(textIs(`#queue-name`, "beta"))); err != nil {
		t.Fatal(err)
	}
}
