// Package server is warmkv's standalone door: it serves the app's handler
// over HTTP with fasthttp, and its store over the Redis protocol, until
// SIGTERM or SIGINT; then it drains both doors together and writes the last
// snapshot.
//
// Beneath fasthttp two listeners guard the process: connlimit.go bounds the
// open connections (MAX_CONNS) with an answer a client can act on, and
// drain.go rides out a shortage of file descriptors and cuts, at shutdown,
// the connections that never sent a byte.
package server

import (
	"context"
	"net"
	"os/signal"
	"syscall"

	"github.com/valyala/fasthttp"

	"github.com/warmkv/warmkv/app"
	"github.com/warmkv/warmkv/resp"
)

// Run serves a as the standalone server until SIGINT or SIGTERM, then shuts
// it down gracefully. It returns the exit code for the process.
func Run(a *app.App) int {
	logFileLimit(a.Logger) // every client connection holds a file descriptor
	// The snapshot is loaded before the ports open: no client sees a cache
	// that is still filling.
	if err := a.RestoreSnapshot(); err != nil {
		return 1
	}
	d, err := open(a)
	if err != nil {
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop) // from the first signal on, a second one kills the process the default way
	return d.serve(ctx)
}

// doors are the HTTP and Redis-protocol servers on their open ports.
type doors struct {
	app        *app.App
	http       *fasthttp.Server
	httpLn     net.Listener // under the connection limit and the drain
	resp       *resp.Server // nil when RESP_PORT=0
	respServed <-chan error // nil when RESP_PORT=0
}

// open opens both ports and starts the Redis-protocol server; HTTP is served
// from serve on. It logs why before returning an error.
func open(a *app.App) (*doors, error) {
	ln, err := listenHTTP(a)
	if err != nil {
		return nil, err
	}
	respSrv, respServed, err := startRESP(a)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	limited := newConnLimitListener(ln, a.Config.MaxConns, a.Logger)
	metrics := doorMetrics{resp: respSrv}
	metrics.conns, _ = limited.(*connLimitListener)
	if err := a.Handler.RegisterMetrics(metrics); err != nil {
		a.Logger.Error("registering the doors' metrics", "err", err)
		_ = ln.Close()
		if respSrv != nil {
			_ = respSrv.Close()
		}
		return nil, err
	}
	logListening(a, ln.Addr())
	return &doors{
		app:        a,
		http:       newHTTPServer(a),
		httpLn:     newDrainListener(limited, a.Logger),
		resp:       respSrv,
		respServed: respServed,
	}, nil
}

// serve serves HTTP and takes the scheduled snapshots until ctx is done or a
// door fails, then shuts down. It returns the exit code for the process.
func (d *doors) serve(ctx context.Context) int {
	httpServed := make(chan error, 1)
	go func() { httpServed <- d.http.Serve(d.httpLn) }()
	d.app.StartSnapshots(ctx)

	select {
	case err := <-httpServed:
		d.app.Logger.Error("server stopped", "err", err)
	case err := <-d.respServed: // never ready when nil
		d.app.Logger.Error("Redis-protocol server stopped", "err", err)
	case <-ctx.Done():
		return d.shutdown()
	}
	_ = d.app.FinalSnapshot() // a door failed, but the data is still good: keep it
	return 1
}

// shutdown drains both doors together within SHUTDOWN_TIMEOUT, then writes the
// last snapshot. It returns 1 when either drain or the snapshot failed.
func (d *doors) shutdown() int {
	cfg, logger := d.app.Config, d.app.Logger
	logger.Info("shutting down", "grace", cfg.ShutdownTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	code := 0
	respDrained := shutdownRESP(ctx, d.resp) // drains alongside HTTP
	if err := d.http.ShutdownWithContext(ctx); err != nil {
		logger.Error("shutdown did not finish in time", "err", err)
		code = 1
	}
	if err := <-respDrained; err != nil {
		logger.Error("Redis-protocol shutdown did not finish in time", "err", err)
		code = 1
	}
	// Written after the drain, so it holds every write that was answered.
	if err := d.app.FinalSnapshot(); err != nil {
		code = 1
	}
	logger.Info("stopped")
	return code
}
