package console_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	amqp091 "github.com/rabbitmq/amqp091-go"
)

// TestEveryPageRenders opens each page and waits for a refresh that
// succeeded (the status line says "Updated", never "Refresh failed").
func TestEveryPageRenders(t *testing.T) {
	w := startWarren(t)
	w.channel(t) // a connection and a channel to list
	ctx := browser(t, 90*time.Second)
	if err := chromedp.Do(ctx, login(w, "guest", "guest"), waitJS(textHas(`#who`, "guest"))); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ hash, h1 string }{
		{"overview", "Overview"}, {"connections", "Connections"}, {"channels", "Channels"},
		{"exchanges", "Exchanges"}, {"exchange/%2F/amq.direct", "Exchange amq.direct"}, {"exchange/%2F/amq.default", "Exchange (AMQP default)"},
		{"queues", "Queues"}, {"deadletters", "Dead letters"}, {"vhosts", "Virtual hosts"}, {"users", "Users"},
		{"permissions", "Permissions"}, {"policies", "Policies"},
	} {
		err := chromedp.Do(ctx,
			eval(`document.getElementById('status').textContent = ''`),
			chromedp.Navigate(w.url+"/#/"+p.hash),
			waitJS(textHas(`main h1`, p.h1)),
			waitJS(textHas(`#status`, "Updated")))
		if err != nil {
			st, _ := chromedp.Run(ctx, chromedp.Text(css(`#status`)))
			t.Fatalf("page %s: %v (status line %q)", p.hash, err, st)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(w.url+"/#/definitions"), waitJS(textHas(`main h1`, "Definitions")),
		chromedp.Navigate(w.url+"/#/nonsense"), waitJS(textHas(`main h1`, "Not found"))); err != nil {
		t.Fatal(err)
	}
}

// TestAdminPages: a vhost, a user with a permission and a policy made in
// the console, then used over AMQP by that user; definitions uploaded
// from a file declare a queue.
func TestAdminPages(t *testing.T) {
	w := startWarren(t)
	ctx := browser(t, 90*time.Second)
	err := chromedp.Do(ctx, login(w, "guest", "guest"), waitJS(textHas(`#who`, "guest")),
		chromedp.Navigate(w.url+"/#/vhosts"),
		chromedp.SendKeys(css(`#add-vhost input[name=name]`), "shop"),
		chromedp.Click(css(`#add-vhost button[type=submit]`)),
		waitJS(textHas(`#add-vhost .ok`, "Virtual host shop added.")),
		waitJS(textHas(`main table tbody`, "shop")),
		chromedp.Navigate(w.url+"/#/users"),
		chromedp.SendKeys(css(`#add-user input[name=name]`), "alice"),
		chromedp.SendKeys(css(`#add-user input[name=password]`), "secret"),
		chromedp.SendKeys(css(`#add-user input[name=tags]`), "management"),
		chromedp.Click(css(`#add-user button[type=submit]`)),
		waitJS(textHas(`#add-user .ok`, "User alice saved.")),
		chromedp.Navigate(w.url+"/#/permissions"),
		chromedp.SendKeys(css(`#set-permission input[name=user]`), "alice"),
		chromedp.SetValue(css(`#set-permission select[name=vhost]`), "shop"),
		chromedp.Click(css(`#set-permission button[type=submit]`)),
		waitJS(textHas(`#set-permission .ok`, "Permission set.")),
		chromedp.Navigate(w.url+"/#/policies"),
		chromedp.SetValue(css(`#add-policy select[name=vhost]`), "shop"),
		chromedp.SendKeys(css(`#add-policy input[name=name]`), "cap"),
		chromedp.SendKeys(css(`#add-policy input[name=pattern]`), "^capped$"),
		chromedp.SetValue(css(`#add-policy textarea[name=definition]`), `{"max-length": 1}`),
		chromedp.Click(css(`#add-policy button[type=submit]`)),
		waitJS(textHas(`#add-policy .ok`, "Policy cap saved.")),
		// A bad definition is refused where the user acted.
		chromedp.SetValue(css(`#add-policy textarea[name=definition]`), `{"max-length": `),
		chromedp.Click(css(`#add-policy button[type=submit]`)),
		waitJS(textHas(`#add-policy .err`, "not JSON")))
	if err != nil {
		t.Fatal(err)
	}
	u := strings.Replace(w.amqpURL, "guest:guest@", "alice:secret@", 1) + "shop"
	conn, err := amqp091.Dial(u)
	if err != nil {
		t.Fatalf("alice over AMQP to shop: %v", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("capped", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := ch.Publish("", "capped", false, false, amqp091.Publishing{Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	waitMessages(t, ch, "capped", 1) // the console's policy: max-length 1

	defs := filepath.Join(t.TempDir(), "defs.json")
	if err := os.WriteFile(defs, []byte(`{"queues":[{"name":"from-file","vhost":"shop","durable":true,"auto_delete":false,"arguments":{}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx, chromedp.Navigate(w.url+"/#/definitions"),
		chromedp.SetUploadFiles(css(`#upload-defs input[type=file]`), []string{defs}),
		chromedp.Click(css(`#upload-defs button[type=submit]`)),
		waitJS(textHas(`#upload-defs .ok`, "Definitions imported.")))
	if err != nil {
		t.Fatal(err)
	}
	if n := messages(t, ch, "from-file"); n != 0 {
		t.Fatalf("from-file holds %d", n)
	}
}
