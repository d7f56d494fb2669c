// Package handler is warmkv's Vercel entry point.
//
// Vercel's Go runtime builds every Go file under api/ into a function of its
// own, with its own process and so its own cache; vercel.json sends every API
// path to this one file so all requests share one cache per instance. The
// package must not be main and must export a func taking exactly
// (http.ResponseWriter, *http.Request): that is how the runtime finds it. The
// landing page is served by Vercel from public/, not from here.
package handler

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"

	"github.com/warmkv/warmkv/app"
	"github.com/warmkv/warmkv/config"
	warmkv "github.com/warmkv/warmkv/handler"
)

// api is the warmkv handler, or an answer naming the configuration error.
var api http.Handler

// The cache and the handler are built when the instance starts (the
// function's INIT), not on its first request: building is cheap now that the
// cache grows with what it holds, and a request should not wait for it. They
// live as long as the instance, so the cache stays warm between requests that
// reach it.
func init() { setup() }

// Handler serves every warmkv API request.
func Handler(w http.ResponseWriter, r *http.Request) {
	api.ServeHTTP(w, r)
}

func setup() {
	h, err := build()
	if err != nil {
		// Vercel shows a function's stderr in its logs; the client gets the
		// same message in warmkv's error envelope, so a misconfigured
		// deployment says what is wrong on the first request.
		fmt.Fprintf(os.Stderr, "warmkv: %v\n", err)
		api = configError(err)
		return
	}
	api = h
}

// build reads the configuration and builds warmkv as the standalone server
// does, with the deployment named "vercel" whatever the environment suggests and
// no landing page (Vercel serves public/ itself). The cache lives as long as the
// instance; Vercel gives no shutdown hook to close it in.
func build() (*warmkv.Handler, error) {
	cfg, err := config.Load(config.OSEnv())
	if err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	cfg.Deployment = config.Vercel
	a, err := app.Build(cfg, nil, version(), app.NewLogger(cfg))
	if err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	a.LogReady("warmkv ready on Vercel")
	return a.Handler, nil
}

// version is the deployed commit, which Vercel exposes to functions.
func version() string {
	sha := os.Getenv("VERCEL_GIT_COMMIT_SHA")
	if len(sha) > 12 {
		sha = sha[:12]
	}
	if sha == "" {
		return "dev"
	}
	return sha
}

// configError answers every request with 500 and the configuration error in
// warmkv's JSON error envelope.
func configError(err error) http.Handler {
	body, _ := json.Marshal(struct {
		Status  string `json:"status"`
		Message string `json:"message"`
	}{"ERROR", "warmkv is misconfigured: " + err.Error()})
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write(body)
	})
}
