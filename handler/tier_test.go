package handler

import (
	"io"
	"testing"

	"github.com/warmkv/warmkv/cache"
)

// failingStore is a shared tier in trouble: the key "warm" is answered from a
// local copy (stale), everything else is unavailable.
type failingStore struct{ *cache.Cache }

func (failingStore) Get(key string) (string, bool, error) {
	if key == "warm" {
		return "old", true, cache.ErrStale
	}
	return "", false, cache.ErrUnavailable
}
func (failingStore) Set(string, string, int64) error { return cache.ErrUnavailable }
func (failingStore) Delete(string) (bool, error)     { return false, cache.ErrUnavailable }
func (failingStore) Flush() error                    { return cache.ErrUnavailable }
func (failingStore) IncrementBy(string, int64, int64) (int64, error) {
	return 0, cache.ErrUnavailable
}

func TestSharedTierFaults(t *testing.T) {
	local, err := cache.New(cache.Options{MaxBytes: 1 << 20, ReapInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(local.Close)
	h, err := New(Options{Store: failingStore{local}, MaxKeyLength: 256, MaxValueLength: 256, MaxBodyBytes: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	const unavailable = `{"status":"ERROR","message":"The shared cache tier is unavailable; this operation was not confirmed. Retry later."}`
	retry := map[string]string{"Retry-After": "1"}
	cases := []exchangeCase{
		{name: "stale read is answered and marked", method: "GET", target: "/get?key=warm", wantStatus: 200,
			wantBody: `{"status":"OK","key":"warm","value":"old"}`, wantHeader: map[string]string{"Warmkv-Stale": "shared tier unavailable"}},
		{name: "read without a local copy", method: "GET", target: "/get?key=cold", wantStatus: 503, wantBody: unavailable, wantHeader: retry},
		{name: "put", method: "POST", target: "/put", body: putBody("k", "v"), wantStatus: 503, wantBody: unavailable, wantHeader: retry},
		{name: "delete", method: "POST", target: "/delete?key=k", wantStatus: 503, wantBody: unavailable, wantHeader: retry},
		{name: "increment", method: "POST", target: "/increment?key=n", wantStatus: 503, wantBody: unavailable, wantHeader: retry},
		{name: "flush", method: "POST", target: "/flush", wantStatus: 503, wantBody: unavailable, wantHeader: retry},
	}
	for _, f := range faces(t, h) {
		t.Run(f.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					resp := f.do(t, httpRequest(tc.method, tc.target, tc.body))
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					checkResponse(t, tc, resp, string(body))
					if tc.wantStatus == 200 && resp.Header.Get("Retry-After") != "" {
						t.Error("a served read carries Retry-After")
					}
				})
			}
		})
	}
}
