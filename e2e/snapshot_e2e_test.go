package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests restart the real binary on one SNAPSHOT_PATH, as an operator would.

// snapshotEnv turns snapshots on at path. The Redis-protocol port is off so
// that servers started one after another never race for it.
func snapshotEnv(path string) []string {
	return []string{"SNAPSHOT_PATH=" + path, "RESP_PORT=0"}
}

func (s *server) put(t *testing.T, route, key, value string, ttl int) {
	t.Helper()
	body := map[string]any{"key": key, "value": value}
	if ttl > 0 {
		body["ttl"] = ttl
	}
	b, _ := json.Marshal(body)
	// /set reads a JSON body only when it is declared; /put always does.
	resp, err := http.Post(s.base+route, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s %q: %d %s", route, key, resp.StatusCode, answer)
	}
}

func (s *server) value(t *testing.T, key string) (string, bool) {
	t.Helper()
	code, body := s.do(t, "GET", "/get?key="+url.QueryEscape(key), "")
	if code == 404 {
		return "", false
	}
	var got struct{ Value string }
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
		t.Fatalf("GET %q: %d %s", key, code, body)
	}
	return got.Value, true
}

// stopWith sends sig and waits for the server to exit, returning its error.
func (s *server) stopWith(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	s.signal(t, sig)
	return s.waitExit(t, 30*time.Second)
}

func TestBinaryComesBackWarmAfterSIGTERM(t *testing.T) {
	path := filepath.Join(t.TempDir(), "warmkv.snap")
	s := start(t, snapshotEnv(path)...)
	if !strings.Contains(s.log.String(), "no snapshot to restore") {
		t.Errorf("first start does not say it starts empty:\n%s", s.log)
	}

	want := map[string]string{"ключ": "значение", "🔑": "😀🎉", "名前": "アンドリュー", "empty": ""}
	for i := range 100 {
		want[fmt.Sprintf("key-%d", i)] = strings.Repeat("v", i)
	}
	for k, v := range want {
		s.put(t, "/put", k, v, 0)
	}
	s.put(t, "/set", "session", "abc", 3600)
	want["session"] = "abc"

	code, body := s.do(t, "POST", "/snapshot", "")
	if wantBody := fmt.Sprintf(`{"status":"OK","message":"Snapshot saved: %d keys."}`, len(want)); code != 200 || body != wantBody {
		t.Fatalf("POST /snapshot: %d %s, want 200 %s", code, body, wantBody)
	}
	// Written after the last snapshot: the one taken at shutdown must hold it.
	s.put(t, "/put", "late", "written after POST /snapshot", 0)
	want["late"] = "written after POST /snapshot"
	// In the shutdown snapshot too, but expired by the time the server is back.
	shortLived := time.Now()
	s.put(t, "/set", "short-lived", "gone after a second", 1)

	if err := s.stopWith(t, syscall.SIGTERM); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, s.log)
	}
	if !strings.Contains(s.log.String(), fmt.Sprintf(`snapshot written" path=%s keys=%d`, path, len(want)+1)) {
		t.Errorf("no final snapshot in the log:\n%s", s.log)
	}

	time.Sleep(time.Until(shortLived.Add(1100 * time.Millisecond))) // the 1s TTL runs out while the server is down
	s2 := start(t, snapshotEnv(path)...)
	for k, v := range want {
		if got, ok := s2.value(t, k); !ok || got != v {
			t.Errorf("after restart %q = %q (found %v), want %q", k, got, ok, v)
		}
	}
	if _, ok := s2.value(t, "short-lived"); ok {
		t.Error("a key that expired while the server was down came back")
	}
	if log := s2.log.String(); !strings.Contains(log, fmt.Sprintf(`snapshot restored" snapshot_path=%s keys=%d expired_while_down=1`, path, len(want))) ||
		!strings.Contains(log, "duration=") {
		t.Errorf("restart does not log what it restored and how long it took:\n%s", log)
	}
}

func TestBinaryKill9LosesOnlyWritesSinceTheLastSnapshot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "warmkv.snap")
	s := start(t, snapshotEnv(path)...)
	s.put(t, "/put", "saved", "1", 0)
	if code, body := s.do(t, "POST", "/snapshot", ""); code != 200 {
		t.Fatalf("POST /snapshot: %d %s", code, body)
	}
	s.put(t, "/put", "unsaved", "2", 0)
	_ = s.stopWith(t, syscall.SIGKILL)

	s2 := start(t, snapshotEnv(path)...)
	if v, ok := s2.value(t, "saved"); !ok || v != "1" {
		t.Errorf("the key in the last snapshot is gone after kill -9: %q %v", v, ok)
	}
	if _, ok := s2.value(t, "unsaved"); ok {
		t.Error("a write after the last snapshot survived kill -9; the test proves nothing")
	}
}

func TestBinaryMovesABadSnapshotAsideAndStartsEmpty(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "warmkv.snap")
	garbage := []byte("\x89WKV\r\n\x1a\n and then nothing a snapshot has")
	if err := os.WriteFile(path, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	s := start(t, snapshotEnv(path)...)
	if _, body := s.do(t, "GET", "/stats", ""); !strings.Contains(body, `"keyCount":0`) {
		t.Errorf("stats after a bad snapshot: %s", body)
	}
	log := s.log.String()
	if !strings.Contains(log, "snapshot unusable; moved it aside and starting empty") || !strings.Contains(log, "unknown format version") {
		t.Errorf("the log does not say what is wrong:\n%s", log)
	}
	moved, _ := filepath.Glob(path + ".corrupt-*")
	if len(moved) != 1 {
		t.Fatalf("moved-aside files: %v, want one", moved)
	}
	if kept, _ := os.ReadFile(moved[0]); string(kept) != string(garbage) {
		t.Errorf("the file moved aside was changed: %q", kept)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the bad file is still at %s: %v", path, err)
	}
}
