package redisclient

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/warmkv/warmkv/internal/redistest"
)

// These tests check what the benchmarks cannot: that each client, set up
// from a URL the way warmkv's config would set it up, works against the
// deployments the shared tier may meet (a Redis Cluster, a TLS endpoint)
// and keeps a pub/sub subscription across a dropped connection. They start
// several redis-servers, so -short skips them.

func skipShort(t *testing.T, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("starts %s; skipped with -short", what)
	}
}

func TestCluster(t *testing.T) {
	skipShort(t, "a 3-node Redis Cluster")
	addrs := startCluster(t)
	// One URL for both clients: the seed node, the others as addr=.
	clusterURL := "redis://" + addrs[0] + "?addr=" + addrs[1] + "&addr=" + addrs[2]
	ctx := context.Background()

	for _, tc := range []struct {
		name string
		open func(t *testing.T) *kvClient
	}{
		{"rueidis", func(t *testing.T) *kvClient {
			opt, err := rueidis.ParseURL(clusterURL)
			if err != nil {
				t.Fatal(err)
			}
			opt.DisableCache = true
			c, err := rueidis.NewClient(opt)
			if err != nil {
				t.Fatal(err)
			}
			// NewClient chooses the cluster client by itself; it knows
			// every master from CLUSTER SLOTS.
			if n := len(c.Nodes()); n != len(addrs) {
				t.Errorf("rueidis knows %d nodes, want %d", n, len(addrs))
			}
			return rueidisKV(c)
		}},
		{"go-redis", func(t *testing.T) *kvClient {
			// go-redis needs the caller to know the deployment is a
			// cluster: ParseURL would reject addr=.
			opt, err := goredis.ParseClusterURL(clusterURL)
			if err != nil {
				t.Fatal(err)
			}
			c := goredis.NewClusterClient(opt)
			var masters atomic.Int32
			if err := c.ForEachMaster(ctx, func(context.Context, *goredis.Client) error {
				masters.Add(1)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if n := int(masters.Load()); n != len(addrs) {
				t.Errorf("go-redis sees %d masters, want %d", n, len(addrs))
			}
			return goredisKV(c)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kv := tc.open(t)
			defer kv.close()
			prefix := "cluster:" + tc.name + ":"
			const keys = 100
			for i := range keys {
				if err := kv.set(ctx, fmt.Sprintf("%s%d", prefix, i), fmt.Sprintf("value-%d", i)); err != nil {
					t.Fatalf("SET key %d: %v", i, err)
				}
			}
			for i := range keys {
				got, err := kv.get(ctx, fmt.Sprintf("%s%d", prefix, i))
				if want := fmt.Sprintf("value-%d", i); err != nil || got != want {
					t.Errorf("GET key %d = %q, %v; want %q", i, got, err, want)
				}
			}
			if got, err := kv.get(ctx, prefix+"missing"); !errors.Is(err, errNoValue) {
				t.Errorf("GET of a missing key = %q, %v; want errNoValue", got, err)
			}

			// The keys must be spread over the masters: a client that
			// sent everything to one node would have failed above with
			// MOVED, unless it followed every redirect, which this catches.
			total := 0
			for _, addr := range addrs {
				host, port, _ := net.SplitHostPort(addr)
				n := len(strings.Fields(redistest.CLI(t, "-h", host, "-p", port, "--scan", "--pattern", prefix+"*")))
				if n == 0 {
					t.Errorf("master %s holds none of the %d keys", addr, keys)
				}
				total += n
			}
			if total != keys {
				t.Errorf("the masters hold %d keys, want %d", total, keys)
			}

			// The script is not loaded on any node yet: the first call's
			// EVALSHA gets NOSCRIPT and falls back to EVAL, the second is a
			// plain EVALSHA on the node that owns the key.
			counter := []string{prefix + "counter"}
			for want := int64(1); want <= 2; want++ {
				if got, err := kv.incr(ctx, counter); err != nil || got != want {
					t.Errorf("script call %d = %d, %v; want %d", want, got, err, want)
				}
			}
		})
	}
}

// writeSelfSignedCert writes a certificate for 127.0.0.1 that is its own CA,
// and its key, and returns the pool a client must trust to verify it.
func writeSelfSignedCert(t *testing.T, dir string) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "warmkv redisclient test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certFile, keyFile, roots
}

func TestTLS(t *testing.T) {
	skipShort(t, "a redis-server with TLS")
	certFile, keyFile, roots := writeSelfSignedCert(t, t.TempDir())
	tlsPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	startRedis(t, "--tls-port", tlsPort, "--tls-cert-file", certFile, "--tls-key-file", keyFile,
		"--tls-ca-cert-file", certFile, "--tls-auth-clients", "no")
	tlsURL := "rediss://127.0.0.1:" + tlsPort
	ctx := context.Background()

	// open parses tlsURL and, if trusted, adds the test CA to the TLS
	// config the URL produced. Without it, verification against the system
	// roots must fail: this proves the scheme turned on a verifying TLS.
	trust := func(cfg *tls.Config, trusted bool) error {
		if cfg == nil {
			return errors.New("rediss:// gave no TLS config")
		}
		if trusted {
			cfg.RootCAs = roots
		}
		return nil
	}
	for _, tc := range []struct {
		name string
		open func(trusted bool) (*kvClient, error)
	}{
		{"rueidis", func(trusted bool) (*kvClient, error) {
			opt, err := rueidis.ParseURL(tlsURL)
			if err != nil {
				return nil, err
			}
			if err := trust(opt.TLSConfig, trusted); err != nil {
				return nil, err
			}
			opt.DisableCache = true
			c, err := rueidis.NewClient(opt)
			if err != nil {
				return nil, err
			}
			return rueidisKV(c), nil
		}},
		{"go-redis", func(trusted bool) (*kvClient, error) {
			opt, err := goredis.ParseURL(tlsURL)
			if err != nil {
				return nil, err
			}
			if err := trust(opt.TLSConfig, trusted); err != nil {
				return nil, err
			}
			return goredisKV(goredis.NewClient(opt)), nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kv, err := tc.open(true)
			if err != nil {
				t.Fatal(err)
			}
			defer kv.close()
			key := "tls:" + tc.name
			if err := kv.set(ctx, key, "over tls"); err != nil {
				t.Fatalf("SET: %v", err)
			}
			if got, err := kv.get(ctx, key); err != nil || got != "over tls" {
				t.Errorf("GET = %q, %v; want %q", got, err, "over tls")
			}
			if got, err := kv.incr(ctx, []string{key + ":counter"}); err != nil || got != 1 {
				t.Errorf("script = %d, %v; want 1", got, err)
			}

			// rueidis dials in NewClient, go-redis on the first command.
			untrusted, err := tc.open(false)
			if err == nil {
				err = untrusted.set(ctx, key, "must not be written")
				untrusted.close()
			}
			var unknownAuthority x509.UnknownAuthorityError
			if !errors.As(err, &unknownAuthority) && (err == nil || !strings.Contains(err.Error(), "certificate")) {
				t.Errorf("without the test CA: err = %v, want a certificate verification error", err)
			}
		})
	}
}
