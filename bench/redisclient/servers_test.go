package redisclient

import (
	"errors"
	"net"
	"testing"

	"github.com/warmkv/warmkv/internal/redistest"
)

// The servers come from internal/redistest, like every Redis the repo's
// tests start: without redis-server the tests skip, except in CI (CI=true),
// where that is a failure.

// startRedis runs a redis-server for one test and returns its address.
func startRedis(tb testing.TB, args ...string) string {
	tb.Helper()
	return redistest.Start(tb, args...).Addr
}

// freePort is a loopback port nobody listened on a moment ago.
func freePort() (string, error) {
	addr, err := redistest.FreeAddr()
	if err != nil {
		return "", err
	}
	_, port, err := net.SplitHostPort(addr)
	return port, err
}

// startCluster runs a Redis Cluster of three masters and no replicas and
// returns their addresses once every node reports cluster_state:ok.
func startCluster(tb testing.TB) []string {
	tb.Helper()
	return redistest.StartCluster(tb, 3).Addrs()
}

// errNoValue is what a client wrapper returns for a missing key.
var errNoValue = errors.New("key not found")
