// Command coldstart measures what a new warmkv instance costs before it serves,
// in the three places warmkv runs, each against its own baseline in the same
// run (bench/coldstart.sh builds the binaries and calls it):
//
//   - Lambda: the INIT duration AWS's Runtime Interface Emulator reports for the
//     bootstrap's cold start, against a hello-world aws-lambda-go function, at
//     several function sizes. Target: median <= 2 x hello's median + 10 ms.
//   - Vercel: the function (api/index.go behind a go-bridge-style main) under the
//     same emulator: the REPORT Duration of its first request against its second.
//     Target: the first costs at most 10 ms more. The emulator folds the INIT of
//     an on-demand start into the first REPORT's Duration, which Lambda reports
//     apart, so the INIT duration is taken off it.
//   - Standalone: from exec to the first 200 from /healthz at several
//     MAX_MEMORY budgets. Target: the largest at most 1.5 x the smallest, both
//     under 100 ms. Then, holding one key, memoryUsed at most 32 MiB and RSS at
//     most 64 MiB at every budget.
//
// Runs alternate between the things compared, so that drift on a shared
// machine hits both alike; each figure is the median of -runs, with min-max.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	rie := flag.String("rie", "", "aws-lambda-rie executable")
	warmkvLambda := flag.String("bootstrap", "", "warmkv's Lambda bootstrap")
	hello := flag.String("hello", "", "the hello-world Lambda bootstrap")
	vercelFn := flag.String("vercel", "", "the Vercel function bootstrap (bench/vercelfn)")
	standalone := flag.String("warmkv", "", "warmkv's standalone binary")
	runs := flag.Int("runs", 10, "cold starts per figure")
	sizes := flag.String("sizes", "128,1024,3008", "Lambda function sizes, MB")
	vercelMB := flag.Int("vercel-mb", 1024, "the Vercel function's memory, MB (vercel.json)")
	budgets := flag.String("budgets", "64MiB,256MiB,1GiB,3GiB", "standalone MAX_MEMORY values; the first is the baseline")
	flag.Parse()

	var failed bool
	check := func(err error) {
		if err != nil {
			fmt.Fprintln(os.Stderr, "coldstart:", err)
			failed = true
		}
	}
	if *rie != "" && *warmkvLambda != "" && *hello != "" {
		check(lambdaInit(*rie, *warmkvLambda, *hello, strings.Split(*sizes, ","), *runs))
	}
	if *rie != "" && *vercelFn != "" {
		check(vercelFirstRequest(*rie, *vercelFn, *vercelMB, *runs))
	}
	if *standalone != "" {
		check(standaloneReady(*standalone, strings.Split(*budgets, ","), *runs))
	}
	if failed {
		os.Exit(1)
	}
}

// ---------------------------------------------------------------- Lambda

func lambdaInit(rie, warmkv, hello string, sizes []string, runs int) error {
	fmt.Printf("== Lambda INIT under aws-lambda-rie (ms, median of %d, min-max); target: warmkv <= 2 x hello + 10 ms\n", runs)
	fmt.Printf("%-8s %-22s %-22s %-8s %s\n", "size MB", "warmkv", "hello", "target", "verdict")
	for _, size := range sizes {
		var w, h []float64
		for i := range runs {
			order := []string{warmkv, hello}
			if i%2 == 1 {
				order[0], order[1] = hello, warmkv
			}
			for _, bin := range order {
				inv, err := coldInvocations(rie, bin, []string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + size}, healthzEvent, 1)
				if err != nil {
					return fmt.Errorf("%s at %s MB: %w", bin, size, err)
				}
				if bin == warmkv {
					w = append(w, inv.init)
				} else {
					h = append(h, inv.init)
				}
			}
		}
		target := 2*median(h) + 10
		fmt.Printf("%-8s %-22s %-22s %-8.1f %s\n", size, spread(w), spread(h), target, verdict(median(w) <= target))
	}
	fmt.Println()
	return nil
}

// healthzEvent is an HTTP API (payload 2.0) GET /healthz.
const healthzEvent = `{"version":"2.0","routeKey":"$default","rawPath":"/healthz","rawQueryString":"",` +
	`"headers":{"host":"example.execute-api.us-east-1.amazonaws.com"},` +
	`"requestContext":{"stage":"$default","http":{"method":"GET","path":"/healthz","sourceIp":"203.0.113.7"}},"isBase64Encoded":false}`

// vercelEvent is a request as Vercel's bridge receives it.
func vercelEvent(method, path string) string {
	req := fmt.Sprintf(`{"method":%q,"path":%q,"host":"warmkv.vercel.app","headers":{"x-forwarded-for":"203.0.113.7"},"body":"","encoding":""}`, method, path)
	return fmt.Sprintf(`{"body":%s}`, strconv.Quote(req))
}

// ---------------------------------------------------------------- Vercel

func vercelFirstRequest(rie, fn string, mb, runs int) error {
	fmt.Printf("== Vercel function under aws-lambda-rie: REPORT Duration, the first's without INIT (ms, median of %d, min-max); target: first - second <= 10 ms\n", runs)
	var first, second, diff []float64
	for range runs {
		inv, err := coldInvocations(rie, fn, []string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(mb), "VERCEL=1"},
			vercelEvent("GET", "/get?key=first"), 2)
		if err != nil {
			return fmt.Errorf("the Vercel function: %w", err)
		}
		// The emulator starts the runtime on the first invocation and counts
		// that INIT in the first REPORT's Duration; Lambda reports the two
		// apart, so the INIT comes off here.
		one := inv.durations[0] - inv.init
		first = append(first, one)
		second = append(second, inv.durations[1])
		diff = append(diff, one-inv.durations[1])
	}
	fmt.Printf("first request %s, second %s, first - second %s: %s\n\n",
		spread(first), spread(second), spread(diff), verdict(median(diff) <= 10))
	return nil
}

// invocations is what the emulator reported for one cold process.
type invocations struct {
	init      float64   // INIT duration, ms
	durations []float64 // each invocation's REPORT Duration, ms
}

var (
	initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	report     = regexp.MustCompile(`REPORT RequestId: \S+\s+(?:Init Duration: [0-9.]+ ms\s+)?Duration: ([0-9.]+) ms`)
)

// coldInvocations starts bootstrap under a fresh emulator, invokes it n times
// with event, and returns the durations the emulator logged.
func coldInvocations(rie, bootstrap string, env []string, event string, n int) (invocations, error) {
	addr, err := freeAddr()
	if err != nil {
		return invocations{}, err
	}
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr, bootstrap)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "AWS_REGION=us-east-1", "AWS_LAMBDA_FUNCTION_NAME=coldstart",
		"_HANDLER=bootstrap", "APP_ENV=production"}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so the bootstrap dies with it
	var log syncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		return invocations{}, err
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	if err := waitListening(addr, 10*time.Second); err != nil {
		return invocations{}, err
	}
	url := "http://" + addr + "/2015-03-31/functions/function/invocations"
	for range n {
		resp, err := http.Post(url, "application/json", strings.NewReader(event))
		if err != nil {
			return invocations{}, err
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || bytes.Contains(body, []byte(`"errorType"`)) {
			return invocations{}, fmt.Errorf("invocation answered %d %s\n%s", resp.StatusCode, body, log.String())
		}
	}
	// The REPORT line follows the answer by a moment.
	var inv invocations
	deadline := time.Now().Add(5 * time.Second)
	for {
		out := log.String()
		inits := initReport.FindAllStringSubmatch(out, -1)
		reports := report.FindAllStringSubmatch(out, -1)
		if len(inits) >= 1 && len(reports) >= n {
			inv.init = atof(inits[0][1])
			for _, r := range reports[:n] {
				inv.durations = append(inv.durations, atof(r[1]))
			}
			return inv, nil
		}
		if time.Now().After(deadline) {
			return inv, fmt.Errorf("the emulator reported %d INITs and %d REPORTs, want 1 and %d:\n%s", len(inits), len(reports), n, out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ---------------------------------------------------------------- standalone

func standaloneReady(bin string, budgets []string, runs int) error {
	fmt.Printf("== standalone: exec to the first 200 from /healthz (ms, median of %d, min-max); target: %s <= 1.5 x %s, both < 100 ms\n",
		runs, budgets[len(budgets)-1], budgets[0])
	times := make(map[string][]float64)
	mem := make(map[string]oneKey)
	for i := range runs {
		order := slices.Clone(budgets)
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, b := range order {
			ms, m, err := readyTime(bin, b)
			if err != nil {
				return fmt.Errorf("MAX_MEMORY=%s: %w", b, err)
			}
			times[b] = append(times[b], ms)
			mem[b] = m
		}
	}
	fmt.Printf("%-20s %-22s %s\n", "", "ready", "holding one key: memoryUsed, RSS (targets 32 MiB, 64 MiB)")
	for _, b := range budgets {
		m := mem[b]
		fmt.Printf("MAX_MEMORY=%-9s %-22s %.1f MiB, %.1f MiB: %s\n", b, spread(times[b]),
			float64(m.used)/(1<<20), float64(m.rss)/(1<<20), verdict(m.used <= 32<<20 && m.rss <= 64<<20))
	}
	base, top := median(times[budgets[0]]), median(times[budgets[len(budgets)-1]])
	fmt.Printf("ratio %s / %s = %.2f: %s\n\n", budgets[len(budgets)-1], budgets[0], top/base,
		verdict(top <= 1.5*base && top < 100 && base < 100))
	return nil
}

// oneKey is what a fresh server holding one key reports and occupies.
type oneKey struct{ used, rss int64 }

// readyTime runs the server with budget and returns the milliseconds from
// starting it to its first 200 on /healthz; then it stores one key and reads
// the server's memoryUsed and resident set.
func readyTime(bin, budget string) (float64, oneKey, error) {
	addr, err := freeAddr()
	if err != nil {
		return 0, oneKey{}, err
	}
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin)
	cmd.Env = []string{"PORT=" + port, "BIND=127.0.0.1", "RESP_PORT=0", "APP_ENV=production", "MAX_MEMORY=" + budget}
	var log syncBuffer
	cmd.Stderr = &log
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, oneKey{}, err
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	for time.Since(start) < 10*time.Second {
		if healthy(addr) {
			ready := float64(time.Since(start).Microseconds()) / 1000
			m, err := holdOneKey(addr, cmd.Process.Pid)
			return ready, m, err
		}
		time.Sleep(200 * time.Microsecond)
	}
	return 0, oneKey{}, fmt.Errorf("no answer from /healthz within 10 s:\n%s", log.String())
}

// holdOneKey stores a key, then reads /stats' memoryUsed and the process's
// VmRSS.
func holdOneKey(addr string, pid int) (oneKey, error) {
	base := "http://" + addr
	resp, err := http.Post(base+"/put", "application/json", strings.NewReader(`{"key":"one","value":"key"}`))
	if err != nil {
		return oneKey{}, err
	}
	_ = resp.Body.Close()
	resp, err = http.Get(base + "/stats")
	if err != nil {
		return oneKey{}, err
	}
	var st struct {
		MemoryUsed int64 `json:"memoryUsed"`
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	_ = resp.Body.Close()
	if err != nil {
		return oneKey{}, err
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return oneKey{}, err
	}
	m := oneKey{used: st.MemoryUsed}
	for line := range strings.Lines(string(status)) {
		if kb, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(kb), " kB"), 10, 64)
			m.rss = n << 10
		}
	}
	return m, nil
}

// healthy sends one GET /healthz on a new connection and reports a 200.
func healthy(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "HTTP/1.1 200")
}

// ---------------------------------------------------------------- helpers

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String(), nil
}

func waitListening(addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return errors.New("the emulator never listened on " + addr)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func atof(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// spread is "median (min-max)".
func spread(xs []float64) string {
	return fmt.Sprintf("%.1f (%.1f-%.1f)", median(xs), slices.Min(xs), slices.Max(xs))
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
