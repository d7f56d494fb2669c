// Command warmkv is an in-memory key-value cache with an HTTP API.
//
// This is the standalone door: it reads the configuration from the environment,
// builds the cache and the handler, and serves them with fasthttp until SIGTERM or
// SIGINT, then drains in-flight requests. See README.md for the configuration.
package main

import (
	"context"
	"embed"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/warmkv/warmkv/awslambda"
	"github.com/warmkv/warmkv/cache"
	"github.com/warmkv/warmkv/config"
	"github.com/warmkv/warmkv/handler"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

//go:embed public
var publicFiles embed.FS

func main() {
	healthcheck := flag.Bool("healthcheck", false,
		"probe /healthz of the server configured by PORT on loopback and exit 0 if healthy (for container health checks, which have no shell or curl)")
	flag.Parse()
	if *healthcheck {
		os.Exit(probeHealth())
	}
	os.Exit(run())
}

func run() int {
	cfg, err := config.Load(config.OSEnv())
	if err != nil {
		fmt.Fprintf(os.Stderr, "warmkv: invalid configuration:\n%v\n", err)
		if api := os.Getenv("AWS_LAMBDA_RUNTIME_API"); api != "" {
			// On Lambda an exit alone shows only as a crash loop; the init-error
			// report puts the message in front of whoever invoked the function.
			if rerr := awslambda.ReportInitError(api, fmt.Errorf("warmkv: invalid configuration: %w", err)); rerr != nil {
				fmt.Fprintln(os.Stderr, "warmkv:", rerr)
			}
		}
		return 2
	}
	logger := newLogger(cfg)
	slog.SetDefault(logger)

	if cfg.Memory.GoMemLimit > 0 {
		debug.SetMemoryLimit(cfg.Memory.GoMemLimit)
	}
	store, err := cache.New(cache.Options{MaxBytes: cfg.Memory.Budget, MaxEntries: cfg.MaxEntries})
	if err != nil {
		fmt.Fprintf(os.Stderr, "warmkv: invalid configuration: SIZE=%d with a memory budget of %d bytes (%s): %v\n",
			cfg.MaxEntries, cfg.Memory.Budget, cfg.Memory.Source, err)
		return 2
	}
	defer store.Close()

	h, err := newHandler(cfg, store, logger)
	if err != nil {
		logger.Error("building the handler", "err", err)
		return 1
	}
	if cfg.Deployment == config.Lambda {
		// Invocations arrive through the Runtime API, not a listener. The process,
		// and so the cache, outlives each invocation: it stays warm between them.
		awslambda.Start(h) // never returns
	}
	return serve(cfg, h, store, logger)
}

func newLogger(cfg config.Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.Production {
		// Machines read production logs.
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func newHandler(cfg config.Config, store cache.Store, logger *slog.Logger) (*handler.Handler, error) {
	public, err := fs.Sub(publicFiles, "public")
	if err != nil {
		return nil, err
	}
	var requestLog *slog.Logger
	if !cfg.Production {
		requestLog = logger
	}
	return handler.New(handler.Options{
		Store:          store,
		MaxKeyLength:   cfg.MaxKeyLength,
		MaxValueLength: cfg.MaxValueLength,
		MaxBodyBytes:   cfg.MaxBodyBytes,
		Public:         public,
		Deployment:     string(cfg.Deployment),
		Version:        version,
		Logger:         requestLog,
	})
}

// serve runs the standalone server until a signal, then shuts it down gracefully.
func serve(cfg config.Config, h *handler.Handler, store *cache.Cache, logger *slog.Logger) int {
	addr := net.JoinHostPort(cfg.Bind, strconv.Itoa(cfg.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		logger.Error("cannot listen", "addr", addr, "err", err)
		return 1
	}
	srv := &fasthttp.Server{
		Handler:      h.ServeFastHTTP,
		ErrorHandler: h.FastHTTPErrorHandler,
		// fasthttp must read a request's headers within ReadTimeout; HeaderReceived
		// then gives a request with a body READ_TIMEOUT for the rest. Together they
		// cut off clients that trickle headers or bodies to hold connections open.
		ReadTimeout: cfg.ReadHeaderTimeout,
		HeaderReceived: func(hdr *fasthttp.RequestHeader) fasthttp.RequestConfig {
			if hdr.ContentLength() == 0 {
				return fasthttp.RequestConfig{} // no body: keep the header deadline, skip a syscall
			}
			return fasthttp.RequestConfig{ReadTimeout: cfg.ReadTimeout}
		},
		WriteTimeout:       cfg.WriteTimeout,
		IdleTimeout:        cfg.IdleTimeout,
		MaxRequestBodySize: cfg.MaxBodyBytes,
		// The read buffer bounds the request line plus headers.
		ReadBufferSize:        cfg.MaxHeaderBytes,
		NoDefaultServerHeader: true,
		CloseOnShutdown:       true,
		Logger:                fasthttpLogger{logger},
	}

	st := store.Stats()
	logger.Info("warmkv listening",
		"addr", ln.Addr().String(),
		"deployment", cfg.Deployment,
		"version", version,
		"memory_budget", st.MaxBytes,
		"memory_budget_source", cfg.Memory.Source,
		"memory_limit", cfg.Memory.Limit,
		"gomemlimit", cfg.Memory.GoMemLimit,
		"max_entries", st.MaxEntries,
	)
	if cfg.Memory.GoMemLimit > 0 && cfg.Memory.Budget > cfg.Memory.GoMemLimit*9/10 {
		logger.Warn("MAX_MEMORY leaves the Go runtime little headroom below its memory limit; expect heavy GC",
			"max_memory", cfg.Memory.Budget, "gomemlimit", cfg.Memory.GoMemLimit)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		logger.Error("server stopped", "err", err)
		return 1
	case <-ctx.Done():
	}
	stop() // a second signal now kills the process the default way
	logger.Info("shutting down", "grace", cfg.ShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.ShutdownWithContext(shutdownCtx); err != nil {
		logger.Error("shutdown did not finish in time", "err", err)
		return 1
	}
	logger.Info("stopped")
	return 0
}

// fasthttpLogger routes fasthttp's own messages into slog at Debug level: they
// are about single misbehaving connections (a body over the limit, a reset), which
// the client was already answered about, and a hostile client must not be able to
// flood the log.
type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug(fmt.Sprintf(format, args...), "source", "fasthttp")
}

// probeHealth asks the local server for /healthz, for the container health check.
func probeHealth() int {
	port := os.Getenv("PORT")
	if port == "" {
		port = "7171"
	}
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + net.JoinHostPort("127.0.0.1", port) + "/healthz")
	if err != nil {
		fmt.Fprintln(os.Stderr, "warmkv: healthcheck:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "warmkv: healthcheck: status", resp.StatusCode)
		return 1
	}
	return 0
}
