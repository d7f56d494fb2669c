package main

import (
	"bytes"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// coherence measures how long instance A keeps answering a key's old value
// after instance B acknowledged a change to it. For each of -n fresh keys:
//
//  1. B writes "old"; once A's /stats shows that write's invalidation arrived
//     (else it could drop the copy A is about to make), A reads the key twice:
//     the first read fetches it from the shared tier, the second is answered
//     by A's local copy, which is now warm;
//  2. B writes "new" (op update) or deletes the key (op delete), and the
//     moment B's answer arrives is the acknowledgement;
//  3. A is read in a tight loop until it answers the change; the delay is
//     from the acknowledgement to the arrival of that first fresh answer, so it
//     includes one round trip to A.
//
// A read of "old" after the acknowledgement is a stale read. Without the
// invalidation A would answer "old" until its copy is -local-ttl old; a delay
// beyond -local-ttl breaks even that bound. A key still stale -grace after
// -local-ttl is given up on (counted as beyond).
func coherence(args []string) error {
	fs := flag.NewFlagSet("coherence", flag.ContinueOnError)
	baseA := fs.String("a", "", "base URL of the reading instance A")
	baseB := fs.String("b", "", "base URL of the writing instance B")
	n := fs.Int("n", 2000, "keys (iterations) per operation")
	ops := fs.String("ops", "update,delete", "operations to measure, comma-separated: update, delete")
	localTTL := fs.Duration("local-ttl", time.Second, "A's LOCAL_TTL: the bound the delays are checked against")
	grace := fs.Duration("grace", time.Second, "how long past -local-ttl to keep polling a stale key")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if *n < 1 || *localTTL < 0 || *grace < 0 {
		return usageError("need -n >= 1, -local-ttl >= 0, -grace >= 0")
	}
	a, err := newClient(*baseA, 1)
	if err != nil {
		return usageError("-a: " + err.Error())
	}
	b, err := newClient(*baseB, 1)
	if err != nil {
		return usageError("-b: " + err.Error())
	}
	// Fresh key names per invocation: a rerun against the same Redis must
	// not find the previous run's values.
	run := fmt.Sprintf("%x", time.Now().UnixNano())
	problems := 0
	for _, op := range strings.Split(*ops, ",") {
		if op != "update" && op != "delete" {
			return usageError(fmt.Sprintf("unknown operation %q (want update, delete)", op))
		}
		before, err := fetchShared(a, *baseA)
		if err != nil {
			return err
		}
		m := &measurement{
			a: a, b: b, baseA: *baseA, baseB: *baseB, op: op,
			giveUp: *localTTL + *grace, invalidations: before.Shared.Invalidations,
		}
		start := time.Now()
		for i := range *n {
			if err := m.iteration(fmt.Sprintf("coh-%s-%s-%d", run, op, i)); err != nil {
				return fmt.Errorf("%s, key %d: %w", op, i, err)
			}
		}
		elapsed := time.Since(start)
		after, err := fetchShared(a, *baseA)
		if err != nil {
			return err
		}
		sortDurations(m.delays)
		beyond := 0
		for _, d := range m.delays {
			if d > *localTTL {
				beyond++
			}
		}
		d := after.Shared.sub(*before.Shared)
		// Every local hit on A is the second read of an iteration or a stale
		// read after the change: fewer means some copies were not warm.
		warmCopies := int64(d.LocalHits) - int64(m.staleReads)
		fmt.Printf("result op=%s n=%d p50ms=%s p99ms=%s maxms=%s beyondTTL=%d staleKeys=%d staleReads=%d wrong=%d staleHeader=%d warmCopies=%d seconds=%.1f A:%s\n",
			op, *n, ms(percentile(m.delays, 50)), ms(percentile(m.delays, 99)), ms(percentile(m.delays, 100)),
			beyond, m.staleKeys, m.staleReads, m.wrong, m.staleHeader, warmCopies, elapsed.Seconds(), d.fields())
		problems += m.wrong
	}
	if problems > 0 {
		return fmt.Errorf("%d wrong answers", problems)
	}
	return nil
}

// measurement accumulates one operation's iterations.
type measurement struct {
	a, b         *fasthttp.HostClient
	baseA, baseB string
	op           string
	giveUp       time.Duration

	// invalidations is how many invalidations A must have received once
	// all of B's writes so far reached it.
	invalidations uint64

	delays      []time.Duration
	staleKeys   int // keys A answered stale at least once after the acknowledgement
	staleReads  int // such stale answers in all
	wrong       int // answers that were neither the old nor the new state
	staleHeader int // answers flagged Warmkv-Stale: A could not reach the tier
}

// answer is one GET on A.
type answer struct {
	status int
	value  string
	stale  bool // the Warmkv-Stale header was set
}

func (m *measurement) iteration(key string) error {
	oldValue, newValue := "old-"+key, "new-"+key
	if err := m.write(key, oldValue); err != nil {
		return err
	}
	if err := m.awaitInvalidations(); err != nil {
		return err
	}
	for range 2 {
		got, err := m.read(key)
		if err != nil {
			return err
		}
		if got.status != fasthttp.StatusOK || got.value != oldValue {
			m.wrongAnswer(key, "before the change", got, oldValue)
		}
	}

	if m.op == "update" {
		if err := m.write(key, newValue); err != nil {
			return err
		}
	} else if err := m.remove(key); err != nil {
		return err
	}
	ack := time.Now()
	m.invalidations++ // B's change publishes one too

	stale := 0
	for {
		got, err := m.read(key)
		if err != nil {
			return err
		}
		since := time.Since(ack)
		fresh := got.status == fasthttp.StatusNotFound
		if m.op == "update" {
			fresh = got.status == fasthttp.StatusOK && got.value == newValue
		}
		switch {
		case fresh:
			m.delays = append(m.delays, since)
		case got.status == fasthttp.StatusOK && got.value == oldValue:
			stale++
			if since <= m.giveUp {
				continue
			}
			m.delays = append(m.delays, since) // never fresh: counts as beyond the TTL
		default:
			m.wrongAnswer(key, "after the change", got, newValue)
		}
		break
	}
	if stale > 0 {
		m.staleKeys++
		m.staleReads += stale
	}
	return nil
}

// awaitInvalidations waits until A has received the invalidation of every
// write B made so far. Two seconds without them is a lost invalidation: A's
// subscription would then be down, and the delays meaningless.
func (m *measurement) awaitInvalidations() error {
	m.invalidations++
	deadline := time.Now().Add(2 * time.Second)
	for {
		st, err := fetchShared(m.a, m.baseA)
		if err != nil {
			return err
		}
		if st.Shared.Invalidations >= m.invalidations {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("instance A received %d invalidations, want %d: lost invalidation messages", st.Shared.Invalidations, m.invalidations)
		}
	}
}

func (m *measurement) wrongAnswer(key, when string, got answer, want string) {
	m.wrong++
	if m.wrong <= 3 {
		fmt.Printf("!!! %s %s: A answered %d %q, want %q\n", key, when, got.status, got.value, want)
	}
}

// read is GET /get on A; only the value is decoded, and only from the exact
// shape warmkv answers (the keys and values here need no JSON escaping).
func (m *measurement) read(key string) (answer, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(m.baseA + "/get?key=" + key)
	if err := m.a.DoTimeout(req, resp, 10*time.Second); err != nil {
		return answer{}, fmt.Errorf("GET on A: %w", err)
	}
	got := answer{status: resp.StatusCode(), stale: len(resp.Header.Peek("Warmkv-Stale")) > 0}
	if got.stale {
		m.staleHeader++
	}
	if got.status == fasthttp.StatusOK {
		prefix := []byte(`{"status":"OK","key":"` + key + `","value":"`)
		body := resp.Body()
		if !bytes.HasPrefix(body, prefix) || !bytes.HasSuffix(body, []byte(`"}`)) {
			got.value = "<unexpected body: " + string(body) + ">"
		} else {
			got.value = string(body[len(prefix) : len(body)-2])
		}
	}
	if got.status != fasthttp.StatusOK && got.status != fasthttp.StatusNotFound {
		got.value = fmt.Sprintf("<status %d: %.200s>", got.status, resp.Body())
	}
	return got, nil
}

// write is POST /put on B.
func (m *measurement) write(key, value string) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(m.baseB + "/put")
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.SetBodyString(`{"key":"` + key + `","value":"` + value + `"}`)
	return m.expectOK(req, resp, "PUT on B")
}

// remove is /delete on B.
func (m *measurement) remove(key string) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(m.baseB + "/delete?key=" + key)
	return m.expectOK(req, resp, "DELETE on B")
}

func (m *measurement) expectOK(req *fasthttp.Request, resp *fasthttp.Response, what string) error {
	if err := m.b.DoTimeout(req, resp, 10*time.Second); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if resp.StatusCode() != fasthttp.StatusOK {
		return fmt.Errorf("%s answered %d: %.200s", what, resp.StatusCode(), resp.Body())
	}
	return nil
}
