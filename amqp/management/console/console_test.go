package console_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	amqp091 "github.com/rabbitmq/amqp091-go"
)

// docsShots, when CONSOLE_SCREENSHOTS=1, writes the README's screenshots
// into docs/ as the test passes each page.
func docsShot(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if os.Getenv("CONSOLE_SCREENSHOTS") != "1" {
			return nil
		}
		// Sticky headers would repeat mid-page in a full-page capture.
		if _, err := chromedp.Evaluate[any](`document.body.classList.add('shot')`)(ctx, t); err != nil {
			return err
		}
		png, err := chromedp.FullScreenshot(100)(ctx, t)
		if err != nil {
			return err
		}
		if _, err := chromedp.Evaluate[any](`document.body.classList.remove('shot')`)(ctx, t); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join("docs", name), png, 0o644)
	})
}

// TestDeadLetterReplay is the walk: log in, declare a queue with
// a dead-letter exchange, publish to it from the console, see its count
// change, get a message, reject messages into the dead-letter queue over
// AMQP and replay them from the console; each effect checked over AMQP.
func TestDeadLetterReplay(t *testing.T) {
	w := startWarren(t)
	ctx := browser(t, 120*time.Second)
	_, ch := w.channel(t)

	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	run("log in", login(w, "guest", "guest"), waitJS(textHas(`#who`, "guest")))

	// The dead-letter queue, then orders dead-lettering into it through
	// the default exchange.
	run("declare orders.dlq",
		chromedp.Navigate(w.url+"/#/queues"),
		chromedp.WaitVisible(css(`#add-queue input[name=name]`)),
		chromedp.SendKeys(css(`#add-queue input[name=name]`), "orders.dlq"),
		chromedp.Click(css(`#add-queue button[type=submit]`)),
		waitJS(textHas(`#add-queue .ok`, "Queue orders.dlq added.")))
	if n := messages(t, ch, "orders.dlq"); n != 0 {
		t.Fatalf("orders.dlq holds %d messages", n)
	}
	run("declare orders with a dead-letter exchange",
		chromedp.SetValue(css(`#add-queue input[name=name]`), "orders"),
		eval(`document.querySelectorAll('#add-queue button.quick')[0].click()`), // x-dead-letter-exchange: "" (the default)
		eval(`document.querySelectorAll('#add-queue button.quick')[1].click()`), // x-dead-letter-routing-key
		chromedp.SetValue(css(`#add-queue .argrow:nth-child(2) .argv`), "orders.dlq"),
		chromedp.Click(css(`#add-queue button[type=submit]`)),
		waitJS(textHas(`#add-queue .ok`, "Queue orders added.")),
		waitJS(`[...document.querySelectorAll('#queues-table a')].some(a => a.textContent === 'orders')`))
	// Redeclaring with other arguments over AMQP fails: the console set them.
	if _, err := ch.QueueDeclarePassive("orders", true, false, false, false, nil); err != nil {
		t.Fatalf("orders over AMQP: %v", err)
	}

	run("publish three messages from the queue's page",
		chromedp.Navigate(w.url+"/#/queue/%2F/orders"),
		chromedp.WaitVisible(css(`#publish textarea[name=payload]`)),
		waitJS(textIs(`#q-total`, "0")))
	for i := 1; i <= 3; i++ {
		run("publish",
			chromedp.SetValue(css(`#publish textarea[name=payload]`), "order "+string(rune('0'+i))),
			chromedp.Click(css(`#publish button[type=submit]`)),
			waitJS(textIs(`#publish .ok`, "Message published.")),
			eval(`document.querySelector('#publish .ok').textContent = ''`))
	}
	waitMessages(t, ch, "orders", 3)
	run("see the count change", waitJS(textIs(`#q-total`, "3")), docsShot("queue.png"))

	run("get one message, acked",
		chromedp.SetValue(css(`#get-messages select[name=ackmode]`), "ack_requeue_false"),
		chromedp.Click(css(`#get-messages button[type=submit]`)),
		waitJS(textHas(`#got .payload`, "order 1")),
		waitJS(textIs(`#q-total`, "2")))
	waitMessages(t, ch, "orders", 2)

	// Reject the two left over AMQP: they go to orders.dlq with x-death.
	for i := 0; i < 2; i++ {
		d, ok, err := ch.Get("orders", false)
		if err != nil || !ok {
			t.Fatalf("get %d over AMQP: ok %v err %v", i, ok, err)
		}
		if err := d.Reject(false); err != nil {
			t.Fatal(err)
		}
	}
	waitMessages(t, ch, "orders.dlq", 2)
	waitMessages(t, ch, "orders", 0)

	run("look at the dead letters",
		chromedp.Navigate(w.url+"/#/deadletters/%2F/orders.dlq"),
		chromedp.WaitVisible(css(`#dl-look button`)),
		waitJS(`document.querySelector('#dl-count')?.dataset.messages === '2'`),
		chromedp.Click(css(`#dl-look button`)),
		waitJS(textHas(`#dl-groups tbody`, "rejected")),
		waitJS(textHas(`#dl-groups tbody`, "orders")),
		waitJS(`document.querySelector('#dl-groups tbody tr td:nth-child(5)').textContent === '2'`),
		chromedp.Click(css(`#dl-messages details summary`)),
		waitJS(textHas(`#dl-messages .headers`, "x-death")),
		docsShot("deadletters.png"))
	// Looking puts the messages back.
	waitMessages(t, ch, "orders.dlq", 2)

	run("replay one, then the rest, to their origin",
		chromedp.SetValue(css(`#dl-move select[name=which]`), "n"),
		chromedp.SetValue(css(`#dl-move input[name=n]`), "1"),
		chromedp.Click(css(`#dl-move button[type=submit]`)),
		waitJS(textIs(`#dl-move .ok`, "Moved 1 message(s) back to their origin.")))
	waitMessages(t, ch, "orders", 1)
	waitMessages(t, ch, "orders.dlq", 1)
	run("replay the rest",
		chromedp.SetValue(css(`#dl-move select[name=which]`), "all"),
		chromedp.Click(css(`#dl-move button[type=submit]`)),
		waitJS(textIs(`#dl-move .ok`, "Moved 1 message(s) back to their origin.")),
		waitJS(`document.querySelector('#dl-count')?.dataset.messages === '0'`),
		docsShot("replay.png"))
	waitMessages(t, ch, "orders", 2)
	waitMessages(t, ch, "orders.dlq", 0)

	// The overview: totals, node, and charts over a few refreshes while a
	// publisher and a consumer run.
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- traffic(w.amqpURL, stop) }()
	run("the overview",
		chromedp.Navigate(w.url+"/#/overview"),
		waitJS(textHas(`#totals`, "Queues")),
		waitJSWithin(`Number(document.querySelector('#overview')?.dataset.samples) >= 4`, 40*time.Second),
		docsShot("overview.png"))
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("traffic: %v", err)
	}

	// The replayed messages are the rejected ones, x-death kept.
	d, ok, err := ch.Get("orders", true)
	if err != nil || !ok {
		t.Fatalf("get a replayed message: ok %v err %v", ok, err)
	}
	if !strings.HasPrefix(string(d.Body), "order ") || d.Headers["x-death"] == nil {
		t.Fatalf("replayed message %q headers %v: want an order with x-death", d.Body, d.Headers)
	}
}

// traffic publishes to and consumes from the queue "traffic" every 10 ms
// until stop (so the overview's charts move).
func traffic(amqpURL string, stop <-chan struct{}) error {
	conn, err := amqp091.Dial(amqpURL)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	if _, err := ch.QueueDeclare("traffic", false, false, false, false, nil); err != nil {
		return err
	}
	if _, err := ch.Consume("traffic", "", true, false, false, false, nil); err != nil {
		return err
	}
	tick := time.NewTicker(10 * time.Millisecond) // the publish rate
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return nil
		case <-tick.C:
		}
		for range 1 + i%7 {
			if err := ch.Publish("", "traffic", false, false, amqp091.Publishing{Body: []byte("tick")}); err != nil {
				return err
			}
		}
	}
}
