package server

import (
	"context"
	"net"
	"runtime"
	"strconv"
	"time"

	"github.com/warmkv/warmkv/app"
	"github.com/warmkv/warmkv/config"
	"github.com/warmkv/warmkv/resp"
	"github.com/warmkv/warmkv/snapshot"
)

// startRESP opens the Redis-protocol port on the same cache as HTTP, when the
// standalone server has one (RESP_PORT != 0), and serves it in the background.
// It returns a nil server and a nil channel when the port is off, and logs
// why before returning an error.
func startRESP(a *app.App) (*resp.Server, <-chan error, error) {
	cfg, logger := a.Config, a.Logger
	if cfg.Deployment != config.Standalone || cfg.RespPort == 0 {
		return nil, nil, nil
	}
	var snaps resp.Snapshots
	if a.Snapshots != nil {
		snaps = snapshotter{a.Snapshots}
	}
	// KEYS and SCAN list the in-process cache; with a shared tier that holds
	// only this instance's copies, so they answer an error instead of a part.
	var keys resp.Keys = a.Cache
	if a.Shared != nil {
		keys = nil
	}
	poll := busyPoll(cfg.RespBusyPoll)
	srv, err := resp.New(resp.Options{
		Store:           a.Store,
		Keys:            keys,
		Snapshots:       snaps,
		MaxKeyLength:    cfg.MaxKeyLength,
		MaxValueBytes:   cfg.RespMaxValueBytes,
		AuthToken:       cfg.AuthToken,
		MaxClients:      cfg.RespMaxClients,
		MaxArgs:         cfg.RespMaxArgs,
		MaxCommandBytes: cfg.RespMaxCommandBytes,
		MaxBufferBytes:  int64(cfg.RespMaxBufferBytes),
		ScriptBusyTime:  cfg.RespScriptBusyTime,
		// A command must arrive as fast as an HTTP body must; connections
		// idle between commands are kept unless RESP_IDLE_TIMEOUT is set, as
		// Redis keeps them, and those that never authenticate are cut after
		// RESP_AUTH_TIMEOUT.
		ReadTimeout:  cfg.ReadTimeout,
		WriteTimeout: cfg.WriteTimeout,
		IdleTimeout:  cfg.RespIdleTimeout,
		AuthTimeout:  cfg.RespAuthTimeout,
		EventLoops:   eventLoops(a),
		BusyPoll:     poll,
		Version:      a.Version,
		Logger:       logger,
	})
	if err != nil {
		logger.Error("building the Redis-protocol server", "err", err)
		return nil, nil, err
	}
	addr := net.JoinHostPort(cfg.RespBind, strconv.Itoa(cfg.RespPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		logger.Error("cannot listen for the Redis protocol", "addr", addr, "err", err)
		return nil, nil, err
	}
	logger.Info("warmkv listening for the Redis protocol", "addr", ln.Addr().String(), "auth", cfg.AuthToken != "",
		"max_value_bytes", cfg.RespMaxValueBytes, "max_command_bytes", cfg.RespMaxCommandBytes,
		"max_buffer_bytes", cfg.RespMaxBufferBytes, "busy_poll", poll)
	if cfg.RespUnprotected() {
		logger.Warn("the Redis-protocol port listens beyond loopback without AUTH_TOKEN: anyone who can reach it can read, write and flush the cache",
			"addr", ln.Addr().String())
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	return srv, served, nil
}

// shutdownRESP drains the Redis-protocol server, if any, in the background; the
// channel yields the result.
func shutdownRESP(ctx context.Context, srv *resp.Server) <-chan error {
	done := make(chan error, 1)
	if srv == nil {
		done <- nil
		return done
	}
	go func() { done <- srv.Shutdown(ctx) }()
	return done
}

// snapshotter serves SAVE, BGSAVE and LASTSAVE with the server's snapshot.Saver.
type snapshotter struct{ saver *snapshot.Saver }

func (s snapshotter) Snapshot() error {
	_, err := s.saver.Save()
	return err
}

func (s snapshotter) LastSave() time.Time { return s.saver.LastSave() }
func (s snapshotter) InProgress() bool    { return s.saver.InProgress() }

// busyPoll is resp.Options.BusyPoll for the app: RESP_BUSY_POLL, but none on
// a single CPU, where a loop that polls keeps everything else in the process
// from running meanwhile instead of sparing another CPU a wake-up.
func busyPoll(d time.Duration) time.Duration {
	if runtime.GOMAXPROCS(0) < 2 {
		return 0
	}
	return d
}

// eventLoops is resp.Options.EventLoops for the app: the default (epoll event
// loops on Linux) for the in-process cache, whose commands never wait, and a
// goroutine per connection (-1) with a shared tier. There every command may
// wait on the network for up to REDIS_TIMEOUT, and an event loop runs its
// connections' commands one after another, so one slow call would hold up
// every other connection of the loop: under 50-500 ms of latency to Redis,
// GETs waited 1.5 s with REDIS_TIMEOUT=500ms (e2e TestVerifyTierUnderFaults).
func eventLoops(a *app.App) int {
	if a.Shared != nil {
		return -1
	}
	return 0
}
