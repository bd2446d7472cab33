package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Latency is a latency distribution in milliseconds.
type Latency struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

func latencyOf(h *Histogram) Latency {
	return Latency{Count: h.Count(), P50: ms(h.Quantile(0.50)), P95: ms(h.Quantile(0.95)),
		P99: ms(h.Quantile(0.99)), Max: ms(h.Max())}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Result is what one run measured. Rates are per second of the run's
// measurement window; RSS figures are bytes.
type Result struct {
	Scenario string  `json:"scenario,omitempty"`
	URL      string  `json:"url"` // password removed
	Mode     string  `json:"mode,omitempty"`
	Seconds  float64 `json:"seconds"` // measurement window

	Sent      int64   `json:"sent"`
	Received  int64   `json:"received"`
	Expected  int64   `json:"expected,omitempty"` // count mode: deliveries expected
	Confirmed int64   `json:"confirmed,omitempty"`
	Nacked    int64   `json:"nacked,omitempty"`
	SendRate  float64 `json:"send_rate"` // msg/s
	RecvRate  float64 `json:"recv_rate"` // msg/s
	SendMiBps float64 `json:"send_mib_s"`
	RecvMiBps float64 `json:"recv_mib_s"`

	Latency        Latency `json:"latency"`         // end to end
	ConfirmLatency Latency `json:"confirm_latency"` // publish to its ack

	BrokerCPUSeconds  float64 `json:"broker_cpu_s,omitempty"`
	MsgPerBrokerCPU   float64 `json:"msg_per_broker_cpu_s,omitempty"` // received (or sent, with no consumer) per broker CPU-second
	BrokerStartRSS    int64   `json:"broker_start_rss,omitempty"`
	BrokerPeakRSS     int64   `json:"broker_peak_rss,omitempty"`
	BrokerEndRSS      int64   `json:"broker_end_rss,omitempty"`
	ClientCPUSeconds  float64 `json:"client_cpu_s"`
	ClientCPUFraction float64 `json:"client_cpu_cores"` // client CPU-seconds per second: near the core count means client-bound

	// backlog
	FillSeconds  float64 `json:"fill_s,omitempty"`
	FillRate     float64 `json:"fill_rate,omitempty"`
	DrainSeconds float64 `json:"drain_s,omitempty"`
	DrainRate    float64 `json:"drain_rate,omitempty"`
	// The broker during the drain alone (with --broker-pid): its CPU, the
	// messages drained per CPU-second, its RSS at the drain's start and
	// end and its peak in between (a replay's memory: flat if the log is
	// read from disk).
	DrainBrokerCPU       float64 `json:"drain_broker_cpu_s,omitempty"`
	DrainMsgPerBrokerCPU float64 `json:"drain_msg_per_broker_cpu_s,omitempty"`
	DrainStartRSS        int64   `json:"drain_start_rss,omitempty"`
	DrainPeakRSS         int64   `json:"drain_peak_rss,omitempty"`
	DrainEndRSS          int64   `json:"drain_end_rss,omitempty"`
	// many-queues
	QueuesPerSec   float64 `json:"queues_per_s,omitempty"`
	DeletesPerSec  float64 `json:"queue_deletes_per_s,omitempty"`
	RSSPerQueue    float64 `json:"rss_per_queue,omitempty"`
	ConnsPerSec    float64 `json:"connections_per_s,omitempty"`
	RSSPerConn     float64 `json:"rss_per_connection,omitempty"`
	Objects        int     `json:"objects,omitempty"` // queues or connections made
	Incomplete     string  `json:"incomplete,omitempty"`
	BrokerPIDGiven bool    `json:"-"`
}

// redact removes the password from an AMQP URL.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = url.User(u.User.Username())
	return u.String()
}

// rate is n per second of d, 0 when d is not positive.
func rate(n float64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return n / d.Seconds()
}

// setBroker fills the broker figures from a sampler's report.
func (res *Result) setBroker(b brokerStats, pidGiven bool) {
	res.BrokerPIDGiven = pidGiven
	if !pidGiven {
		return
	}
	res.BrokerCPUSeconds = b.CPU.Seconds()
	res.BrokerStartRSS, res.BrokerPeakRSS, res.BrokerEndRSS = b.StartRSS, b.PeakRSS, b.EndRSS
	work := res.Received
	if work == 0 {
		work = res.Sent
	}
	if b.CPU > 0 {
		res.MsgPerBrokerCPU = float64(work) / b.CPU.Seconds()
	}
}

// writeJSON prints res as one indented JSON object.
func writeJSON(w io.Writer, res Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// writeSummary prints res for a person.
func writeSummary(w io.Writer, res Result) {
	name := res.Scenario
	if name == "" {
		name = "custom"
	}
	fmt.Fprintf(w, "\nwarren-perf %s against %s: %.2f s\n", name, res.URL, res.Seconds)
	row := func(label, format string, args ...any) {
		fmt.Fprintf(w, "  %-16s "+format+"\n", append([]any{label}, args...)...)
	}
	switch Mode(res.Mode) {
	case ModeQueues:
		row("queues", "%d declared and bound at %s/s, deleted at %s/s", res.Objects, num(res.QueuesPerSec), num(res.DeletesPerSec))
		if res.BrokerPIDGiven {
			row("broker RSS", "%s per queue (%s -> %s)", bytesIEC(res.RSSPerQueue), bytesIEC(float64(res.BrokerStartRSS)), bytesIEC(float64(res.BrokerEndRSS)))
		}
	case ModeIdleConns:
		row("connections", "%d opened at %s/s", res.Objects, num(res.ConnsPerSec))
		if res.BrokerPIDGiven {
			row("broker RSS", "%s per connection (%s -> %s)", bytesIEC(res.RSSPerConn), bytesIEC(float64(res.BrokerStartRSS)), bytesIEC(float64(res.BrokerEndRSS)))
		}
	default:
		if Mode(res.Mode) == ModeBacklog {
			row("fill", "%s msg in %.2f s: %s msg/s", num(float64(res.Sent)), res.FillSeconds, num(res.FillRate))
			row("drain", "%s msg in %.2f s: %s msg/s", num(float64(res.Received)), res.DrainSeconds, num(res.DrainRate))
			if res.BrokerPIDGiven {
				row("drain broker", "%.2f CPU s, %s msg per CPU-second; RSS %.1f MiB at start, peak %.1f, end %.1f",
					res.DrainBrokerCPU, num(res.DrainMsgPerBrokerCPU), mib(res.DrainStartRSS), mib(res.DrainPeakRSS), mib(res.DrainEndRSS))
			}
		} else {
			row("sent", "%s msg  %s msg/s  %s MiB/s", num(float64(res.Sent)), num(res.SendRate), num(res.SendMiBps))
			row("received", "%s msg  %s msg/s  %s MiB/s", num(float64(res.Received)), num(res.RecvRate), num(res.RecvMiBps))
		}
		if l := res.Latency; l.Count > 0 {
			row("latency", "p50 %s  p95 %s  p99 %s  max %s ms (%d samples)", msf(l.P50), msf(l.P95), msf(l.P99), msf(l.Max), l.Count)
		}
		if l := res.ConfirmLatency; l.Count > 0 {
			row("confirms", "%s acked, %d nacked; latency p50 %s  p99 %s  max %s ms", num(float64(res.Confirmed)), res.Nacked, msf(l.P50), msf(l.P99), msf(l.Max))
		}
		if res.BrokerPIDGiven {
			row("broker CPU", "%.2f s (%.0f%% of a core)  %s msg per CPU-second", res.BrokerCPUSeconds, 100*res.BrokerCPUSeconds/max(res.Seconds, 1e-9), num(res.MsgPerBrokerCPU))
			row("broker RSS", "start %s  peak %s  end %s", bytesIEC(float64(res.BrokerStartRSS)), bytesIEC(float64(res.BrokerPeakRSS)), bytesIEC(float64(res.BrokerEndRSS)))
		}
	}
	row("client CPU", "%.2f s (%.2f cores)", res.ClientCPUSeconds, res.ClientCPUFraction)
	if res.Incomplete != "" {
		row("incomplete", "%s", res.Incomplete)
	}
}

// progressLine is the once-a-second line.
func progressLine(elapsed time.Duration, sent, recv int64, sendRate, recvRate float64, lat, conf *Histogram) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%6.1fs  sent %s (%s/s)  recv %s (%s/s)", elapsed.Seconds(),
		num(float64(sent)), num(sendRate), num(float64(recv)), num(recvRate))
	if lat.Count() > 0 {
		fmt.Fprintf(&b, "  lat p50 %s p99 %s ms", msf(ms(lat.Quantile(0.5))), msf(ms(lat.Quantile(0.99))))
	}
	if conf.Count() > 0 {
		fmt.Fprintf(&b, "  confirm p50 %s p99 %s ms", msf(ms(conf.Quantile(0.5))), msf(ms(conf.Quantile(0.99))))
	}
	return b.String()
}

// num formats a count or rate with thousands separators and no decimals
// from 100 up; smaller values keep two significant decimals.
func num(v float64) string {
	if v != v { // NaN
		return "n/a"
	}
	if v < 0 {
		return "-" + num(-v)
	}
	if v < 100 {
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// msf formats milliseconds with three significant digits.
func msf(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}

// bytesIEC formats a byte count as KiB, MiB or GiB.
func bytesIEC(v float64) string {
	switch a := max(v, -v); {
	case a >= 1<<30:
		return fmt.Sprintf("%.2f GiB", v/(1<<30))
	case a >= 1<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case a >= 1<<10:
		return fmt.Sprintf("%.1f KiB", v/(1<<10))
	default:
		return fmt.Sprintf("%.0f B", v)
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
