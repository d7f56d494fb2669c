package resp

import (
	"testing"
	"time"

	"github.com/warmkv/warmkv/cache"
	"github.com/warmkv/warmkv/internal/redistest"
	"github.com/warmkv/warmkv/tier"
)

// TestNewCommandsOnSharedTier: with a shared tier, the new commands that
// read or write through Store methods work there (and another instance sees
// their writes); those that would need one atomic change the shared store
// cannot run (GETEX with an expiry, INCRBYFLOAT, SETRANGE, SETBIT) are
// refused with an error naming the tier, and change nothing.
func TestNewCommandsOnSharedTier(t *testing.T) {
	url := redistest.Start(t).URL()
	overTier := func(o *Options) {
		local, ok := o.Store.(*cache.Cache)
		if !ok {
			return
		}
		dial, err := tier.Dialer(url, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		shared, err := tier.New(tier.Options{Local: local, Dial: dial, Prefix: "t15:", LocalTTL: 0, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(shared.Close)
		o.Store, o.Keys = shared, nil
	}
	ts := startServer(t, defaultDriver(), overTier)
	r := ts.raw(t)
	refused := func(name string) string {
		return "-ERR " + name + " is not supported with a shared tier (REDIS_URL): the shared store cannot run it as one atomic change\r\n"
	}
	runScript(t, r, []step{
		{cmd("SET", "s", "Hello\x00World"), "+OK\r\n"},
		{cmd("PSETEX", "p", "100000", "v"), "+OK\r\n"},
		{cmd("GETRANGE", "s", "0", "4"), "$5\r\nHello\r\n"},
		{cmd("SUBSTR", "s", "-5", "-1"), "$5\r\nWorld\r\n"},
		{cmd("GETBIT", "s", "1"), ":1\r\n"},
		{cmd("BITCOUNT", "s"), ":42\r\n"},
		{cmd("BITPOS", "s", "1"), ":1\r\n"},
		{cmd("TOUCH", "s", "p", "nokey"), ":2\r\n"},
		{cmd("EXPIRETIME", "s"), ":-1\r\n"},
		{cmd("GETEX", "s"), "$11\r\nHello\x00World\r\n"},
		{cmd("APPEND", "s", "!"), ":12\r\n"},
		{cmd("MEMORY", "USAGE", "nokey"), "$-1\r\n"},
		{cmd("OBJECT", "ENCODING", "s"), "$6\r\nembstr\r\n"},
		{cmd("RANDOMKEY"), "-ERR this store cannot list its keys\r\n"},

		{cmd("GETEX", "s", "EX", "10"), refused("GETEX")},
		{cmd("INCRBYFLOAT", "f", "1.5"), refused("INCRBYFLOAT")},
		{cmd("SETRANGE", "s", "0", "x"), refused("SETRANGE")},
		{cmd("SETBIT", "s", "0", "1"), refused("SETBIT")},
		{cmd("GET", "s"), "$12\r\nHello\x00World!\r\n"},
		{cmd("TTL", "s"), ":-1\r\n"},
		{cmd("EXISTS", "f"), ":0\r\n"},
	})
	// The shared store holds the writes, binary bytes included.
	if v := redistest.CLI(t, "-u", url, "--raw", "GET", "t15:s"); v != "Hello\x00World!\n" {
		t.Errorf("shared store: t15:s = %q", v)
	}
}
