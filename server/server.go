// Package server is warmkv's standalone door: it serves the app's handler with
// fasthttp and its store over the Redis protocol, on listeners that bound the
// open connections and ride out a shortage of file descriptors, until SIGTERM
// or SIGINT; then it drains both and writes the last snapshot.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/valyala/fasthttp"

	"github.com/warmkv/warmkv/app"
	"github.com/warmkv/warmkv/config"
)

// Run serves a as the standalone server until SIGINT or SIGTERM, then shuts
// it down gracefully. It returns the exit code for the process.
func Run(a *app.App) int {
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
