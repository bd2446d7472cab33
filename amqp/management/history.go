package management

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/warrenmq/warren/amqp/broker"
)

// Sampled history, as RabbitMQ's ?lengths_age=600&lengths_incr=5 and
// ?msg_rates_age=600&msg_rates_incr=5 answer it: beside "rate", a
// *_details object gets "samples" ([{"sample": N, "timestamp": ms}],
// newest first, the timestamps multiples of incr), "avg_rate" and "avg".
// Lengths (queue_totals, a queue's messages*) sample the gauge; message
// rates (message_stats.*) sample the counter, as RabbitMQ does.
//
// The sampler's pass (every StatsInterval) appends one row to a ring:
//
//	ring.rows: [ts_ms v0 v1 ... v(w-1)] [ts_ms v0 ...] ...   cap rows of 1+w int64
//
// Rings are kept for every vhost (the overview sums the vhosts its user
// sees: nStat figures, 144 bytes a row, 17 KiB a vhost over 10 minutes
// at 5 s) and for the queues someone asked the history of in the last
// watchFor (nQ counters, 88 bytes a row, 10.6 KiB a queue), at most
// maxWatched of them: 2.7 MiB at worst, nothing for a queue nobody
// looks at. RabbitMQ keeps a queue's history from its first event; a
// queue's history here starts at its first ask (the ask itself is its
// first sample), so a queue page opened again within 10 minutes finds
// its charts filled.

const (
	historySpan = 10 * time.Minute // rabbitmq: sample_retention_policies basic {605, 5}
	maxRows     = 121              // 10 minutes at 5 s, and the bound at any interval
	watchFor    = 10 * time.Minute
	maxWatched  = 256
	maxSamples  = 1000 // the most samples one figure answers
)

// ring holds the latest rows of w values and their times, oldest
// overwritten first.
type ring struct {
	w, n, next int
	rows       []int64
}

func newRing(capRows, w int) *ring { return &ring{w: w, rows: make([]int64, capRows*(1+w))} }

func (r *ring) cap() int { return len(r.rows) / (1 + r.w) }

func (r *ring) push(ts int64, vals []int64) {
	row := r.rows[r.next*(1+r.w) : (r.next+1)*(1+r.w)]
	row[0] = ts
	copy(row[1:], vals)
	r.next = (r.next + 1) % r.cap()
	r.n = min(r.n+1, r.cap())
}

// row is the i-th newest row (i < r.n): its time and values.
func (r *ring) row(i int) (int64, []int64) {
	k := (r.next - 1 - i + 2*r.cap()) % r.cap()
	row := r.rows[k*(1+r.w) : (k+1)*(1+r.w)]
	return row[0], row[1:]
}

// point is one sample of a figure.
type point struct{ ts, v int64 }

// series is the figure f of r's rows over the last age ms at every incr
// ms, newest first: the newest row is the first sample, stamped with the
// multiple of incr at or before it (never in the future); each older
// boundary takes the newest row at or before it; it ends where r has no
// older row (RabbitMQ answers zeros there, from before the object
// existed; here the object may have existed, unwatched).
func (r *ring) series(f func([]int64) int64, age, incr int64) []point {
	if r == nil || r.n == 0 {
		return nil
	}
	ts0, vals := r.row(0)
	top := ts0 / incr * incr
	out := []point{{top, f(vals)}}
	i := 0
	for k := int64(1); k*incr <= age && len(out) < maxSamples; k++ {
		t := top - k*incr
		for i < r.n {
			ts, _ := r.row(i)
			if ts <= t {
				break
			}
			i++
		}
		if i == r.n {
			break
		}
		_, vals := r.row(i)
		out = append(out, point{t, f(vals)})
	}
	return out
}

// sumSeries adds series point by point (they share the boundaries; a
// boundary some lack counts what the others have).
func sumSeries(all [][]point) []point {
	var out []point
	for _, s := range all {
		for i, p := range s {
			if i < len(out) {
				out[i].v += p.v
			} else {
				out = append(out, p)
			}
		}
	}
	return out
}

// detailsWith adds samples, avg_rate and avg to a *_details object.
func detailsWith(d map[string]any, pts []point) {
	samples := make([]map[string]any, len(pts))
	var sum float64
	for i, p := range pts {
		samples[i] = map[string]any{"sample": p.v, "timestamp": p.ts}
		sum += float64(p.v)
	}
	d["samples"] = samples
	if n := len(pts); n > 1 {
		newest, oldest := pts[0], pts[n-1]
		d["avg_rate"] = float64(newest.v-oldest.v) * 1000 / float64(newest.ts-oldest.ts)
		d["avg"] = sum / float64(n)
	}
}

// historyRange is one ?<prefix>_age=&<prefix>_incr= pair in ms (zero: not
// asked).
type historyRange struct{ age, incr int64 }

// historyRanges reads lengths_* and msg_rates_*; a bad pair answers 400.
func historyRanges(w http.ResponseWriter, r *http.Request) (lengths, rates historyRange, ok bool) {
	read := func(prefix string) (historyRange, error) {
		q := r.URL.Query()
		a, i := q.Get(prefix+"_age"), q.Get(prefix+"_incr")
		if a == "" && i == "" {
			return historyRange{}, nil
		}
		age, err1 := strconv.ParseInt(a, 10, 64)
		incr, err2 := strconv.ParseInt(i, 10, 64)
		if err1 != nil || err2 != nil || age <= 0 || incr <= 0 {
			return historyRange{}, fmt.Errorf("%s_age and %s_incr must both be positive whole numbers of seconds", prefix, prefix)
		}
		if age/incr > maxSamples || age > 1<<40 {
			return historyRange{}, fmt.Errorf("%s_age / %s_incr is over %d samples", prefix, prefix, maxSamples)
		}
		return historyRange{age * 1000, incr * 1000}, nil
	}
	var err error
	if lengths, err = read("lengths"); err == nil {
		rates, err = read("msg_rates")
	}
	if err != nil {
		badRequest(w, err.Error())
		return lengths, rates, false
	}
	return lengths, rates, true
}

// history is the rings, written by the sampler's pass and read by
// handlers. mu is a leaf: held to append a pass or copy out a series,
// never while calling the core.
type history struct {
	rows int
	mu   struct {
		sync.Mutex
		vhosts  map[string]*ring
		watched map[string]map[string]*watchedQueue // vhost -> queue
		count   int
	}
}

type watchedQueue struct {
	r     *ring
	asked time.Time
}

func newHistory(interval time.Duration) *history {
	h := &history{rows: max(2, min(maxRows, int(historySpan/interval)+1))}
	h.mu.vhosts = map[string]*ring{}
	h.mu.watched = map[string]map[string]*watchedQueue{}
	return h
}

func int64s(v *vec, out []int64) []int64 {
	for i := range v {
		out[i] = int64(v[i])
	}
	return out
}

// recordVhosts appends a pass's vhost figures; vhosts gone lose theirs.
func (h *history) recordVhosts(at time.Time, vs map[string]*vhostSamples) {
	if h == nil {
		return // a sampler made without one (tests)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	ts := at.UnixMilli()
	buf := make([]int64, nStat)
	for name, x := range vs {
		r := h.mu.vhosts[name]
		if r == nil {
			r = newRing(h.rows, int(nStat))
			h.mu.vhosts[name] = r
		}
		r.push(ts, int64s(&x.total.val, buf))
	}
	for name := range h.mu.vhosts {
		if vs[name] == nil {
			delete(h.mu.vhosts, name)
			h.forgetVhostLocked(name)
		}
	}
}

func (h *history) forgetVhostLocked(vhost string) {
	h.mu.count -= len(h.mu.watched[vhost])
	delete(h.mu.watched, vhost)
}

// queueRow is a queue's counters as a ring row (the nQ figures).
func queueRow(qi *broker.QueueInfo, out []int64) []int64 {
	c := &qi.Counters
	copy(out, []int64{int64(c.Published), int64(c.Delivered), int64(c.DeliveredNoAck), int64(c.Get),
		int64(c.GetNoAck), int64(c.GetEmpty), int64(c.Redelivered), int64(c.Acked), int64(qi.Ready), qi.Unacked})
	return out
}

// recordQueues appends a pass's figures of the watched queues of a vhost
// (qis in name order); a queue not asked for in watchFor, or gone, is
// dropped.
func (h *history) recordQueues(at time.Time, vhost string, qis []broker.QueueInfo) {
	if h == nil {
		return // a sampler made without one (tests)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	ws := h.mu.watched[vhost]
	if len(ws) == 0 {
		return
	}
	buf := make([]int64, nQ)
	for name, wq := range ws {
		i, found := slices.BinarySearchFunc(qis, name, func(q broker.QueueInfo, n string) int {
			switch {
			case q.Name < n:
				return -1
			case q.Name > n:
				return 1
			}
			return 0
		})
		if !found || at.Sub(wq.asked) > watchFor {
			delete(ws, name)
			h.mu.count--
			continue
		}
		wq.r.push(at.UnixMilli(), queueRow(&qis[i], buf))
	}
}

// watchQueue marks q as asked for at now, starting its ring with its
// figures now if it has none (evicting the least recently asked queue
// past maxWatched), and returns its series of the figures asked.
func (h *history) watchQueue(now time.Time, q *broker.QueueInfo) *watchedQueue {
	h.mu.Lock()
	defer h.mu.Unlock()
	ws := h.mu.watched[q.Vhost]
	if ws == nil {
		ws = map[string]*watchedQueue{}
		h.mu.watched[q.Vhost] = ws
	}
	wq := ws[q.Name]
	if wq == nil {
		if h.mu.count >= maxWatched {
			h.evictOldestLocked()
		}
		wq = &watchedQueue{r: newRing(h.rows, nQ)}
		wq.r.push(now.UnixMilli(), queueRow(q, make([]int64, nQ)))
		ws[q.Name] = wq
		h.mu.count++
	}
	wq.asked = now
	return wq
}

func (h *history) evictOldestLocked() {
	var ov, on string
	var oldest *watchedQueue
	for v, ws := range h.mu.watched {
		for n, wq := range ws {
			if oldest == nil || wq.asked.Before(oldest.asked) {
				ov, on, oldest = v, n, wq
			}
		}
	}
	if oldest != nil {
		delete(h.mu.watched[ov], on)
		h.mu.count--
	}
}

// queueSeries is the series of a watched queue's figure.
func (h *history) queueSeries(wq *watchedQueue, f func([]int64) int64, rg historyRange) []point {
	h.mu.Lock()
	defer h.mu.Unlock()
	return wq.r.series(f, rg.age, rg.incr)
}

// vhostsSeries is the sum of the vhosts' series of a figure.
func (h *history) vhostsSeries(vhosts []string, f func([]int64) int64, rg historyRange) []point {
	h.mu.Lock()
	defer h.mu.Unlock()
	var all [][]point
	for _, v := range vhosts {
		if s := h.mu.vhosts[v].series(f, rg.age, rg.incr); s != nil {
			all = append(all, s)
		}
	}
	return sumSeries(all)
}

// col reads one figure of a row.
func col(i int) func([]int64) int64 { return func(v []int64) int64 { return v[i] } }

// queueFigure reads a queue row's figure of stat st (deliver_get and
// messages are sums, as the sampler makes them).
func queueFigure(st stat) func([]int64) int64 {
	switch st {
	case statDeliverGet:
		return func(v []int64) int64 { return v[qDeliver] + v[qDeliverNoAck] + v[qGet] + v[qGetNoAck] }
	case statMessages:
		return func(v []int64) int64 { return v[qReady] + v[qUnacked] }
	}
	for i := range nQ {
		if queueStat(i) == st {
			return col(i)
		}
	}
	return func([]int64) int64 { return 0 }
}

// gaugeStats are the lengths a history samples.
var gaugeStats = [...]stat{statMessages, statReady, statUnacked}

// addSamples puts the samples of each of stats, over rg, into the
// *_details objects of into.
func addSamples(into map[string]any, stats []stat, rg historyRange, series func(stat, historyRange) []point) {
	if rg.incr == 0 || into == nil {
		return
	}
	for _, st := range stats {
		if d, ok := into[statName(st)+"_details"].(map[string]any); ok {
			detailsWith(d, series(st, rg))
		}
	}
}
