package console_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	amqp091 "github.com/rabbitmq/amqp091-go"
)

// TestDefinitionsDownloadImportsBack: the definitions the console
// downloads (a real download, into a temporary directory) are a file
// that a second Warren imports, after which its queue, exchange and
// binding work over AMQP.
func TestDefinitionsDownloadImportsBack(t *testing.T) {
	w := startWarren(t)
	_, ch := w.channel(t)
	if err := ch.ExchangeDeclare("orders-x", "topic", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("orders", true, false, false, false, amqp091.Table{"x-max-length": int32(5)}); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind("orders", "order.*", "orders-x", false, nil); err != nil {
		t.Fatal(err)
	}

	ctx := browser(t, 60*time.Second)
	dir := t.TempDir()
	var mu sync.Mutex
	names := map[string]string{} // download guid -> suggested name
	done := make(chan string, 1) // the completed download's path
	if err := chromedp.ListenBrowser(ctx, func(ev any) {
		switch e := ev.(type) {
		case *cdpbrowser.EventDownloadWillBegin:
			mu.Lock()
			names[e.GUID] = e.SuggestedFilename
			mu.Unlock()
		case *cdpbrowser.EventDownloadProgress:
			if e.State == cdpbrowser.DownloadProgressStateCompleted {
				mu.Lock()
				p := filepath.Join(dir, names[e.GUID])
				mu.Unlock()
				select {
				case done <- p:
				default:
				}
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	events := true
	if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir, EventsEnabled: &events,
	}); err != nil {
		t.Fatal(err)
	}
	do(t, "download", chromedp.Do(ctx, login(w, "guest", "guest"), waitJS(textHas(`#who`, "guest")),
		chromedp.Navigate(w.url+"/#/definitions"),
		chromedp.Click(css(`#download-defs button[type=submit]`)),
		waitJS(textHas(`#download-defs .ok`, "Definitions downloaded."))))
	var path string
	select {
	case path = <-done:
	case <-time.After(20 * time.Second): // a bound on the browser's download, not a synchronisation
		t.Fatal("no completed download in 20 s")
	}
	if filepath.Base(path) != "warren-definitions.json" {
		t.Errorf("downloaded as %q, want warren-definitions.json", filepath.Base(path))
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var defs struct {
		Queues []struct{ Name string } `json:"queues"`
	}
	if err := json.Unmarshal(raw, &defs); err != nil {
		t.Fatalf("the downloaded file is not JSON: %v", err)
	}
	if !strings.Contains(string(raw), `"orders-x"`) || len(defs.Queues) == 0 {
		t.Fatalf("the downloaded definitions lack the queue or the exchange: %.300s", raw)
	}

	// The file imports into another Warren, and what it declares works.
	w2 := startWarren(t)
	req, err := http.NewRequest(http.MethodPost, w2.url+"/api/definitions", strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("guest", "guest")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent && res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusOK {
		t.Fatalf("importing the downloaded file: HTTP %d", res.StatusCode)
	}
	_, ch2 := w2.channel(t)
	if err := ch2.Publish("orders-x", "order.new", false, false, amqp091.Publishing{Body: []byte("o")}); err != nil {
		t.Fatal(err)
	}
	waitMessages(t, ch2, "orders", 1)
	// The queue came back with its argument: declaring it without is refused.
	if _, err := ch2.QueueDeclare("orders", true, false, false, false, nil); err == nil {
		t.Error("the imported queue orders lost its x-max-length: a plain redeclare was accepted")
	}
}

// TestDeleteExchange: an exchange's page deletes it after the in-place
// confirmation (no modal dialog), goes back to the list, and the exchange is gone over AMQP
// (a passive declare fails with 404).
func TestDeleteExchange(t *testing.T) {
	w := startWarren(t)
	_, ch := w.channel(t)
	if err := ch.ExchangeDeclare("doomed", "fanout", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	ctx := browser(t, 60*time.Second)
	do(t, "delete", chromedp.Do(ctx, login(w, "guest", "guest"), waitJS(textHas(`#who`, "guest")),
		chromedp.Navigate(w.url+"/#/exchange/%2F/doomed"),
		waitJS(textHas(`main h1`, "doomed")),
		// From the keyboard: the button at the foot of the page, then the
		// question's "Yes, delete", which takes the focus.
		chromedp.Focus(css(`main section.write .confirm button.danger`)),
		chromedp.KeyEvent(kb.Enter),
		waitJS(textHas(`main section.write .confirm`, "Delete exchange doomed?")),
		waitJS(`document.activeElement.textContent === 'Yes, delete'`),
		chromedp.KeyEvent(kb.Enter),
		waitJS(`location.hash === '#/exchanges'`),
		waitJS(textHas(`main h1`, "Exchanges")),
		waitJS(textHas(`main table tbody`, "amq.direct")),
		waitJS(`!document.querySelector('main table tbody').textContent.includes('doomed')`)))
	_, ch2 := w.channel(t)
	err := ch2.ExchangeDeclarePassive("doomed", "fanout", true, false, false, false, nil)
	var ae *amqp091.Error
	if !errors.As(err, &ae) || ae.Code != amqp091.NotFound {
		t.Fatalf("passive declare of the deleted exchange: %v, want a 404 NOT_FOUND", err)
	}
}
