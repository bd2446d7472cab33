package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/amqp/management"
	"github.com/warrenmq/warren/amqp/management/managementtest"
	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/server/servertest"
)

// skipNoChromium is the message a test skips with on a machine without
// Chromium (make test prints the same advice before go test).
const skipNoChromium = "console browser tests skipped: no Chromium found (install it with `apt-get install -y chromium` on Debian, or set CHROMIUM=/path/to/chrome)"

// chromiumPath is $CHROMIUM, or the first Chromium or Chrome on PATH.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// warren is an in-process Warren with its management API and console,
// both on 127.0.0.1:0.
type warren struct {
	url     string // http://127.0.0.1:port (the console at /)
	amqpURL string // as guest
	srv     *server.Server
	api     *management.Server
}

func startWarren(tb testing.TB, users ...server.User) *warren {
	tb.Helper()
	users = append([]server.User{{Name: "guest", PasswordHash: server.HashPassword("guest"), Tags: []string{"administrator"}}}, users...)
	srv, amqpURL := servertest.StartServer(tb, server.Config{Users: users, Vhosts: []string{"/"}})
	m, url := managementtest.Start(tb, srv, amqpURL, 5*time.Second) // cmd/warren's default interval
	return &warren{url: url, amqpURL: amqpURL, srv: srv, api: m}
}

// channel opens an AMQP channel as guest, closed when the test ends.
func (w *warren) channel(tb testing.TB) (*amqp091.Connection, *amqp091.Channel) {
	tb.Helper()
	conn, err := amqp091.Dial(w.amqpURL)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		tb.Fatal(err)
	}
	return conn, ch
}

// artifactsDir is where failure screenshots go: $TEST_ARTIFACTS, else
// this package's testdata/failures (kept out of git).
func artifactsDir() string {
	if d := os.Getenv("TEST_ARTIFACTS"); d != "" {
		return d
	}
	return filepath.Join("testdata", "failures")
}

// browser starts a headless Chromium for one test and returns a context
// whose actions run in its tab, bounded by timeout. When the test fails,
// a full-page screenshot is saved as <artifacts>/<TestName>.png.
func browser(tb testing.TB, timeout time.Duration) context.Context {
	tb.Helper()
	path := chromiumPath()
	if path == "" {
		tb.Skip(skipNoChromium)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox refuses to start
		chromedp.WindowSize(1366, 900),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil { // the first run starts the browser: no timeout on it
		cancelBrowser()
		cancelAlloc()
		tb.Fatalf("starting %s: %v", path, err)
	}
	ctx, cancel := context.WithTimeout(bctx, timeout)
	tb.Cleanup(func() {
		cancel()
		if tb.Failed() {
			saveScreenshot(tb, bctx)
		}
		cancelBrowser()
		cancelAlloc()
	})
	return ctx
}

func saveScreenshot(tb testing.TB, bctx context.Context) {
	sctx, cancel := context.WithTimeout(bctx, 10*time.Second)
	defer cancel()
	chromedp.Do(sctx, eval(`document.body.classList.add('shot')`)) // no sticky header mid-page
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.Logf("no failure screenshot: %v", err)
		return
	}
	dir := artifactsDir()
	name := filepath.Join(dir, strings.ReplaceAll(tb.Name(), "/", "_")+".png")
	if err := os.MkdirAll(dir, 0o755); err == nil {
		err = os.WriteFile(name, png, 0o644)
		if err == nil {
			tb.Logf("failure screenshot: %s", name)
			return
		}
	}
	tb.Logf("could not save the failure screenshot in %s", dir)
}

// login opens the console at w.url and logs in.
func login(w *warren, user, pass string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(w.url+"/"),
		chromedp.WaitVisible(css(`#login input[name=username]`)),
		chromedp.SendKeys(css(`#login input[name=username]`), user),
		chromedp.SendKeys(css(`#login input[name=password]`), pass),
		chromedp.Click(css(`#login button[type=submit]`)),
	)
}

// css is a CSS selector (a plain string would be a DOM search).
func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// eval runs JavaScript for its effect.
func eval(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](expr)(ctx, t)
		return err
	})
}

// waitJS polls the JavaScript expression until it is true (a DOM
// condition), in the page's own animation frames.
func waitJS(expr string) chromedp.Action[chromedp.Void] { return waitJSWithin(expr, 20*time.Second) }

// waitJSWithin is waitJS with its own timeout.
func waitJSWithin(expr string, timeout time.Duration) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[any](expr, chromedp.WithPollingTimeout(timeout))(ctx, t)
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", expr, err)
		}
		return nil
	})
}

// textIs is a JS expression: the element's trimmed text equals want.
func textIs(sel, want string) string {
	return fmt.Sprintf(`(document.querySelector(%q)||{}).textContent?.trim() === %q`, sel, want)
}

// textHas is a JS expression: the element's text contains want.
func textHas(sel, want string) string {
	return fmt.Sprintf(`((document.querySelector(%q)||{}).textContent||'').includes(%q)`, sel, want)
}

// messages is the queue's message count, over AMQP.
func messages(tb testing.TB, ch *amqp091.Channel, q string) int {
	tb.Helper()
	d, err := ch.QueueDeclarePassive(q, false, false, false, false, nil)
	if err != nil {
		tb.Fatalf("queue %s over AMQP: %v", q, err)
	}
	return d.Messages
}

// waitMessages polls the queue over AMQP until it holds n messages.
func waitMessages(tb testing.TB, ch *amqp091.Channel, q string, n int) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond) // the poll's pace
	defer tick.Stop()
	for {
		got := messages(tb, ch, q)
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("queue %s holds %d messages over AMQP, want %d", q, got, n)
		}
		<-tick.C
	}
}
