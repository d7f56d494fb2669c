package server

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/warmkv/warmkv/app"
	"github.com/warmkv/warmkv/config"
)

// listenHTTP opens the HTTP port, BIND:PORT.
func listenHTTP(a *app.App) (net.Listener, error) {
	addr := net.JoinHostPort(a.Config.Bind, strconv.Itoa(a.Config.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		a.Logger.Error("cannot listen", "addr", addr, "err", err)
		return nil, err
	}
	return ln, nil
}

// newHTTPServer is the fasthttp server for a's handler, with the
// configuration's timeouts and size limits.
func newHTTPServer(a *app.App) *fasthttp.Server {
	cfg, h := a.Config, a.Handler
	return &fasthttp.Server{
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
		Logger:      fasthttpLogger{a.Logger},
	}
}

// logListening logs that the server is ready on addr, and warns when HTTP is
// open beyond loopback without a token.
func logListening(a *app.App, addr net.Addr) {
	cfg := a.Config
	a.LogReady("warmkv listening", "addr", addr.String(), "max_conns", cfg.MaxConns)
	if cfg.AuthToken == "" && !config.IsLoopback(cfg.Bind) {
		a.Logger.Warn("HTTP listens beyond loopback without AUTH_TOKEN: anyone who can reach the port can read, write and flush the cache",
			"addr", addr.String())
	}
}

// fasthttpLogger routes fasthttp's own messages into slog at Debug level: they
// are about single misbehaving connections (a body over the limit, a reset), which
// the client was already answered about, and a hostile client must not be able to
// flood the log.
type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug(fmt.Sprintf(format, args...), "source", "fasthttp")
}
