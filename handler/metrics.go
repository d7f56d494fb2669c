package handler

import (
	"bytes"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"

	"github.com/warmkv/warmkv/cache"
)

// metrics exports request counts and latencies by route and status, and the cache's
// counters, in Prometheus text format on GET /metrics. Each Handler has its own
// registry, so tests and several handlers in one process never collide.
type metrics struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	latencies *prometheus.HistogramVec
	// shed counts the requests refused past MAX_IN_FLIGHT: they are 503s in
	// requests too, and this keeps them apart from a shared tier's 503s.
	shed prometheus.Counter
	// observers caches the label lookups per (route, status): resolving labels on
	// every request would hash them each time.
	observers sync.Map // routeStatus → *observer
}

type routeStatus struct {
	route  string
	status int
}

type observer struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

func newMetrics(store cache.Store, version, deployment string) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "warmkv_http_requests_total",
			Help: "HTTP requests served, by route and status code.",
		}, []string{"route", "status"}),
		latencies: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "warmkv_http_request_duration_seconds",
			Help: "Time from routing a request to having its answer, by route and status code.",
			// From 10µs (a cache hit) to 1s (something is badly wrong).
			Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .1, 1},
		}, []string{"route", "status"}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "warmkv_http_requests_shed_total",
			Help: "HTTP requests answered 503 at once because MAX_IN_FLIGHT requests were in progress.",
		}),
	}
	m.registry.MustRegister(
		m.requests, m.latencies, m.shed,
		cacheCollector{store},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "warmkv_build_info",
			Help:        "Always 1; the labels say which build serves and where.",
			ConstLabels: prometheus.Labels{"version": version, "deployment": deployment},
		}, func() float64 { return 1 }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func (m *metrics) observe(route string, status int, took time.Duration) {
	key := routeStatus{route, status}
	o, ok := m.observers.Load(key)
	if !ok {
		code := strconv.Itoa(status)
		o, _ = m.observers.LoadOrStore(key, &observer{
			requests: m.requests.WithLabelValues(route, code),
			latency:  m.latencies.WithLabelValues(route, code),
		})
	}
	obs := o.(*observer)
	obs.requests.Inc()
	obs.latency.Observe(took.Seconds())
}

// RegisterMetrics adds collectors to what GET /metrics exports: the counters
// of the doors the handler does not see, such as the standalone server's
// connection limit and its Redis-protocol port.
func (h *Handler) RegisterMetrics(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := h.metrics.registry.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// serveMetrics is GET /metrics.
func (h *Handler) serveMetrics(_ *request, resp *response) {
	families, err := h.metrics.registry.Gather()
	if err != nil {
		resp.fail(500, "Gathering metrics failed: "+err.Error())
		return
	}
	buf := bytes.NewBuffer(resp.buf[:0])
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	enc := expfmt.NewEncoder(buf, format)
	for _, mf := range families {
		if err := enc.Encode(mf); err != nil {
			resp.fail(500, "Encoding metrics failed: "+err.Error())
			return
		}
	}
	resp.buf = buf.Bytes()
	resp.Status = 200
	resp.ContentType = string(format)
	resp.addHeader("Cache-Control", "no-store")
	resp.Body = resp.buf
}

// cacheCollector reads the store's counters at scrape time.
type cacheCollector struct{ store cache.Store }

var (
	descEntries    = prometheus.NewDesc("warmkv_cache_entries", "Entries held now.", nil, nil)
	descMaxEntries = prometheus.NewDesc("warmkv_cache_max_entries", "The entry bound.", nil, nil)
	descBytes      = prometheus.NewDesc("warmkv_cache_bytes", "Bytes charged against the budget: slots, keys, values, expiry index.", nil, nil)
	descMaxBytes   = prometheus.NewDesc("warmkv_cache_max_bytes", "The byte budget.", nil, nil)
	descOps        = prometheus.NewDesc("warmkv_cache_operations_total",
		"Cache events: hit and miss (reads), insert, update, delete, eviction, expiration.", []string{"event"}, nil)

	// Only with a shared tier.
	descSharedConnected = prometheus.NewDesc("warmkv_shared_connected", "1 when the shared tier answers, else 0.", nil, nil)
	descSharedKeys      = prometheus.NewDesc("warmkv_shared_keys", "Keys under this deployment's prefix in the shared tier (-1 until counted).", nil, nil)
	descSharedReads     = prometheus.NewDesc("warmkv_shared_reads_total",
		"Reads by who answered: local (fresh local copy), shared (the tier had the key), miss (the tier had none), stale (old local copy, tier unavailable).",
		[]string{"source"}, nil)
	descSharedUnavailable   = prometheus.NewDesc("warmkv_shared_unavailable_total", "Operations refused because the shared tier was unavailable.", nil, nil)
	descSharedInvalidations = prometheus.NewDesc("warmkv_shared_invalidations_total", "Local copies dropped because another instance changed the key.", nil, nil)
	descSharedResyncs       = prometheus.NewDesc("warmkv_shared_resyncs_total", "Times the whole local cache was dropped (subscription (re)started, flush).", nil, nil)
)

func (cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descEntries
	ch <- descMaxEntries
	ch <- descBytes
	ch <- descMaxBytes
	ch <- descOps
	ch <- descSharedConnected
	ch <- descSharedKeys
	ch <- descSharedReads
	ch <- descSharedUnavailable
	ch <- descSharedInvalidations
	ch <- descSharedResyncs
}

func (c cacheCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.store.Stats()
	ch <- prometheus.MustNewConstMetric(descEntries, prometheus.GaugeValue, float64(st.Entries))
	ch <- prometheus.MustNewConstMetric(descMaxEntries, prometheus.GaugeValue, float64(st.MaxEntries))
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.GaugeValue, float64(st.Bytes))
	ch <- prometheus.MustNewConstMetric(descMaxBytes, prometheus.GaugeValue, float64(st.MaxBytes))
	for _, e := range []struct {
		event string
		n     uint64
	}{
		{"hit", st.Hits}, {"miss", st.Misses}, {"insert", st.Inserts}, {"update", st.Updates},
		{"delete", st.Deletes}, {"eviction", st.Evictions}, {"expiration", st.Expirations},
	} {
		ch <- prometheus.MustNewConstMetric(descOps, prometheus.CounterValue, float64(e.n), e.event)
	}
	if sh := st.Shared; sh != nil {
		connected := 0.0
		if sh.Connected {
			connected = 1
		}
		ch <- prometheus.MustNewConstMetric(descSharedConnected, prometheus.GaugeValue, connected)
		ch <- prometheus.MustNewConstMetric(descSharedKeys, prometheus.GaugeValue, float64(sh.Keys))
		for _, r := range []struct {
			source string
			n      uint64
		}{{"local", sh.LocalHits}, {"shared", sh.SharedHits}, {"miss", sh.SharedMisses}, {"stale", sh.StaleReads}} {
			ch <- prometheus.MustNewConstMetric(descSharedReads, prometheus.CounterValue, float64(r.n), r.source)
		}
		ch <- prometheus.MustNewConstMetric(descSharedUnavailable, prometheus.CounterValue, float64(sh.Unavailable))
		ch <- prometheus.MustNewConstMetric(descSharedInvalidations, prometheus.CounterValue, float64(sh.Invalidations))
		ch <- prometheus.MustNewConstMetric(descSharedResyncs, prometheus.CounterValue, float64(sh.Resyncs))
	}
}
