package demo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
)

// The demo's tests run `warren demo` (Main) with --fast against an
// in-process Warren on 127.0.0.1:0 and check what each chapter measured,
// from its --json report.

// startBroker runs the embedded Warren until the test ends.
func startBroker(t *testing.T) *embedded {
	t.Helper()
	emb, err := startEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := emb.Stop(); err != nil {
			t.Error(err)
		}
	})
	return emb
}

// runDemo runs Main with args and returns its exit code, stdout and
// stderr.
func runDemo(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

// chapterReport runs one chapter with --fast --json against emb.
func chapterReport(t *testing.T, emb *embedded, n int) chapterResult {
	t.Helper()
	args := []string{"--fast", "--json", "--chapter", fmt.Sprint(n), "--url", emb.AMQPURL, "--api", emb.APIURL}
	if emb.StreamURL != "" {
		args = append(args, "--stream-url", emb.StreamURL)
	}
	code, out, errs := runDemo(args...)
	var rep report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("chapter %d: exit %d, stdout is not the JSON report (%v):\n%s\nstderr:\n%s", n, code, err, out, errs)
	}
	if code != exitOK || len(rep.Chapters) != 1 || rep.Chapters[0].Error != "" {
		t.Fatalf("chapter %d: exit %d, report %+v\nstderr:\n%s", n, code, rep, errs)
	}
	if !rep.Fast || rep.Chapters[0].Chapter != n {
		t.Fatalf("chapter %d: report %+v", n, rep)
	}
	return rep.Chapters[0]
}

// figs reads a chapter's figures as JSON decoded them.
type figs map[string]any

func (f figs) num(t *testing.T, key string) float64 {
	t.Helper()
	v, ok := f[key].(float64)
	if !ok {
		t.Fatalf("figure %q is %#v, want a number; figures %v", key, f[key], map[string]any(f))
	}
	return v
}

func (f figs) sub(t *testing.T, key string) figs {
	t.Helper()
	v, ok := f[key].(map[string]any)
	if !ok {
		t.Fatalf("figure %q is %#v, want an object", key, f[key])
	}
	return v
}

func (f figs) want(t *testing.T, want map[string]float64) {
	t.Helper()
	for k, w := range want {
		if got := f.num(t, k); got != w {
			t.Errorf("%s = %v, want %v (figures %v)", k, got, w, map[string]any(f))
		}
	}
}

func TestDemoChapters(t *testing.T) {
	emb := startBroker(t)
	for _, tc := range []struct {
		n     int
		check func(t *testing.T, f figs)
	}{
		{1, func(t *testing.T, f figs) {
			f.want(t, map[string]float64{"orders": 3, "services": 6, "delivered": 18})
			// --fast: the six latencies add up to 79 ms.
			if s := f.num(t, "sync_ms"); s < 79 {
				t.Errorf("sync_ms %v: less than the six latencies (79 ms)", s)
			}
			if q, s := f.num(t, "queued_ms"), f.num(t, "sync_ms"); q <= 0 || q >= s {
				t.Errorf("queued_ms %v, sync_ms %v: want the queued order answered sooner", q, s)
			}
		}},
		{2, func(t *testing.T, f figs) {
			f.want(t, map[string]float64{"published": 6, "delivered": 19})
			f.sub(t, "received").want(t, map[string]float64{"email": 6, "eu-warehouse": 3, "us-warehouse": 2, "fraud": 2, "audit": 6})
		}},
		{3, func(t *testing.T, f figs) {
			f.want(t, map[string]float64{"tasks": 30, "delivered": 30})
			s := f.sub(t, "share")
			fast, steady, slow := s.num(t, "fast"), s.num(t, "steady"), s.num(t, "slow")
			if fast+steady+slow != 30 || slow < 1 || fast <= slow {
				t.Errorf("shares fast %v steady %v slow %v: want 30 in all, each some, the fast worker more than the slow", fast, steady, slow)
			}
		}},
		{4, func(t *testing.T, f figs) {
			f.want(t, map[string]float64{"orders": 25, "email_handled": 25, "sms_backlog": 20, "sms_handled": 25, "left": 0, "lost": 0})
		}},
		{5, func(t *testing.T, f figs) {
			f.want(t, map[string]float64{"tasks": 5, "delivered": 6, "redelivered": 1, "completed": 5, "lost": 0, "lost_with_auto_ack": 1})
			if f["redelivered_is_the_crashed_one"] != true {
				t.Errorf("the redelivered task is not the one the crashed worker held: %v", map[string]any(f))
			}
		}},
		{6, func(t *testing.T, f figs) {
			f.want(t, map[string]float64{"payments": 5, "completed": 5, "poison_deliveries": 3, "dead_lettered": 1,
				"replayed": 1, "completed_after_replay": 1, "dlq_left": 0})
			if f["x_death_reason"] != "delivery_limit" || f["x_death_queue"] != "demo.ch6.payments" {
				t.Errorf("x-death: reason %v queue %v", f["x_death_reason"], f["x_death_queue"])
			}
		}},
		{7, func(t *testing.T, f figs) {
			f.want(t, map[string]float64{"published": 25, "from_first": 20, "from_offset": 5, "from_time": 10, "replayed": 25})
		}},
		{8, func(t *testing.T, f figs) {
			f.want(t, map[string]float64{"partitions": 6, "skipped": 0})
			if r, p := f.num(t, "read"), f.num(t, "published"); r != p || p == 0 {
				t.Errorf("read %v of %v published", r, p)
			}
			stages, _ := f["stages"].([]any)
			if len(stages) != 3 {
				t.Fatalf("stages %v, want 3", f["stages"])
			}
			for i, members := range []int{3, 4, 3} {
				st := figs(stages[i].(map[string]any))
				per := st.sub(t, "partitions")
				total, lo, hi := 0.0, 6.0, 0.0
				for m := range per {
					n := per.num(t, m)
					total, lo, hi = total+n, min(lo, n), max(hi, n)
				}
				if len(per) != members || total != 6 || lo < 1 || hi-lo > 1 {
					t.Errorf("stage %d (%v): partitions per consumer %v, want 6 over %d consumers, balanced", i+1, st["stage"], per, members)
				}
				// A consumer joining or leaving moves partitions.
				if moved := st.num(t, "moved"); i > 0 && moved < 1 {
					t.Errorf("stage %d (%v): %v partitions moved", i+1, st["stage"], moved)
				}
			}
		}},
		{9, func(t *testing.T, f figs) {
			ev := f.sub(t, "events")
			for name, want := range map[string]float64{"like": 20, "follow": 20, "comment": 10, "story-mention": 10, "weekly-summary": 10} {
				ev.sub(t, name).want(t, map[string]float64{"published": 10, "delivered": want})
			}
		}},
	} {
		t.Run(fmt.Sprintf("chapter %d", tc.n), func(t *testing.T) {
			r := chapterReport(t, emb, tc.n)
			tc.check(t, figs(r.Figures))
		})
	}
}

// Without a stream listener chapter 8 fails, saying so, and reports no
// figures.
func TestDemoChapter8WithoutStreamURL(t *testing.T) {
	emb := startBroker(t)
	code, out, errs := runDemo("--fast", "--json", "--chapter", "8", "--url", emb.AMQPURL, "--api", emb.APIURL)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitFailed, errs)
	}
	if !strings.Contains(errs, "chapter 8: no stream protocol listener was given") || !strings.Contains(errs, "--stream-url") {
		t.Errorf("stderr %q: want the missing stream URL named and --stream-url suggested", errs)
	}
	var rep report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Chapters) != 1 || !strings.Contains(rep.Chapters[0].Error, "no stream protocol listener") || len(rep.Chapters[0].Figures) != 0 {
		t.Errorf("report %+v", rep)
	}
}

// With no --url the demo starts its own Warren; the story is plain text
// (no colours: the output is not a terminal).
func TestDemoEmbeddedStory(t *testing.T) {
	code, out, errs := runDemo("--fast", "--chapter", "2")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	for _, want := range []string{"An embedded Warren is running", "Chapter 2. Pub/sub by pattern", "measured: 6 events published, 19 copies delivered"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("colour codes on a non-terminal:\n%q", out)
	}
	code, out, _ = runDemo("--fast", "--chapter", "2", "--color", "always")
	if code != exitOK || !strings.Contains(out, "\x1b[1m") {
		t.Errorf("--color always: exit %d, no colour codes in\n%q", code, out)
	}
}

func TestDemoBadUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--chapter", "10"}, "--chapter 10: want 1 to 9"},
		{[]string{"--chapter", "-1"}, "--chapter -1: want 1 to 9"},
		{[]string{"--chapter", "two"}, "invalid argument"},
		{[]string{"--colour"}, "unknown flag: --colour"},
		{[]string{"--color", "pink"}, `--color "pink": want auto, always or never`},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		code, out, errs := runDemo(tc.args...)
		if code != exitUsage || !strings.Contains(errs, tc.want) || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.args, code, out, errs, exitUsage, tc.want)
		}
	}
	code, out, _ := runDemo("--help")
	if code != exitOK || !strings.Contains(out, "--stream-url") || !strings.Contains(out, "8  consumer groups") {
		t.Errorf("--help: exit %d, %q", code, out)
	}
}

// A broker that is not there is an error that names it, not a hang.
func TestDemoUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	code, _, errs := runDemo("--fast", "--url", "amqp://guest:secret@"+addr+"/")
	if code != exitFailed || !strings.Contains(errs, "cannot connect to the broker at amqp://guest:xxxxx@"+addr) {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

func TestGroupBalanced(t *testing.T) {
	parts := []string{"p-0", "p-1", "p-2", "p-3", "p-4", "p-5"}
	for _, tc := range []struct {
		owner   map[string]string
		members []string
		ok      bool
	}{
		{map[string]string{"p-0": "a", "p-1": "b", "p-2": "c", "p-3": "a", "p-4": "b", "p-5": "c"}, []string{"a", "b", "c"}, true},
		{map[string]string{"p-0": "a", "p-1": "b", "p-2": "c", "p-3": "d", "p-4": "a", "p-5": "b"}, []string{"a", "b", "c", "d"}, true},
		// d has none yet.
		{map[string]string{"p-0": "a", "p-1": "b", "p-2": "c", "p-3": "a", "p-4": "b", "p-5": "c"}, []string{"a", "b", "c", "d"}, false},
		// p-5 has no active member (moving).
		{map[string]string{"p-0": "a", "p-1": "b", "p-2": "c", "p-3": "a", "p-4": "b"}, []string{"a", "b", "c"}, false},
		// b left but is still recorded on p-1.
		{map[string]string{"p-0": "a", "p-1": "b", "p-2": "c", "p-3": "a", "p-4": "c", "p-5": "c"}, []string{"a", "c"}, false},
		// 4 and 2.
		{map[string]string{"p-0": "a", "p-1": "a", "p-2": "a", "p-3": "a", "p-4": "b", "p-5": "b"}, []string{"a", "b"}, false},
	} {
		g := &group{owner: tc.owner}
		if _, ok := g.balanced(parts, tc.members); ok != tc.ok {
			t.Errorf("owners %v members %v: balanced %v, want %v", tc.owner, tc.members, ok, tc.ok)
		}
	}
}
