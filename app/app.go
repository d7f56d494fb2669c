// Package app assembles warmkv from its configuration: the Go memory limit, the
// cache and the HTTP handler. Every door (the standalone server, Lambda, Vercel)
// builds through it, so the three deployments are the same program.
package app

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/warmkv/warmkv/cache"
	"github.com/warmkv/warmkv/config"
	"github.com/warmkv/warmkv/handler"
	"github.com/warmkv/warmkv/snapshot"
	"github.com/warmkv/warmkv/tier"
)

// App is a built warmkv: what a door serves.
type App struct {
	Config config.Config
	// Cache is this instance's cache; Store is what the doors serve: the cache
	// itself, or Shared in front of it when REDIS_URL is set.
	Cache *cache.Cache
	Store cache.Store
	// Shared is the shared tier; nil without REDIS_URL.
	Shared  *tier.Store
	Handler *handler.Handler
	Logger  *slog.Logger
	Version string
	// Snapshots writes and restores the cache's snapshot file; nil when
	// SNAPSHOT_PATH is unset or the platform has no disk that outlives the process.
	Snapshots *snapshot.Saver
}

// NewLogger is warmkv's logger: JSON for machines in production, text otherwise.
func NewLogger(cfg config.Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.Production {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// Build sets the Go runtime's memory limit and builds the cache and the handler.
// public holds the landing page; nil serves none (Vercel serves it statically).
// Errors are configuration errors, worded to name the variables involved.
func Build(cfg config.Config, public fs.FS, version string, logger *slog.Logger) (*App, error) {
	if cfg.Memory.GoMemLimit > 0 {
		debug.SetMemoryLimit(cfg.Memory.GoMemLimit)
	}
	local, err := cache.New(cache.Options{MaxBytes: cfg.Memory.Budget, MaxEntries: cfg.MaxEntries})
	if err != nil {
		return nil, fmt.Errorf("a cache of SIZE=%d in a memory budget of %d bytes (from %s): %w",
			cfg.MaxEntries, cfg.Memory.Budget, cfg.Memory.Source, err)
	}
	var store cache.Store = local
	var shared *tier.Store
	if cfg.RedisURL != "" {
		if shared, err = sharedTier(cfg, local, logger); err != nil {
			local.Close()
			return nil, err
		}
		store = shared
	}
	var requestLog *slog.Logger
	if !cfg.Production {
		requestLog = logger
	}
	saver, saveNow := snapshots(cfg, local, logger)
	h, err := handler.New(handler.Options{
		Store:          store,
		MaxKeyLength:   cfg.MaxKeyLength,
		MaxValueLength: cfg.MaxValueLength,
		MaxBodyBytes:   cfg.MaxBodyBytes,
		Public:         public,
		Deployment:     string(cfg.Deployment),
		Version:        version,
		Logger:         requestLog,
		Snapshot:       saveNow,
		AuthToken:      cfg.AuthToken,
		CORSOrigins:    cfg.CORSOrigins,
		MaxInFlight:    cfg.MaxInFlight,
	})
	if err != nil {
		if shared != nil {
			shared.Close()
		}
		local.Close()
		return nil, err
	}
	return &App{Config: cfg, Cache: local, Store: store, Shared: shared, Handler: h, Logger: logger, Version: version, Snapshots: saver}, nil
}

// sharedTier connects the shared tier in front of local. A tier that does not
// answer yet is no error: the app starts and the tier recovers on its own.
func sharedTier(cfg config.Config, local *cache.Cache, logger *slog.Logger) (*tier.Store, error) {
	dial, err := tier.Dialer(cfg.RedisURL, cfg.RedisTimeout)
	if err != nil {
		// rueidis's messages do not repeat the URL, which may hold a password.
		return nil, fmt.Errorf("%s: %w", cfg.RedisURLVar, err)
	}
	shared, err := tier.New(tier.Options{
		Local: local, Dial: dial, Prefix: cfg.RedisPrefix, LocalTTL: cfg.LocalTTL, Timeout: cfg.RedisTimeout,
		Logger: logger.With("component", "shared-tier"),
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.RedisURLVar, err)
	}
	return shared, nil
}

// LogReady logs that the app serves, with its memory budget and where that came
// from, plus the door's own attributes (its address, say).
func (a *App) LogReady(msg string, attrs ...any) {
	st := a.Cache.Stats()
	m := a.Config.Memory
	a.Logger.Info(msg, append(attrs,
		"deployment", a.Config.Deployment,
		"version", a.Version,
		"memory_budget", st.MaxBytes,
		"memory_budget_source", m.Source,
		"memory_limit", m.Limit,
		"gomemlimit", m.GoMemLimit,
		"max_entries", st.MaxEntries,
	)...)
	if a.Shared != nil {
		a.Logger.Info("shared tier", "from", a.Config.RedisURLVar, "prefix", a.Config.RedisPrefix,
			"local_ttl", a.Config.LocalTTL, "timeout", a.Config.RedisTimeout, "connected", a.Shared.Connected())
	}
	if m.GoMemLimit > 0 && m.Budget > m.GoMemLimit*9/10 {
		a.Logger.Warn("MAX_MEMORY leaves the Go runtime little headroom below its memory limit; expect heavy GC",
			"max_memory", m.Budget, "gomemlimit", m.GoMemLimit)
	}
}

// Close stops the cache's background work.
func (a *App) Close() {
	if a.Shared != nil {
		a.Shared.Close()
	}
	a.Cache.Close()
}
