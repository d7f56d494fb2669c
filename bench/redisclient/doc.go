// Package redisclient measures the two Redis clients warmkv may put behind
// its in-process cache as a shared Redis-protocol tier:
// github.com/redis/rueidis and github.com/redis/go-redis/v9.
//
// It holds no production code, only benchmarks and checks, so that the
// choice between the clients rests on figures taken on this repository's
// workload rather than on their READMEs:
//
//   - benchmarks of GET, SET and an EVALSHA'd Lua INCRBY against a
//     redis-server they start themselves on a loopback port, each with
//     b.RunParallel at GOMAXPROCS and with 32×GOMAXPROCS callers (an HTTP
//     server has many handlers waiting on the tier at once);
//   - tests that both clients work against a 3-master Redis Cluster and over
//     TLS (rediss://), both reached through the clients' own URL parsers,
//     and how each one's pub/sub survives a dropped connection.
//
// Run the benchmarks from the bench module (bench/go.mod) under the shared
// bench lock, the box has 2 cores (make bench-redisclient does this):
//
//	cd bench && flock /tmp/warmkv-bench.lock go test -run '^$' -bench . -benchtime 2s -count 3 ./redisclient/
//
// Without redis-server and redis-cli (Debian packages redis-server and
// redis-tools) everything skips, except with CI=true, where that fails.
package redisclient
