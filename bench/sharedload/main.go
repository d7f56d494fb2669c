// Command sharedload is bench/shared.sh's client for warmkv's shared Redis
// tier: what wrk cannot do there. Subcommands:
//
//	load-redis  write the benchmark keys straight into Redis (pipelined SETs),
//	            far faster than a million PUTs through warmkv's Lua scripts
//	ready       wait until a server answers and, with -shared, until its tier
//	            is subscribed and has counted the shared keys
//	stats       print a server's /stats counters on one line, for the script
//	warm        GET every key once and check every value, so each has a local copy
//	zipf        GETs with a Zipf key distribution; the local hit ratio from /stats
//	coherence   how long after one instance acknowledges a write or delete
//	            another instance still answers the old value
//
// Keys and values are those of bench/preload (package keyspace: key i is "k"
// and i zero-padded to -key-len chars; its value is -value-len pseudo-random
// characters seeded by i), so a server preloaded over HTTP and one reading
// keys loaded here into Redis answer the same bytes.
//
// Every subcommand prints a final line starting with "result" whose
// name=value fields bench/shared.sh parses; the exit status is 1 when a
// request failed or a value was wrong, 2 for bad flags.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

func main() {
	commands := map[string]func(args []string) error{
		"load-redis": loadRedis,
		"ready":      ready,
		"stats":      printStats,
		"warm":       warm,
		"zipf":       zipf,
		"coherence":  coherence,
	}
	if len(os.Args) < 2 || commands[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: sharedload load-redis|ready|stats|warm|zipf|coherence [flags] (-h for each)")
		os.Exit(2)
	}
	if err := commands[os.Args[1]](os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "sharedload %s: %v\n", os.Args[1], err)
		var usage usageError
		if errors.As(err, &usage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a bad flag value: exit status 2, as the flag package uses.
type usageError string

func (e usageError) Error() string { return string(e) }

// keySet is what the subcommands that read or write bench/preload's keys
// are told about them: keys 0..keys-1 of package keyspace.
type keySet struct{ keys, keyLen, valueLen int }

// register adds -keys (default n, described by usage), -key-len and
// -value-len to fs.
func (k *keySet) register(fs *flag.FlagSet, n int, usage string) {
	fs.IntVar(&k.keys, "keys", n, usage)
	fs.IntVar(&k.keyLen, "key-len", 20, "key length (>= 8, as bench/preload)")
	fs.IntVar(&k.valueLen, "value-len", 100, "value length")
}

// check refuses a key set bench/preload cannot have written, or fewer than
// minKeys keys.
func (k keySet) check(minKeys int) error {
	if k.keys < minKeys || k.keyLen < 8 || k.valueLen < 0 {
		return usageError(fmt.Sprintf("need -keys >= %d, -key-len >= 8, -value-len >= 0", minKeys))
	}
	return nil
}

// firstProblem returns a function that prints only the first problem it is
// told about: thousands more would say nothing new.
func firstProblem() func(format string, a ...any) {
	var first sync.Once
	return func(format string, a ...any) {
		first.Do(func() { fmt.Printf("first problem: "+format+"\n", a...) })
	}
}

// getBody is warmkv's answer to GET /get for a key it has: the keys and
// values here need no JSON escaping.
func getBody(key string, value []byte) []byte {
	b := make([]byte, 0, len(`{"status":"OK","key":"","value":""}`)+len(key)+len(value))
	b = append(b, `{"status":"OK","key":"`...)
	b = append(b, key...)
	b = append(b, `","value":"`...)
	b = append(b, value...)
	return append(b, `"}`...)
}

// newClient is a fasthttp client for one server: on a 2-core box the client
// takes CPU from the server, and fasthttp's costs a third of net/http's.
func newClient(base string, conns int) (*fasthttp.HostClient, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, usageError(fmt.Sprintf("want a URL like http://127.0.0.1:7171, got %q", base))
	}
	return &fasthttp.HostClient{
		Addr:         u.Host,
		MaxConns:     conns,
		ReadTimeout:  10 * time.Second,
		WriteTimeout: 10 * time.Second,
	}, nil
}

// get does GET base+path and returns the status and a copy of the body.
func get(c *fasthttp.HostClient, base, path string) (int, []byte, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(base + path)
	if err := c.DoTimeout(req, resp, 10*time.Second); err != nil {
		return 0, nil, err
	}
	return resp.StatusCode(), bytes.Clone(resp.Body()), nil
}

// percentile is the p-th percentile (0 < p <= 100) of sorted values, by the
// nearest-rank method: a value that was actually observed.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

// sortDurations sorts in place and returns its argument.
func sortDurations(d []time.Duration) []time.Duration {
	slices.Sort(d)
	return d
}

// ms formats a duration in milliseconds with 3 decimals, for result lines.
func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64) }
