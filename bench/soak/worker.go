package main

import (
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// counters are one worker's tallies, read by the progress line while it runs.
type counters struct {
	ops           atomic.Int64          // mixed operations (not the fill or the sweep)
	perOp         [opKinds]atomic.Int64 // every request, fill and sweep included
	checks        atomic.Int64          // answers compared with the model
	getHits       atomic.Int64          // GETs answered 200 with the model's value
	expiredMisses atomic.Int64
	evictedMisses atomic.Int64
	failures      atomic.Int64
	transport     atomic.Int64 // failures that were transport errors
}

// worker owns a slice of the key space and the model of it.
type worker struct {
	id     int
	soak   *soak
	gen    *generator
	check  *checker
	keys   []string
	states []state
	c      counters

	req  fasthttp.Request
	resp fasthttp.Response
}

func (w *worker) fill() {
	for i, key := range w.keys {
		o := &op{kind: opPut, value: w.gen.value(), method: "POST", uri: "/put"}
		o.body = w.gen.jsonBody(key, o)
		w.do(i, o)
	}
}

func (w *worker) mix(end time.Time) {
	for n := 0; ; n++ {
		// time.Now costs little next to a request, but there is no need to
		// read it for every one.
		if n%16 == 0 && time.Now().After(end) {
			return
		}
		i := w.gen.r.IntN(len(w.keys))
		o := w.gen.next(w.keys[i], w.states[i])
		w.do(i, o)
		w.c.ops.Add(1)
	}
}

func (w *worker) sweep() {
	for i, key := range w.keys {
		w.do(i, w.gen.get(key))
	}
}

// do sends o for key i and checks the answer against the model.
func (w *worker) do(i int, o *op) {
	key := w.keys[i]
	w.req.Reset()
	w.req.Header.SetMethod(o.method)
	w.req.SetRequestURI(w.soak.base + o.uri)
	if o.body != nil {
		w.req.Header.SetContentType("application/json")
		w.req.SetBodyRaw(o.body)
	}
	w.c.perOp[o.kind].Add(1)
	t0 := time.Now().UnixNano()
	err := w.soak.client.Do(&w.req, &w.resp)
	t1 := time.Now().UnixNano()
	if err != nil {
		w.states[i] = state{unknown: true}
		w.c.failures.Add(1)
		w.c.transport.Add(1)
		w.soak.failed(w, o, key, "transport error: "+err.Error())
		return
	}
	status := w.resp.StatusCode()
	v, what := w.check.judge(&w.states[i], o, key, t0, t1, status, w.resp.Body())
	w.c.checks.Add(1)
	switch v {
	case verdictOK:
		if o.kind == opGet && status == 200 {
			w.c.getHits.Add(1)
		}
	case verdictExpiredMiss:
		w.c.expiredMisses.Add(1)
	case verdictEvictedMiss:
		w.c.evictedMisses.Add(1)
	case verdictFailure:
		w.c.failures.Add(1)
		w.soak.failed(w, o, key, what)
	}
}
