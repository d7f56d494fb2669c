package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warmkv/warmkv/internal/redistest"
)

func put(t *testing.T, s *server, key, value string) (answer, string) {
	t.Helper()
	return s.request(t, "POST", "/put", fmt.Sprintf(`{"key":%q,"value":%q}`, key, value))
}

func get(t *testing.T, s *server, key string) (answer, string) {
	t.Helper()
	return s.request(t, "GET", "/get?key="+key, "")
}

// TestTwoProcessesShareATier runs two warmkv processes on one Redis and on a
// three-primary Redis Cluster.
func TestTwoProcessesShareATier(t *testing.T) {
	for _, name := range []string{"redis", "cluster"} {
		t.Run(name, func(t *testing.T) {
			var url string
			if name == "redis" {
				url = redistest.Start(t).URL()
			} else {
				if testing.Short() {
					t.Skip("a Redis Cluster takes seconds to form")
				}
				url = redistest.StartCluster(t, 3).URL()
			}
			a := start(t, "REDIS_URL="+url)
			b := start(t, "KV_URL="+url) // Vercel's variable works alike

			if _, body := put(t, a, "greeting", "hello"); body != `{"status":"OK","message":"Key inserted/updated successfully."}` {
				t.Fatalf("PUT on A: %s", body)
			}
			if _, body := get(t, b, "greeting"); body != `{"status":"OK","key":"greeting","value":"hello"}` {
				t.Fatalf("GET on B: %s", body)
			}

			// A holds a warm copy; B deletes; A must stop serving it within
			// LOCAL_TTL (1s), and in practice within an invalidation's trip.
			get(t, a, "greeting")
			if resp, body := b.request(t, "POST", "/delete?key=greeting", ""); resp.StatusCode != 200 {
				t.Fatalf("DELETE on B: %d %s", resp.StatusCode, body)
			}
			deleted := time.Now()
			for {
				resp, _ := get(t, a, "greeting")
				if resp.StatusCode == 404 {
					break
				}
				if time.Since(deleted) > time.Second {
					t.Fatal("A still served the key B deleted after LOCAL_TTL (1s)")
				}
				time.Sleep(time.Millisecond)
			}
			t.Logf("A stopped serving the deleted key %v after B's delete answered", time.Since(deleted))

			// 8 goroutines, half on each process, increment one counter.
			const goroutines, each = 8, 100
			var wg sync.WaitGroup
			for g := range goroutines {
				s := a
				if g%2 == 1 {
					s = b
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range each {
						if resp, body := s.request(t, "POST", "/increment?key=hits", ""); resp.StatusCode != 200 {
							t.Errorf("increment: %d %s", resp.StatusCode, body)
							return
						}
					}
				}()
			}
			wg.Wait()
			want := fmt.Sprintf(`{"status":"OK","key":"hits","value":"%d"}`, goroutines*each)
			// Each process answers the exact total at the latest LOCAL_TTL
			// after the last increment (usually at once: the invalidation).
			for _, s := range []*server{a, b} {
				deadline := time.Now().Add(time.Second + 100*time.Millisecond)
				for {
					_, body := get(t, s, "hits")
					if body == want {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("counter after concurrent increments: %s; want %s", body, want)
					}
					time.Sleep(time.Millisecond)
				}
			}

			var stats struct {
				KeyCount int64 `json:"keyCount"`
				Shared   *struct {
					Connected  bool  `json:"connected"`
					KeyCount   int64 `json:"keyCount"`
					SharedHits int64 `json:"sharedHits"`
				} `json:"shared"`
			}
			_, body := a.request(t, "GET", "/stats", "")
			if err := json.Unmarshal([]byte(body), &stats); err != nil || stats.Shared == nil || !stats.Shared.Connected {
				t.Fatalf("/stats on A does not show a connected shared tier: %s", body)
			}
			_, metrics := a.request(t, "GET", "/metrics", "")
			for _, m := range []string{"warmkv_shared_connected 1", `warmkv_shared_reads_total{source="shared"}`, "warmkv_shared_invalidations_total"} {
				if !strings.Contains(metrics, m) {
					t.Errorf("/metrics lacks %s", m)
				}
			}
		})
	}
}

// TestTierOutageUnderLoad kills Redis while clients keep calling: no request
// hangs, reads of warm keys are answered and marked stale, writes are refused
// with 503 and Retry-After, and all recovers once Redis is back.
func TestTierOutageUnderLoad(t *testing.T) {
	redis := redistest.Start(t)
	a := start(t, "REDIS_URL="+redis.URL(), "REDIS_TIMEOUT=300ms")
	put(t, a, "warm", "v")
	get(t, a, "warm")

	var stop, restarted atomic.Bool
	var slowest atomic.Int64
	var served, stale, refused, other atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for i := 0; !stop.Load(); i++ {
				var req *http.Request
				if g%2 == 0 {
					req, _ = http.NewRequest("GET", a.base+"/get?key=warm", nil)
				} else {
					req, _ = http.NewRequest("POST", a.base+"/put", strings.NewReader(fmt.Sprintf(`{"key":"k%d","value":"v"}`, i)))
				}
				begin := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("request failed outright: %v", err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if d := int64(time.Since(begin)); d > slowest.Load() {
					slowest.Store(d)
				}
				switch {
				case resp.StatusCode == 200 && resp.Header.Get("Warmkv-Stale") != "":
					stale.Add(1)
				case resp.StatusCode == 200:
					served.Add(1)
				case resp.StatusCode == 404 && restarted.Load():
					served.Add(1) // the restarted Redis is empty: "warm" is gone for good
				case resp.StatusCode == 503 && resp.Header.Get("Retry-After") != "" &&
					strings.Contains(string(body), "shared cache tier is unavailable"):
					refused.Add(1)
				default:
					other.Add(1)
					t.Errorf("unexpected answer during the outage: %d %s", resp.StatusCode, body)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	redis.Kill()
	time.Sleep(time.Second)
	restarted.Store(true)
	redis.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, _ := put(t, a, "after", "restart"); resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("writes did not recover within 10s of Redis coming back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("served %d, stale %d, refused %d, other %d; slowest request %v",
		served.Load(), stale.Load(), refused.Load(), other.Load(), time.Duration(slowest.Load()))
	if stale.Load() == 0 || refused.Load() == 0 {
		t.Fatal("the outage produced no stale reads or no refused writes: was Redis really down?")
	}
	if time.Duration(slowest.Load()) > 2*time.Second {
		t.Fatalf("a request took %v during the outage; REDIS_TIMEOUT is 300ms", time.Duration(slowest.Load()))
	}
	if _, body := get(t, a, "after"); body != `{"status":"OK","key":"after","value":"restart"}` {
		t.Fatalf("after recovery: %s", body)
	}
}
