// Package redistest runs real redis-server processes for tests: a single
// server, or a Redis Cluster of several primaries (with replicas, behind
// announced addresses if asked), on loopback ports, without persistence
// unless given arguments for it, stopped when the test ends.
//
// Without redis-server a test skips, except in CI (CI=true), where a missing
// tool is a failure: .ci/run installs it.
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warmkv/warmkv/internal/testsupport"
)

// Need returns the path of a Redis tool (redis-server, redis-cli), skipping
// the test without it, or failing it in CI.
func Need(tb testing.TB, name string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("%s not found: install the Debian packages redis-tools and redis-server (apt-get install -y redis-tools redis-server)", name)
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg + "; CI must have them (.ci/run APT_PACKAGES)")
	}
	tb.Skip(msg)
	return ""
}

// Server is one redis-server process.
type Server struct {
	Addr string // 127.0.0.1:port
	tb   testing.TB
	path string
	args []string
	dir  string // its working directory (a cluster node's nodes.conf) and log
	cmd  *exec.Cmd
}

// Start runs redis-server with extra arguments until the test ends.
func Start(tb testing.TB, args ...string) *Server {
	tb.Helper()
	addr, err := FreeAddr()
	if err != nil {
		tb.Fatal(err)
	}
	return startAt(tb, addr, args...)
}

// startAt is Start on a chosen address.
func startAt(tb testing.TB, addr string, args ...string) *Server {
	tb.Helper()
	s := &Server{tb: tb, path: Need(tb, "redis-server"), args: args, dir: tb.TempDir(), Addr: addr}
	if err := s.start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Kill)
	return s
}

// Launch is Start for a server that outlives one test (a benchmark's, stopped
// by TestMain): the caller stops it with Close.
func Launch(path string, args ...string) (*Server, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "warmkv-redis-")
	if err != nil {
		return nil, err
	}
	s := &Server{path: path, args: args, dir: dir, Addr: addr}
	if err := s.start(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close stops a launched server and removes its directory.
func (s *Server) Close() {
	s.Kill()
	_ = os.RemoveAll(s.dir)
}

func (s *Server) start() error {
	_, port, _ := net.SplitHostPort(s.Addr)
	s.cmd = exec.Command(s.path, append([]string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--daemonize", "no", "--logfile", filepath.Join(s.dir, "redis.log")}, s.args...)...)
	if err := s.cmd.Start(); err != nil {
		return err
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if conn, err := net.Dial("tcp", s.Addr); err == nil {
			conn.Close()
			return nil
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			return fmt.Errorf("redis-server did not start on %s:\n%s", s.Addr, log)
		}
	}
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr }

// Kill stops the server at once, as a crash would.
func (s *Server) Kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

// Restart starts a killed server again on the same port, empty.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Kill()
	if err := s.start(); err != nil {
		s.tb.Fatal(err)
	}
}

// CLI runs redis-cli against the server and returns its output.
func (s *Server) CLI(args ...string) string {
	s.tb.Helper()
	host, port, _ := net.SplitHostPort(s.Addr)
	return CLI(s.tb, append([]string{"-h", host, "-p", port}, args...)...)
}

// CLI runs redis-cli with args, within 30 seconds, and returns its output.
func CLI(tb testing.TB, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, Need(tb, "redis-cli"), args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Cluster is a Redis Cluster; Role says which nodes are primaries now.
type Cluster struct {
	Nodes []*Server
	tb    testing.TB
}

// ClusterOptions shape a cluster for StartClusterWith.
type ClusterOptions struct {
	// Primaries is at least three, as redis-cli --cluster create requires.
	Primaries int
	// Replicas is how many replicas each primary gets.
	Replicas int
	// Announce, when set, is given each node's own address before the node
	// starts and returns the address the node gives clients and the other
	// nodes for itself (cluster-announce-ip and -port): a proxy in front of
	// it, which must already listen. The cluster bus stays direct.
	Announce func(node int, addr string) string
	// Args are more redis-server arguments for every node.
	Args []string
}

// StartCluster runs a Redis Cluster of n primaries (at least three, as
// redis-cli --cluster create requires) and waits until every slot is served.
func StartCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	return StartClusterWith(tb, ClusterOptions{Primaries: n})
}

// StartClusterWith runs a Redis Cluster as o says and waits until every slot
// is served and every replica is in sync with its primary.
func StartClusterWith(tb testing.TB, o ClusterOptions) *Cluster {
	tb.Helper()
	c := &Cluster{tb: tb}
	n := o.Primaries * (1 + o.Replicas)
	addrs := make([]string, n)
	for i := range n {
		// The cluster bus defaults to the port + 10000, which does not exist
		// for the high ports the kernel hands out: give it a free one.
		bus, err := FreeAddr()
		if err != nil {
			tb.Fatal(err)
		}
		_, busPort, _ := net.SplitHostPort(bus)
		addr, err := FreeAddr()
		if err != nil {
			tb.Fatal(err)
		}
		args := append([]string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000",
			"--cluster-port", busPort}, o.Args...)
		if o.Announce != nil {
			host, port, err := net.SplitHostPort(o.Announce(i, addr))
			if err != nil {
				tb.Fatal(err)
			}
			args = append(args, "--cluster-announce-ip", host, "--cluster-announce-port", port, "--cluster-announce-bus-port", busPort)
		}
		node := startAt(tb, addr, args...)
		c.Nodes = append(c.Nodes, node)
		addrs[i] = node.Addr
	}
	CLI(tb, append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", fmt.Sprint(o.Replicas), "--cluster-yes")...)
	c.WaitReady(20 * time.Second)
	return c
}

// WaitReady waits until every node says the cluster is ok and every replica
// is in sync with its primary.
func (c *Cluster) WaitReady(limit time.Duration) {
	c.tb.Helper()
	for deadline := time.Now().Add(limit); ; time.Sleep(100 * time.Millisecond) {
		if c.ready() {
			return
		}
		if time.Now().After(deadline) {
			c.tb.Fatalf("cluster did not become ready: %s", c.Nodes[0].CLI("cluster", "info"))
		}
	}
}

// Role is what ROLE says the node is: "master" or "slave".
func (s *Server) Role() string {
	s.tb.Helper()
	role, _, _ := strings.Cut(s.CLI("role"), "\n")
	return strings.TrimSpace(role)
}

// ready reports whether every node says the cluster is ok, and every
// replica that its link to its primary is up.
func (c *Cluster) ready() bool {
	for _, node := range c.Nodes {
		if !strings.Contains(node.CLI("cluster", "info"), "cluster_state:ok") {
			return false
		}
		if info := node.CLI("info", "replication"); strings.Contains(info, "role:slave") && !strings.Contains(info, "master_link_status:up") {
			return false
		}
	}
	return true
}

// URL is the cluster's seed list as REDIS_URL takes it: the first node as a
// URL, the others as host:port.
func (c *Cluster) URL() string {
	parts := []string{c.Nodes[0].URL()}
	for _, node := range c.Nodes[1:] {
		parts = append(parts, node.Addr)
	}
	return strings.Join(parts, ",")
}

// FreeAddr is a loopback address nobody listened on a moment ago.
func FreeAddr() (string, error) { return testsupport.FreeAddr() }

// Addrs are the nodes' addresses.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, node := range c.Nodes {
		addrs[i] = node.Addr
	}
	return addrs
}
