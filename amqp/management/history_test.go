package management

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/warrenmq/warren/amqp/broker"
)

// TestRingSeries: a ring keeps its last rows; a series is newest first
// on incr boundaries, each boundary taking the newest row at or before
// it, and ends where the ring has nothing older.
func TestRingSeries(t *testing.T) {
	r := newRing(4, 1)
	for i := range int64(6) { // rows at 1 s .. 6 s; the ring keeps 3 s .. 6 s
		r.push((i+1)*1000, []int64{10 * (i + 1)})
	}
	if r.n != 4 {
		t.Fatalf("ring holds %d rows, want 4", r.n)
	}
	got := fmt.Sprint(r.series(col(0), 60_000, 2000))
	// newest row (6 s, 60) at boundary 6 s; 4 s -> the row at 4 s (40);
	// 2 s -> no row at or before it: the end.
	if want := "[{6000 60} {4000 40}]"; got != want {
		t.Errorf("series = %s, want %s", got, want)
	}
	got = fmt.Sprint(r.series(col(0), 2000, 1000))
	if want := "[{6000 60} {5000 50} {4000 40}]"; got != want {
		t.Errorf("series over 2 s = %s, want %s", got, want)
	}
	r.push(6500, []int64{65}) // between boundaries: stamped with the one before
	if got, want := fmt.Sprint(r.series(col(0), 1000, 1000)), "[{6000 65} {5000 50}]"; got != want {
		t.Errorf("series after 6.5 s = %s, want %s", got, want)
	}
	var empty *ring
	if s := empty.series(col(0), 1000, 1000); s != nil {
		t.Errorf("a missing ring has series %v", s)
	}
	if got, want := fmt.Sprint(sumSeries([][]point{{{2000, 1}, {1000, 2}}, {{2000, 10}}})), "[{2000 11} {1000 2}]"; got != want {
		t.Errorf("sumSeries = %s, want %s", got, want)
	}
}

// TestDetailsWith: avg_rate is (newest - oldest) per second over the
// samples' span, avg their mean, both only with two samples or more.
func TestDetailsWith(t *testing.T) {
	d := map[string]any{"rate": 0.0}
	detailsWith(d, []point{{10_000, 30}, {5000, 20}, {0, 10}})
	if d["avg_rate"] != 2.0 || d["avg"] != 20.0 {
		t.Errorf("avg_rate %v avg %v, want 2 and 20", d["avg_rate"], d["avg"])
	}
	one := map[string]any{}
	detailsWith(one, []point{{5000, 7}})
	if _, ok := one["avg_rate"]; ok || len(one["samples"].([]map[string]any)) != 1 {
		t.Errorf("one sample: %v", one)
	}
}

// TestWatchedQueuesBounded: at most maxWatched queues keep a ring (the
// least recently asked goes first); a queue not asked for in watchFor,
// or gone, is dropped at the next pass.
func TestWatchedQueuesBounded(t *testing.T) {
	h := newHistory(5 * time.Second)
	t0 := time.Unix(1000, 0)
	var qis []broker.QueueInfo
	for i := range maxWatched + 10 {
		q := broker.QueueInfo{Vhost: "/", Name: fmt.Sprintf("q%04d", i)}
		qis = append(qis, q)
		h.watchQueue(t0.Add(time.Duration(i)*time.Millisecond), &q)
	}
	if h.mu.count != maxWatched || len(h.mu.watched["/"]) != maxWatched {
		t.Fatalf("%d watched (%d in the map), want %d", h.mu.count, len(h.mu.watched["/"]), maxWatched)
	}
	if h.mu.watched["/"]["q0000"] != nil || h.mu.watched["/"][fmt.Sprintf("q%04d", maxWatched+9)] == nil {
		t.Errorf("the oldest ask was not the one evicted")
	}
	// A pass 5 s on: every watched queue that still exists gets a row.
	h.recordQueues(t0.Add(5*time.Second), "/", qis[:maxWatched]) // the last 10 are gone
	if h.mu.count != maxWatched-10 {
		t.Errorf("after the pass %d watched, want %d", h.mu.count, maxWatched-10)
	}
	wq := h.mu.watched["/"]["q0100"]
	if wq == nil || wq.r.n != 2 {
		t.Fatalf("q0100 watched with %v rows, want 2", wq)
	}
	// Nobody asks for 10 minutes: all dropped.
	h.recordQueues(t0.Add(watchFor+time.Second), "/", qis)
	if h.mu.count != 0 {
		t.Errorf("%d still watched after %v unasked", h.mu.count, watchFor)
	}
}

// TestHistoryRangesBadInput: a half or malformed pair is a 400 with a
// readable reason, never a crash.
func TestHistoryRangesBadInput(t *testing.T) {
	for _, q := range []string{"lengths_age=60", "lengths_incr=5", "lengths_age=x&lengths_incr=5", "msg_rates_age=60&msg_rates_incr=0",
		"msg_rates_age=-5&msg_rates_incr=5", "lengths_age=99999999&lengths_incr=1", "lengths_age=9223372036854775807&lengths_incr=9223372036854775807"} {
		w := httptest.NewRecorder()
		_, _, ok := historyRanges(w, httptest.NewRequest("GET", "/api/overview?"+q, nil))
		if ok || w.Code != http.StatusBadRequest {
			t.Errorf("%s: ok %v status %d, want a 400", q, ok, w.Code)
		}
	}
	w := httptest.NewRecorder()
	l, r, ok := historyRanges(w, httptest.NewRequest("GET", "/api/overview?lengths_age=600&lengths_incr=5&msg_rates_age=60&msg_rates_incr=10", nil))
	if !ok || l != (historyRange{600_000, 5000}) || r != (historyRange{60_000, 10_000}) {
		t.Errorf("ranges %v %v %v", l, r, ok)
	}
}

// TestPickerMatchesRoundTrip: the picker's columns of a queue and a
// stream queue encode as the JSON round trip's do, for every field.
func TestPickerMatchesRoundTrip(t *testing.T) {
	s := &Server{}
	q := broker.QueueInfo{Name: "a", Vhost: "/", Ready: 3, Unacked: 1, State: "running"}
	for _, v := range []any{s.queueJSON(&q, nil), s.streamQueueJSON(&q, &broker.StreamStats{}, nil)} {
		var cols [][]string
		for k := range toMap(v) {
			cols = append(cols, []string{k})
		}
		cols = append(cols, []string{"absent"}, []string{"message_stats", "publish_details", "rate"}, []string{"message_stats", "absent"},
			[]string{"policy", "deeper"}, []string{"stream", "bytes"})
		pk := picker{columns: cols}
		for range 2 { // the second time from the per-type cache
			got, _ := json.Marshal(pk.pick(v))
			want, _ := json.Marshal(pick(toMap(v), cols))
			var g, w any
			json.Unmarshal(got, &g)
			json.Unmarshal(want, &w)
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("%T: picker %s\nround trip %s", v, got, want)
			}
		}
	}
}
