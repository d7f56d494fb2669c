package resp

import (
	"testing"

	"github.com/warmkv/warmkv/cache"
)

// troubledTier is a shared tier that cannot be reached: "warm" is answered
// from a local copy (stale), everything else is unavailable.
type troubledTier struct{ *cache.Cache }

func (troubledTier) Get(key string) (string, bool, error) {
	if key == "warm" {
		return "old", true, cache.ErrStale
	}
	return "", false, cache.ErrUnavailable
}
func (troubledTier) Set(string, string, int64) error { return cache.ErrUnavailable }
func (troubledTier) Delete(string) (bool, error)     { return false, cache.ErrUnavailable }
func (troubledTier) Flush() error                    { return cache.ErrUnavailable }

func TestSharedTierFaults(t *testing.T) {
	overTier := func(o *Options) {
		if c, ok := o.Store.(*cache.Cache); ok {
			o.Store, o.Keys = troubledTier{c}, nil
		}
	}
	forEachDriver(t, func(t *testing.T, d driver) {
		r := startServer(t, d, overTier).raw(t)
		const unavailable = "-UNAVAILABLE the shared tier did not answer; nothing was confirmed, retry later\r\n"
		tests := []struct {
			args []string
			want string
		}{
			{[]string{"GET", "warm"}, "$3\r\nold\r\n"}, // RESP cannot mark it stale: docs/shared-tier.md says so
			{[]string{"GET", "cold"}, unavailable},
			{[]string{"MGET", "warm", "cold"}, unavailable}, // one failure fails the whole array
			{[]string{"SET", "k", "v"}, unavailable},
			{[]string{"DEL", "k"}, unavailable},
			{[]string{"FLUSHALL"}, unavailable},
			{[]string{"PING"}, "+PONG\r\n"}, // the connection keeps serving
		}
		for _, tt := range tests {
			if got := r.do(tt.args...); got != tt.want {
				t.Errorf("%v = %q; want %q", tt.args, got, tt.want)
			}
		}
	})
}
