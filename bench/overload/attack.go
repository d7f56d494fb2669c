package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// step is what one rate step measured.
type step struct {
	Label   string
	Offered float64 // requests/s asked of vegeta
	Sent    float64 // requests/s vegeta managed to start (below Offered when it ran out of CPU)
	OK      float64 // 2xx answers/s completed within the step
	Shed    float64 // 503 answers/s completed within the step, whatever their cause
	// Refused counts the 503s/s of those from warmkv's admission control (by
	// their message); the others come from a shared tier that did not answer.
	Refused  float64
	Other    float64 // any other answer, transport error or timeout, per second
	Timeouts int     // requests that hit -timeout (counted in Other too)
	// Latencies in milliseconds, of 2xx answers and of 503 answers.
	OKP50, OKP99, OKMax       float64
	ShedP50, ShedP99, ShedMax float64
	BadShed                   int     // 503s without Retry-After or without the JSON error envelope
	GenCPU, SrvCPU            float64 // % of one core used by this process and by the server
	OthersCPU                 float64 // % of one core used by every other process: noise
	FirstError                string
}

// msgOverloaded starts the message of admission control's 503 (handler/shed.go).
const msgOverloaded = "Server overloaded"

// stepHeader names the TSV columns, in the order of step.fields.
var stepHeader = []string{"label", "offered", "sent", "ok_rps", "503_rps", "refused_rps", "other_rps", "timeouts",
	"ok_p50_ms", "ok_p99_ms", "ok_max_ms", "503_p50_ms", "503_p99_ms", "503_max_ms",
	"bad_503", "gen_cpu_pct", "srv_cpu_pct", "others_cpu_pct", "first_error"}

// numbers lists the numeric fields in column order (after label, before
// first_error), for writing and parsing alike.
func (s *step) numbers() []*float64 {
	return []*float64{&s.Offered, &s.Sent, &s.OK, &s.Shed, &s.Refused, &s.Other, nil,
		&s.OKP50, &s.OKP99, &s.OKMax, &s.ShedP50, &s.ShedP99, &s.ShedMax,
		nil, &s.GenCPU, &s.SrvCPU, &s.OthersCPU}
}

func (s step) fields() []string {
	out := []string{s.Label}
	for i, p := range s.numbers() {
		switch {
		case p != nil:
			out = append(out, strconv.FormatFloat(*p, 'f', 3, 64))
		case stepHeader[i+1] == "timeouts":
			out = append(out, strconv.Itoa(s.Timeouts))
		default:
			out = append(out, strconv.Itoa(s.BadShed))
		}
	}
	return append(out, strings.Map(noTabs, s.FirstError))
}

func parseStep(fields []string) (step, error) {
	if len(fields) != len(stepHeader) {
		return step{}, fmt.Errorf("%d fields, want %d", len(fields), len(stepHeader))
	}
	s := step{Label: fields[0], FirstError: fields[len(fields)-1]}
	for i, p := range s.numbers() {
		v, err := strconv.ParseFloat(fields[i+1], 64)
		if err != nil {
			return step{}, fmt.Errorf("column %s: %w", stepHeader[i+1], err)
		}
		switch {
		case p != nil:
			*p = v
		case stepHeader[i+1] == "timeouts":
			s.Timeouts = int(v)
		default:
			s.BadShed = int(v)
		}
	}
	return s, nil
}

func attackMain(args []string) error {
	fs := flag.NewFlagSet("attack", flag.ExitOnError)
	base := fs.String("url", "http://127.0.0.1:7171", "server base URL")
	label := fs.String("label", "run", "name of this run in the output")
	ratesFlag := fs.String("rates", "5000,10000,20000,30000,40000", "comma-separated request rates (per second), one step each")
	duration := fs.Duration("duration", 3*time.Second, "how long each step sends")
	pause := fs.Duration("pause", time.Second, "idle time between steps, for the server to drain")
	keys := fs.Int("keys", 100000, "preloaded keys to read (must match bench/preload -keys)")
	keyLen := fs.Int("key-len", 20, "key length (must match bench/preload -key-len)")
	putPercent := fs.Int("put-percent", 0, "share of requests that are POST /put overwriting a preloaded key")
	valueLen := fs.Int("value-len", 100, "length of PUT values")
	timeout := fs.Duration("timeout", 5*time.Second, "a request not answered within this counts as a timeout")
	maxConns := fs.Int("max-conns", 8000, "most connections vegeta opens (0 = no limit); keep it under the fd limits")
	serverPID := fs.Int("server-pid", 0, "PID of the server, for its CPU use per step (0 = not measured)")
	out := fs.String("out", "", "append the steps to this TSV file (with a header if it is new)")
	warmup := fs.Duration("warmup", time.Second, "unrecorded sending at the first rate before the steps, to open connections")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the generator here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rates, err := parseRates(*ratesFlag)
	if err != nil {
		return err
	}
	u, err := url.Parse(*base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("-url must be http://host:port, got %q", *base)
	}
	if *keys < 1 || *keyLen < 8 || *putPercent < 0 || *putPercent > 100 {
		return errors.New("need -keys >= 1, -key-len >= 8 and -put-percent in 0..100")
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	targeter := newTargeter(*base, *keys, *keyLen, *putPercent, *valueLen)

	w := os.Stdout
	if *out != "" {
		_, statErr := os.Stat(*out)
		f, err := os.OpenFile(*out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644) //nolint:gosec // G302: a report for whoever runs the benchmark
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
		if statErr != nil {
			fmt.Fprintln(w, strings.Join(stepHeader, "\t"))
		}
	}
	// One client for the whole run, as a real client keeps its connection pool:
	// a fresh one per step would open hundreds of connections in its first
	// milliseconds, a burst that says more about the client than the server.
	transport := newFastTransport(u.Host, *maxConns, *timeout)
	defer transport.client.CloseIdleConnections()
	if *warmup > 0 {
		runStep(transport, "warmup", rates[0], *warmup, 0, targeter)
		time.Sleep(*pause)
	}
	for i, rate := range rates {
		if i > 0 {
			time.Sleep(*pause)
		}
		s := runStep(transport, *label, rate, *duration, *serverPID, targeter)
		if err := writeStep(w, s); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "%-9s offered %6.0f/s sent %6.0f/s: 2xx %6.0f/s (p99 %7.1fms) 503 %6.0f/s (p99 %6.1fms) other %5.0f/s  cpu gen %3.0f%% srv %3.0f%% others %3.0f%%\n",
			s.Label, s.Offered, s.Sent, s.OK, s.OKP99, s.Shed, s.ShedP99, s.Other, s.GenCPU, s.SrvCPU, s.OthersCPU)
	}
	return nil
}

func parseRates(s string) ([]int, error) {
	var rates []int
	for f := range strings.SplitSeq(s, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || r < 1 {
			return nil, fmt.Errorf("-rates: %q is not a positive integer", f)
		}
		rates = append(rates, r)
	}
	return rates, nil
}

// newTargeter picks a uniformly random preloaded key per request. The URLs and
// bodies are rendered up front: vegeta shares the box with the server, and every
// cycle it spends is one the server does not get.
func newTargeter(base string, keys, keyLen, putPercent, valueLen int) vegeta.Targeter {
	getURLs := make([]string, keys)
	for i := range getURLs {
		getURLs[i] = fmt.Sprintf("%s/get?key=k%0*d", base, keyLen-1, i)
	}
	putURL := base + "/put"
	putHeader := http.Header{"Content-Type": []string{"application/json"}}
	value := strings.Repeat("v", valueLen)
	return func(t *vegeta.Target) error {
		i := rand.IntN(keys)
		if putPercent > 0 && rand.IntN(100) < putPercent {
			t.Method = http.MethodPost
			t.URL = putURL
			t.Header = putHeader
			t.Body = fmt.Appendf(nil, `{"key":"k%0*d","value":"%s"}`, keyLen-1, i, value)
			return nil
		}
		t.Method = http.MethodGet
		t.URL = getURLs[i]
		t.Header = nil
		t.Body = nil
		return nil
	}
}

// runStep sends at rate for d and classifies every answer.
func runStep(transport *fastTransport, label string, rate int, d time.Duration, serverPID int, targeter vegeta.Targeter) step {
	attacker := vegeta.NewAttacker(
		vegeta.Client(&http.Client{
			Transport:     transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}),
		vegeta.MaxBody(4096),
	)
	pacer := vegeta.ConstantPacer{Freq: rate, Per: time.Second}

	var okLat, shedLat []time.Duration
	var okDone, shedDone, refused, other, timeouts, badShed, sent int
	var first, last time.Time
	var firstErr string
	genBefore, srvBefore, boxBefore := cpuTicks(os.Getpid()), cpuTicks(serverPID), busyTicks()
	began := time.Now()
	for res := range attacker.Attack(targeter, pacer, d, label) {
		sent++
		if first.IsZero() || res.Timestamp.Before(first) {
			first = res.Timestamp
		}
		if res.Timestamp.After(last) {
			last = res.Timestamp
		}
		// Throughput counts answers that completed inside the step: answers
		// to a backlog that drain afterwards are not throughput at this rate.
		inStep := res.Timestamp.Add(res.Latency).Sub(began) <= d
		switch {
		case res.Code >= 200 && res.Code < 300:
			okLat = append(okLat, res.Latency)
			if inStep {
				okDone++
			}
		case res.Code == http.StatusServiceUnavailable:
			shedLat = append(shedLat, res.Latency)
			if inStep {
				shedDone++
			}
			if inStep && bytes.Contains(res.Body, []byte(msgOverloaded)) {
				refused++
			}
			if res.Headers.Get("Retry-After") == "" || !bytes.HasPrefix(res.Body, []byte(`{"status":"ERROR","message":`)) {
				badShed++
				if firstErr == "" {
					firstErr = fmt.Sprintf("503 without Retry-After or JSON envelope: %v %.100s", res.Headers, res.Body)
				}
			}
		default:
			other++
			if strings.Contains(res.Error, "timeout") {
				timeouts++
			}
			if firstErr == "" {
				firstErr = fmt.Sprintf("%d %s", res.Code, res.Error)
			}
		}
	}
	genAfter, srvAfter, boxAfter := cpuTicks(os.Getpid()), cpuTicks(serverPID), busyTicks()
	wall := time.Since(began).Seconds()
	secs := d.Seconds()
	s := step{
		Label: label, Offered: float64(rate),
		OK: float64(okDone) / secs, Shed: float64(shedDone) / secs, Refused: float64(refused) / secs, Other: float64(other) / secs,
		Timeouts: timeouts, BadShed: badShed, FirstError: firstErr,
		GenCPU: ticksPercent(genAfter-genBefore, wall),
	}
	if serverPID > 0 {
		s.SrvCPU = ticksPercent(srvAfter-srvBefore, wall)
	}
	if boxBefore > 0 && boxAfter > 0 {
		s.OthersCPU = max(0, ticksPercent(boxAfter-boxBefore, wall)-s.GenCPU-s.SrvCPU)
	}
	if span := last.Sub(first).Seconds(); span > 0 {
		s.Sent = float64(sent-1) / span
	}
	s.OKP50, s.OKP99, s.OKMax = quantiles(okLat)
	s.ShedP50, s.ShedP99, s.ShedMax = quantiles(shedLat)
	return s
}

// quantiles returns p50, p99 and max of lat in milliseconds (zeros when empty).
func quantiles(lat []time.Duration) (p50, p99, worst float64) {
	if len(lat) == 0 {
		return 0, 0, 0
	}
	slices.Sort(lat)
	at := func(q float64) float64 {
		i := int(q*float64(len(lat))+0.5) - 1
		i = min(max(i, 0), len(lat)-1)
		return float64(lat[i]) / float64(time.Millisecond)
	}
	return at(0.50), at(0.99), float64(lat[len(lat)-1]) / float64(time.Millisecond)
}

// cpuTicks is the user+system CPU time of a process in clock ticks (0 if unknown).
func cpuTicks(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after "(comm) "; comm may hold spaces, so split after its last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime
}

// busyTicks is the CPU time (user, nice, system, steal) all processes used so far, in clock ticks, from
// the first line of /proc/stat (0 if unknown).
func busyTicks() int64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:9] {
		// Skip idle and iowait, and irq and softirq: loopback TCP is mostly
		// softirq work done on behalf of the server and the generator, which
		// their own counters do not include; it is not somebody else's load.
		if i == 3 || i == 4 || i == 5 || i == 6 {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return busy
}

// ticksPercent converts clock ticks (USER_HZ, 100 on Linux) over wall seconds
// to % of one core.
func ticksPercent(ticks int64, wall float64) float64 {
	const userHZ = 100
	if wall <= 0 {
		return 0
	}
	return float64(ticks) / userHZ / wall * 100
}

// writeStep appends one step's row to the table.
func writeStep(w *os.File, s step) error {
	_, err := fmt.Fprintln(w, strings.Join(s.fields(), "\t"))
	return err
}

func noTabs(r rune) rune {
	if r == '\t' || r == '\n' || r == '\r' {
		return ' '
	}
	return r
}
