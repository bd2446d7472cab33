package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Exit codes.
const (
	exitOK     = 0 // every chapter ran and measured what it set out to
	exitFailed = 1 // a chapter failed: its reason on stderr (and in --json)
	exitUsage  = 2 // bad flags
)

const usage = `Usage: warren demo [flags]

Plays the order-placement story against a real broker, chapter by chapter:
each chapter says what it does and prints what it measured.

  1  synchronous calls versus one queued event
  2  pub/sub by pattern (a topic exchange)
  3  point-to-point: a work queue, three workers, prefetch
  4  a service down: its queue grows, then drains
  5  acknowledgements: a worker dies mid-task, its message is redelivered
  6  the dead-letter queue: a poison message, x-death, the fix, the replay
  7  the log: a stream read from the start, a position and a time
  8  consumer groups: a super stream of 6 partitions (stream protocol)
  9  the choice: stream or queue for each kind of event

Without --url, an embedded Warren runs on a temporary data directory and
is removed at the end.

Flags:
`

// options are the parsed flags of one run.
type options struct {
	chapter   int
	fast      bool
	json      bool
	url       string // AMQP URL; "": the embedded broker
	api       string // management API URL
	streamURL string // stream protocol URL (chapter 8)
	color     string // auto, always, never
}

// Main runs `warren demo args` and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := pflag.NewFlagSet("warren demo", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&o.chapter, "chapter", 0, "play only chapter N (1-9); 0: all")
	fs.BoolVar(&o.fast, "fast", false, "shorter delays and fewer messages (a tenth of the time)")
	fs.BoolVar(&o.json, "json", false, "print the measured figures as JSON on stdout instead of the story")
	fs.StringVar(&o.url, "url", "", "AMQP URL of a running broker (default: an embedded Warren on a temporary directory)")
	fs.StringVar(&o.api, "api", "", "management API URL with credentials (default: the embedded broker's, or http://guest:guest@<--url host>:15672)")
	fs.StringVar(&o.streamURL, "stream-url", "", "stream protocol URL for chapter 8, e.g. rabbitmq-stream://guest:guest@127.0.0.1:5552 (default: the embedded broker's stream listener)")
	fs.StringVar(&o.color, "color", "auto", "colours: auto (only on a terminal, not with NO_COLOR), always, never")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprint(stdout, usage+fs.FlagUsages())
			return exitOK
		}
		fmt.Fprintf(stderr, "warren demo: %v\n(warren demo --help for the flags)\n", err)
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "warren demo: unexpected argument %q\n(warren demo --help for the flags)\n", fs.Arg(0))
		return exitUsage
	}
	if o.chapter < 0 || o.chapter > len(story()) {
		fmt.Fprintf(stderr, "warren demo: --chapter %d: want 1 to %d (or 0 for all)\n", o.chapter, len(story()))
		return exitUsage
	}
	switch o.color {
	case "auto", "always", "never":
	default:
		fmt.Fprintf(stderr, "warren demo: --color %q: want auto, always or never\n", o.color)
		return exitUsage
	}
	return run(o, stdout, stderr)
}

// run connects (or starts the embedded broker), plays the chosen
// chapters in order and reports.
func run(o options, stdout, stderr io.Writer) int {
	out := newPrinter(stdout, o)
	env := &env{fast: o.fast, out: out, amqpURL: o.url, apiURL: o.api, streamURL: o.streamURL}
	if o.url == "" {
		emb, err := startEmbedded()
		if err != nil {
			fmt.Fprintf(stderr, "warren demo: starting the embedded broker: %v\n", err)
			return exitFailed
		}
		defer emb.Stop()
		env.amqpURL, env.apiURL, env.embedded = emb.AMQPURL, emb.APIURL, true
		if env.streamURL == "" {
			env.streamURL = emb.StreamURL
		}
		out.note("An embedded Warren is running for this demo on %s (data in a temporary directory).", emb.AMQPAddr)
	} else if env.apiURL == "" {
		env.apiURL = defaultAPI(o.url)
	}
	if err := env.dial(); err != nil {
		fmt.Fprintf(stderr, "warren demo: %v\n", err)
		return exitFailed
	}
	defer env.close()

	rep := report{Fast: o.fast}
	code := exitOK
	for _, c := range story() {
		if o.chapter != 0 && c.n != o.chapter {
			continue
		}
		out.chapterTitle(c.n, c.title)
		env.figs = figures{}
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), env.budget())
		err := c.play(ctx, env)
		cancel()
		out.endProgress()
		r := chapterResult{Chapter: c.n, Title: c.title, Seconds: round3(time.Since(start).Seconds()), Figures: env.figs}
		if err != nil {
			r.Error = err.Error()
			out.failed(err)
			fmt.Fprintf(stderr, "warren demo: chapter %d: %v\n", c.n, err)
			code = exitFailed
		}
		rep.Chapters = append(rep.Chapters, r)
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "warren demo: %v\n", err)
			return exitFailed
		}
	}
	return code
}

// report is what --json prints.
type report struct {
	Fast     bool            `json:"fast"`
	Chapters []chapterResult `json:"chapters"`
}

type chapterResult struct {
	Chapter int     `json:"chapter"`
	Title   string  `json:"title"`
	Seconds float64 `json:"seconds"`
	Error   string  `json:"error,omitempty"`
	Figures figures `json:"figures"`
}

// figures are one chapter's measurements: counts (int) and durations in
// milliseconds (float64), and a few lists and maps.
type figures map[string]any

// chapter is one chapter of the story.
type chapter struct {
	n     int
	title string
	play  func(ctx context.Context, e *env) error
}

// story is the chapters in order (one file per chapter).
func story() []chapter {
	return []chapter{
		{1, "Synchronous calls versus one queued event", playSync},
		{2, "Pub/sub by pattern", playPubSub},
		{3, "Point-to-point: a work queue", playWorkQueue},
		{4, "A service down", playServiceDown},
		{5, "Acknowledgements", playAcks},
		{6, "The dead-letter queue and the replay", playDeadLetter},
		{7, "The log: a stream", playStream},
		{8, "Consumer groups on a super stream", playSuperStream},
		{9, "The choice: stream or queue", playChoice},
	}
}

// defaultAPI is the management API beside an AMQP URL: the same host and
// credentials on port 15672.
func defaultAPI(amqpURL string) string {
	u, err := parseURL(amqpURL)
	if err != nil {
		return "http://guest:guest@127.0.0.1:15672"
	}
	host := u.Hostname()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	cred := "guest:guest"
	if u.User != nil {
		cred = u.User.String()
	}
	return "http://" + cred + "@" + host + ":15672"
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// ms is a duration in milliseconds, to 0.1 ms.
func ms(d time.Duration) float64 { return float64(int64(d.Seconds()*10000+0.5)) / 10 }

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func itoa(n int) string { return strconv.Itoa(n) }
