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
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/warmkv/warmkv/app"
	"github.com/warmkv/warmkv/awslambda"
	"github.com/warmkv/warmkv/config"
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
		return configFailed(err)
	}
	logger := app.NewLogger(cfg)
	slog.SetDefault(logger)

	public, err := fs.Sub(publicFiles, "public")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	a, err := app.Build(cfg, public, version, logger)
	if err != nil {
		return configFailed(err)
	}
	defer a.Close()

	if cfg.Deployment == config.Lambda {
		// Invocations arrive through the Runtime API, not a listener. The process,
		// and so the cache, outlives each invocation: it stays warm between them.
		a.LogReady("warmkv ready for Lambda invocations")
		awslambda.Start(a.Handler) // never returns
	}
	return serve(a)
}

// configFailed reports a configuration error and returns the exit code for it.
func configFailed(err error) int {
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

// serve runs the standalone server until a signal, then shuts it down gracefully.
func serve(a *app.App) int {
	cfg, h, logger := a.Config, a.Handler, a.Logger
	fds := raiseFileLimit() // every client connection holds a file descriptor
	logger.Log(context.Background(), fds.LogLevel(), "open file limit", "nofile", fds)
	// The snapshot is loaded before the port opens: no client sees a cache
	// that is still filling.
	if err := a.RestoreSnapshot(); err != nil {
		return 1
	}
	addr := net.JoinHostPort(cfg.Bind, strconv.Itoa(cfg.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		logger.Error("cannot listen", "addr", addr, "err", err)
		return 1
	}
	respSrv, respServed, err := startRESP(a)
	if err != nil {
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
		// MAX_CONNS bounds connections (connlimit.go), with a 503 that carries
		// Retry-After; fasthttp's own bound answers without it.
		Concurrency: math.MaxInt32,
		Logger:      fasthttpLogger{logger},
	}

	a.LogReady("warmkv listening", "addr", ln.Addr().String(), "max_conns", cfg.MaxConns)
	if cfg.AuthToken == "" && !config.IsLoopback(cfg.Bind) {
		logger.Warn("HTTP listens beyond loopback without AUTH_TOKEN: anyone who can reach the port can read, write and flush the cache",
			"addr", ln.Addr().String())
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(newDrainListener(newConnLimitListener(ln, cfg.MaxConns, logger), logger)) }()
	a.StartSnapshots(ctx)

	select {
	case err := <-served:
		logger.Error("server stopped", "err", err)
		_ = a.FinalSnapshot() // the data is still good; keep it
		return 1
	case err := <-respServed:
		logger.Error("Redis-protocol server stopped", "err", err)
		_ = a.FinalSnapshot()
		return 1
	case <-ctx.Done():
	}
	stop() // a second signal now kills the process the default way
	logger.Info("shutting down", "grace", cfg.ShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	code := 0
	respDrained := shutdownRESP(shutdownCtx, respSrv) // drains alongside HTTP
	if err := srv.ShutdownWithContext(shutdownCtx); err != nil {
		logger.Error("shutdown did not finish in time", "err", err)
		code = 1
	}
	if err := <-respDrained; err != nil {
		logger.Error("Redis-protocol shutdown did not finish in time", "err", err)
		code = 1
	}
	// Written after the drain, so it holds every write that was answered.
	if err := a.FinalSnapshot(); err != nil {
		code = 1
	}
	logger.Info("stopped")
	return code
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
