package app

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warmkv/warmkv/config"
)

func buildWithLog(t *testing.T, cfg config.Config) (*App, *bytes.Buffer) {
	t.Helper()
	var log bytes.Buffer
	a, err := Build(cfg, nil, "v", slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a, &log
}

func post(a *App, path string) (int, string) {
	rec := httptest.NewRecorder()
	a.Handler.ServeHTTP(rec, httptest.NewRequest("POST", path, nil))
	return rec.Code, rec.Body.String()
}

func TestSnapshotRouteWritesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "warmkv.snap")
	a, _ := buildWithLog(t, testConfig(t, map[string]string{"MAX_MEMORY": "16MiB", "SNAPSHOT_PATH": path}))
	if a.Snapshots == nil {
		t.Fatal("SNAPSHOT_PATH set on the standalone server, but no Saver")
	}
	if err := a.Cache.Set("k", "v", 0); err != nil {
		t.Fatal(err)
	}
	if code, body := post(a, "/snapshot"); code != 200 || body != `{"status":"OK","message":"Snapshot saved: 1 keys."}` {
		t.Fatalf("POST /snapshot: %d %s", code, body)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no snapshot file: %v", err)
	}
}

func TestSnapshotsAreOffWithoutAPersistentDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "warmkv.snap")
	for _, vars := range []map[string]string{
		{"MAX_MEMORY": "16MiB"},
		{"MAX_MEMORY": "16MiB", "SNAPSHOT_PATH": path, "VERCEL": "1"},
		{"MAX_MEMORY": "16MiB", "SNAPSHOT_PATH": path, "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"},
	} {
		a, log := buildWithLog(t, testConfig(t, vars))
		if a.Snapshots != nil {
			t.Errorf("%v: snapshots on", vars)
		}
		if code, _ := post(a, "/snapshot"); code != 409 {
			t.Errorf("%v: POST /snapshot answered %d, want 409", vars, code)
		}
		if vars["SNAPSHOT_PATH"] != "" && !strings.Contains(log.String(), "SNAPSHOT_PATH is ignored") {
			t.Errorf("%v: no warning that SNAPSHOT_PATH is ignored: %s", vars, log)
		}
		if err := a.RestoreSnapshot(); err != nil {
			t.Errorf("%v: RestoreSnapshot with snapshots off: %v", vars, err)
		}
	}
}

func TestRestoreSnapshotStartsEmptyOnABadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "warmkv.snap")
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, log := buildWithLog(t, testConfig(t, map[string]string{"MAX_MEMORY": "16MiB", "SNAPSHOT_PATH": path}))
	if err := a.RestoreSnapshot(); err != nil {
		t.Fatalf("a bad snapshot stopped the server: %v", err)
	}
	for _, want := range []string{"level=ERROR", "moved it aside", "not a warmkv snapshot", "moved_to=" + path + ".corrupt-"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q: %s", want, log)
		}
	}
}

func TestRestoreSnapshotRefusesAnUnusablePath(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{filepath.Join(dir, "missing", "warmkv.snap"), dir} {
		a, log := buildWithLog(t, testConfig(t, map[string]string{"MAX_MEMORY": "16MiB", "SNAPSHOT_PATH": path}))
		if err := a.RestoreSnapshot(); err == nil {
			t.Errorf("SNAPSHOT_PATH=%s: started anyway", path)
		}
		if !strings.Contains(log.String(), "SNAPSHOT_PATH is not usable") {
			t.Errorf("SNAPSHOT_PATH=%s: log does not say so: %s", path, log)
		}
	}
}
