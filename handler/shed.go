package handler

import (
	"runtime"
	"sync/atomic"
	"time"
)

// Admission control: a bound on the requests the core works on at once. Past it
// a request is answered at once with 503 and Retry-After instead of joining the
// others, so that when the work per request stretches (a shared tier that slows
// down, a stalled store), the requests in progress keep their latency and the
// rest learn within microseconds to come back later, rather than every request
// waiting longer and longer until clients time out.
//
// What it does not do: on a server whose CPU is saturated by requests as small
// as a cache hit, refusing costs the server almost what serving does (both read
// a request and write a short answer), and the queue forms in the kernel's
// socket buffers before any code of ours runs, where nothing counts it. That
// overload is bounded by the clients (their connection pools and timeouts, and
// Retry-After) and by the fd limit, not here; bench/overload.sh measures both
// cases.

// inFlightPerProc sets the default bound, per GOMAXPROCS. CPU-bound requests
// never get near it: a goroutine leaves the core within microseconds, so about
// GOMAXPROCS are inside at any instant. Requests that wait on the shared tier
// hold their place for a round trip, and by Little's law the bound caps the
// throughput at bound / round trip while it caps their latency at about the
// same ratio. The tier pipelines, so it answers more per second the more is
// in flight: with Redis held to a twentieth of a core on the 2-core test box,
// 128 in flight halved the GETs answered compared with no bound (8.6k/s
// against 15-16k/s), while 512 kept 85-90% of them at a p99 of 70-90 ms where
// the unbounded server's grew to 0.3-0.7 s and timed out. bench/overload.sh
// measures the default against no bound.
const inFlightPerProc = 256

const msgOverloaded = "Server overloaded: too many requests in progress. Retry later."

// admission counts the requests inside the core. The zero value admits all.
type admission struct {
	limit    int64 // 0: no bound
	inFlight atomic.Int64
}

// maxInFlight turns Options.MaxInFlight into the bound: 0 derives it from
// GOMAXPROCS, a negative value disables it.
func maxInFlight(option int) int64 {
	switch {
	case option < 0:
		return 0
	case option == 0:
		return int64(inFlightPerProc * runtime.GOMAXPROCS(0))
	}
	return int64(option)
}

// enter reports whether one more request may run; when it may, leave must follow.
func (a *admission) enter() bool {
	if a.inFlight.Add(1) > a.limit {
		a.inFlight.Add(-1)
		return false
	}
	return true
}

func (a *admission) leave() { a.inFlight.Add(-1) }

// limits reports whether path is subject to admission control. /healthz is
// not: an overloaded instance is alive and holds a warm cache, and a health
// check that failed under load would have the orchestrator restart it (losing
// the cache) or the load balancer move its load onto the other instances, which
// would then overload in turn. /metrics is not either: overload is when the
// operator needs the numbers, and a scraper asks once per interval. Both cost
// less than a refusal would.
func (a *admission) limits(path string) bool {
	return a.limit > 0 && path != "/healthz" && path != "/metrics"
}

// overloaded fills resp with the refusal, counted in /stats and the metrics
// like any other answer. CORS headers are kept so that a page calling the API
// from another origin can read the 503 instead of seeing a network error.
// Keep-alive is kept too: a client that reconnected would cost the server
// several times what the refusal saves.
func (h *Handler) overloaded(req *request, resp *response) {
	began := time.Now()
	h.requests.Add(1)
	label := "unmatched"
	if rt, ok := h.routes[req.Path]; ok {
		label = rt.label
	}
	h.cors(req, resp)
	resp.addHeader("Retry-After", retryAfterSeconds)
	resp.fail(503, msgOverloaded)
	h.metrics.shed.Inc()
	h.metrics.observe(label, resp.Status, time.Since(began))
}
