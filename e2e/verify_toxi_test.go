package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// Toxiproxy (github.com/Shopify/toxiproxy/v2 v2.5.0) runs in the test
// process: its proxies and toxics are used directly, without its HTTP API,
// so nothing is left listening when the test ends.

// toxiServer holds a test's proxies.
type toxiServer struct{ api *toxiproxy.ApiServer }

func newToxiServer() *toxiServer {
	// Some toxics log to zerolog's global logger at trace level, into the
	// test's output.
	zerolog.SetGlobalLevel(zerolog.WarnLevel)
	return &toxiServer{toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())}
}

// proxy forwards listen (host:port, port 0 for any) to upstream until the
// test ends.
func (x *toxiServer) proxy(t *testing.T, name, listen, upstream string) *toxiproxy.Proxy {
	t.Helper()
	p := toxiproxy.NewProxy(x.api, name, listen, upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("proxy %s on %s: %v", name, listen, err)
	}
	t.Cleanup(p.Stop)
	return p
}

// toxic is one toxiproxy toxic: a type, the direction it acts on
// ("upstream": towards Redis, "downstream": towards warmkv) and its
// attributes.
type toxic struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Stream     string         `json:"stream"`
	Toxicity   float32        `json:"toxicity"`
	Attributes map[string]any `json:"attributes"`
}

// both is the toxic on both directions.
func both(typ string, attrs map[string]any) []toxic {
	return []toxic{
		{Name: typ + "_up", Type: typ, Stream: "upstream", Toxicity: 1, Attributes: attrs},
		{Name: typ + "_down", Type: typ, Stream: "downstream", Toxicity: 1, Attributes: attrs},
	}
}

func addToxics(t *testing.T, p *toxiproxy.Proxy, toxics []toxic) {
	t.Helper()
	for _, tx := range toxics {
		b, _ := json.Marshal(tx)
		if _, err := p.Toxics.AddToxicJson(bytes.NewReader(b)); err != nil {
			t.Fatalf("toxic %s on %s: %v", tx.Name, p.Name, err)
		}
	}
}

func removeToxics(t *testing.T, p *toxiproxy.Proxy, toxics []toxic) {
	t.Helper()
	for _, tx := range toxics {
		if err := p.Toxics.RemoveToxic(context.Background(), tx.Name); err != nil {
			t.Fatalf("removing toxic %s from %s: %v", tx.Name, p.Name, err)
		}
	}
}
