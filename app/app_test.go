package app

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/warmkv/warmkv/config"
)

func testConfig(t *testing.T, vars map[string]string) config.Config {
	t.Helper()
	cfg, err := config.Load(config.Env{Getenv: func(k string) string { return vars[k] }})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestBuildServes(t *testing.T) {
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, nil))
	a, err := Build(testConfig(t, map[string]string{"MAX_MEMORY": "16MiB", "APP_ENV": "production"}), nil, "v1", logger)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rec := httptest.NewRecorder()
	a.Handler.ServeHTTP(rec, httptest.NewRequest("GET", "/stats", nil))
	if !strings.Contains(rec.Body.String(), `"memoryBudget":16777216`) || !strings.Contains(rec.Body.String(), `"version":"v1"`) {
		t.Fatalf("stats do not reflect the configuration: %s", rec.Body)
	}
	a.LogReady("ready", "addr", "x")
	for _, want := range []string{"memory_budget=16777216", "memory_budget_source=MAX_MEMORY", "addr=x"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("ready log lacks %s: %s", want, log.String())
		}
	}
}

// SIZE bounds entries and MAX_MEMORY bytes; a SIZE the budget cannot reach is
// not an error: the shards grow with what they hold, so the byte bound binds.
func TestBuildAcceptsASizeTheBudgetCannotReach(t *testing.T) {
	cfg := testConfig(t, map[string]string{"MAX_MEMORY": "1MiB", "SIZE": "1000000"})
	a, err := Build(cfg, nil, "v", slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for i := range 20_000 {
		_ = a.Cache.Set(fmt.Sprintf("key-%d", i), strings.Repeat("v", 100), 0)
	}
	st := a.Cache.Stats()
	if st.MaxEntries != 1_000_000 || st.Bytes > st.MaxBytes || st.Evictions == 0 {
		t.Fatalf("entry bound %d, %d of %d bytes, %d evictions: want SIZE reported and the byte budget binding",
			st.MaxEntries, st.Bytes, st.MaxBytes, st.Evictions)
	}
}
