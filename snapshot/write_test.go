package snapshot

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/warmkv/warmkv/cache"
)

func TestWriteReplacesThePreviousSnapshot(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "warmkv.snap")
	c := newCache(t, cache.Options{MaxEntries: 100})
	mustSet(t, c, "first", "1", 0)
	if _, err := Write(path, c); err != nil {
		t.Fatal(err)
	}
	_, _ = c.Delete("first")
	mustSet(t, c, "second", "2", 0)
	if _, err := Write(path, c); err != nil {
		t.Fatal(err)
	}
	out := newCache(t, cache.Options{MaxEntries: 100})
	if _, err := Load(path, out, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, _ := out.Lookup("first"); ok {
		t.Error("the older snapshot's key came back")
	}
	if v, _, _ := out.Get("second"); v != "2" {
		t.Errorf("second = %q, want 2", v)
	}
	if names := dirNames(t, dir); names != "warmkv.snap" {
		t.Errorf("directory holds %s, want only the snapshot", names)
	}
}

func dirNames(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return strings.Join(names, " ")
}

func TestWriteIntoAMissingDirectoryFailsAndLeavesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no such dir", "warmkv.snap")
	c := newCache(t, cache.Options{MaxEntries: 100})
	if _, err := Write(path, c); err == nil || !strings.Contains(err.Error(), "no such dir") {
		t.Fatalf("Write = %v, want an error naming the directory", err)
	}
}

func TestWriteWhileTheCacheChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "warmkv.snap")
	c := newCache(t, cache.Options{MaxEntries: 20000})
	for i := range 5000 {
		mustSet(t, c, fmt.Sprintf("stable-%d", i), "s", 0)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("churn-%d-%d", w, i%1000)
				_ = c.Set(key, "x", 0)
				_, _, _ = c.Get(key)
				_, _ = c.Delete(fmt.Sprintf("churn-%d-%d", w, (i+500)%1000))
			}
		})
	}
	for range 3 {
		if _, err := Write(path, c); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	out := newCache(t, cache.Options{MaxEntries: 20000})
	if _, err := Load(path, out, time.Now()); err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		if _, _, ok, _ := out.Lookup(fmt.Sprintf("stable-%d", i)); !ok {
			t.Fatalf("stable-%d, untouched during the snapshot, is missing", i)
		}
	}
}

func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	if err := CheckWritable(filepath.Join(dir, "warmkv.snap")); err != nil {
		t.Errorf("writable directory: %v", err)
	}
	if names := dirNames(t, dir); names != "" {
		t.Errorf("the check left %s behind", names)
	}
	if err := CheckWritable(filepath.Join(dir, "missing", "warmkv.snap")); err == nil {
		t.Error("missing directory: no error")
	}
	if err := CheckWritable(dir); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("a directory as the path: %v", err)
	}
}

// crashHelperEnv tells a re-executed test binary to act as a writer that gets
// killed: TestCrashHelper runs only when it is set.
const crashHelperEnv = "WARMKV_SNAPSHOT_CRASH_HELPER"

// TestCrashHelper is the child of TestKillDuringWriteKeepsThePreviousSnapshot:
// it starts writing a large snapshot to the path in its environment, says so
// halfway through and waits there to be killed.
func TestCrashHelper(t *testing.T) {
	path := os.Getenv(crashHelperEnv)
	if path == "" {
		t.Skip("runs only as the child of TestKillDuringWriteKeepsThePreviousSnapshot")
	}
	c := newCache(t, cache.Options{MaxEntries: 100000, MaxBytes: 256 << 20})
	value := strings.Repeat("v", 100)
	for i := range 100000 {
		mustSet(t, c, fmt.Sprintf("new-%06d", i), value, 0)
	}
	_, err := write(path, c, func(shard int) {
		if shard == c.ShardCount()/2 {
			fmt.Println("halfway")
			for {
				time.Sleep(time.Hour) // until SIGKILL
			}
		}
	})
	t.Fatalf("the writer was not stopped halfway: %v", err)
}

func TestKillDuringWriteKeepsThePreviousSnapshot(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "warmkv.snap")
	old := newCache(t, cache.Options{MaxEntries: 100})
	mustSet(t, old, "old", "kept", 0)
	if _, err := Write(path, old); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	child := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	child.Env = append(os.Environ(), crashHelperEnv+"="+path)
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = child.Process.Kill() }() // the child may have exited
	halfway := make(chan bool, 1)
	go func() {
		lines := bufio.NewScanner(out)
		for lines.Scan() {
			if lines.Text() == "halfway" {
				halfway <- true
				return
			}
		}
		halfway <- false
	}()
	select {
	case ok := <-halfway:
		if !ok {
			t.Fatal("the writer exited before it was halfway")
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the writer never got halfway")
	}

	// The writer is halfway through, with part of the new snapshot on disk.
	var partial string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "warmkv.snap"+tempInfix) {
			partial = filepath.Join(dir, e.Name())
		}
	}
	if fi, err := os.Stat(partial); partial == "" || err != nil || fi.Size() == 0 {
		t.Fatalf("no partial temporary file while the writer is halfway (%q, %v)", partial, err)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()

	after, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(after, before) {
		t.Fatalf("the previous snapshot changed under a killed writer (%v)", err)
	}
	c := newCache(t, cache.Options{MaxEntries: 100})
	info, err := Load(path, c, time.Now())
	if err != nil || info.Keys != 1 {
		t.Fatalf("Load after the kill = %+v, %v; want the previous snapshot's one key", info, err)
	}
	if v, _, _ := c.Get("old"); v != "kept" {
		t.Errorf("old = %q, want kept", v)
	}
	if names := dirNames(t, dir); names != "warmkv.snap" {
		t.Errorf("after Load the directory holds %s, want only the snapshot", names)
	}
}
