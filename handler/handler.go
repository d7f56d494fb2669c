// Package handler is warmkv's HTTP API: routing, validation and the JSON answers,
// written once as a request core (serve) with two thin faces over it: ServeHTTP for
// net/http, which the serverless deployments need, and ServeFastHTTP for fasthttp,
// which the standalone server uses because it is measurably faster on the same cores.
//
// The package knows no platform: Lambda and Vercel adapt their events to
// http.Handler before they reach it.
package handler

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/warmkv/warmkv/cache"
)

// Options configure a Handler. Store is required.
type Options struct {
	Store cache.Store
	// MaxKeyLength and MaxValueLength are in characters (Unicode code points).
	MaxKeyLength   int
	MaxValueLength int
	// MaxBodyBytes bounds request bodies; larger ones are answered 413.
	MaxBodyBytes int
	// Public holds the landing page and its assets, served at the site root;
	// nil serves none (Vercel serves them statically instead).
	Public fs.FS
	// Deployment and Version are reported by /stats and the landing page.
	Deployment string
	Version    string
	// Logger, when set, logs every request at Info level.
	Logger *slog.Logger
	// Now is the clock for uptime and expiry arguments; nil means time.Now.
	Now func() time.Time
	// AuthToken, when set, is required as "Authorization: Bearer <token>" by every
	// route but the landing page, its files and /healthz.
	AuthToken string
	// CORSOrigins lists the origins whose pages may call the API from a browser
	// ("*" for any); empty sends no CORS headers.
	CORSOrigins []string
	// Snapshot, when set, writes a snapshot on POST /snapshot and returns how many
	// keys it wrote; nil answers that snapshots are off.
	Snapshot func() (keys int, err error)
	// MaxInFlight bounds the requests the fasthttp face lets into the core at
	// once; past it they are answered 503 with Retry-After (see shed.go). 0
	// derives it from GOMAXPROCS, a negative value disables it.
	MaxInFlight int
}

// Handler serves the warmkv API. It is safe for concurrent use.
type Handler struct {
	kv         cache.Store
	maxKey     int
	maxValue   int
	maxBody    int
	deployment string
	version    string
	logger     *slog.Logger
	now        func() time.Time
	started    time.Time
	routes     map[string]*route
	requests   atomic.Uint64
	metrics    *metrics
	snapshot   func() (int, error)

	authToken   string
	corsOrigins []string
	admission   admission
}

// New checks the options and builds the route table.
func New(o Options) (*Handler, error) {
	if o.Store == nil {
		return nil, errors.New("handler: Options.Store is required")
	}
	if o.MaxKeyLength < 1 || o.MaxValueLength < 0 {
		return nil, fmt.Errorf("handler: MaxKeyLength must be at least 1 and MaxValueLength at least 0, got %d and %d",
			o.MaxKeyLength, o.MaxValueLength)
	}
	if o.MaxBodyBytes < 1 {
		return nil, fmt.Errorf("handler: MaxBodyBytes must be positive, got %d", o.MaxBodyBytes)
	}
	h := &Handler{
		kv:         o.Store,
		maxKey:     o.MaxKeyLength,
		maxValue:   o.MaxValueLength,
		maxBody:    o.MaxBodyBytes,
		deployment: o.Deployment,
		version:    o.Version,
		logger:     o.Logger,
		now:        o.Now,
		snapshot:   o.Snapshot,

		authToken:   o.AuthToken,
		corsOrigins: o.CORSOrigins,
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.admission.limit = maxInFlight(o.MaxInFlight)
	h.started = h.now()
	h.metrics = newMetrics(o.Store, o.Version, o.Deployment)
	if err := h.buildRoutes(o.Public); err != nil {
		return nil, err
	}
	return h, nil
}

// serve is the request core both faces call: it routes req and fills resp.
func (h *Handler) serve(req *request, resp *response) {
	began := time.Now()
	h.requests.Add(1)
	label := "unmatched" // one label for every unknown path keeps metrics bounded
	rt, ok := h.routes[req.Path]
	if ok {
		label = rt.label
	}
	h.cors(req, resp)
	switch {
	case h.queryTooLong(req):
		h.refuseQueryTooLong(resp) // longer than any valid request: refused before decoding
	case !ok:
		resp.fail(404, msgNotFound)
	case req.Method == "OPTIONS" && req.header("Origin") != "":
		h.preflight(rt, req, resp)
	case !rt.public && !h.authorized(req):
		h.unauthorized(resp)
	case !rt.allows(req.Method):
		resp.addHeader("Allow", rt.allow)
		resp.fail(405, "Method "+req.Method+" is not allowed on "+req.Path+"; use "+rt.allow+".")
	default:
		rt.serve(req, resp)
	}
	h.metrics.observe(label, resp.Status, time.Since(began))
}

// logRequest is called by the faces after writing, when a logger is set.
func (h *Handler) logRequest(method, path string, status int, began time.Time) {
	h.logger.Info("request", "method", method, "path", path, "status", status,
		"duration", time.Since(began))
}
