package app

import (
	"bytes"
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

func TestBuildNamesSizeWhenItDoesNotFit(t *testing.T) {
	cfg := testConfig(t, map[string]string{"MAX_MEMORY": "1MiB", "SIZE": "1000000"})
	if _, err := Build(cfg, nil, "v", slog.Default()); err == nil || !strings.Contains(err.Error(), "SIZE=1000000") {
		t.Fatalf("err = %v, want one naming SIZE", err)
	}
}
