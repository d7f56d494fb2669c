package e2e

import (
	"debug/elf"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Helpers shared by the deployment tests (lambda_deploy_test.go,
// vercel_deploy_test.go, docker_deploy_test.go). Each deployment builds its own
// binary with the flags its platform uses; each is built once per test binary,
// into the directory TestMain made and removes.

// lambdaBuildFlags are the go build flags of `make lambda`, which `sam build`
// runs (template.yaml, BuildMethod: makefile). TestMakefileBuildsWhatTheTestsBuild
// holds the Makefile to them.
var lambdaBuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w"}

// containerVersion is what the container build's -X main.version sets here.
const containerVersion = "container-test"

// containerBuildFlags are the Dockerfile's, which are `make build`'s.
var containerBuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w -X main.version=" + containerVersion}

// onceBuild builds the main package once, whichever test asks first.
type onceBuild struct {
	once sync.Once
	path string
	err  error
}

// get builds "." with env added to the environment and the given flags.
func (b *onceBuild) get(t testing.TB, name string, env []string, flags ...string) string {
	t.Helper()
	b.once.Do(func() {
		b.path = filepath.Join(filepath.Dir(binary), name)
		args := append(append([]string{"build"}, flags...), "-o", b.path, ".")
		cmd := exec.Command("go", args...)
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("%s go %s: %v\n%s", strings.Join(env, " "), strings.Join(args, " "), err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

var (
	nativeBootstrap, arm64Bootstrap, staticServer onceBuild
)

// lambdaBootstrap is bootstrap as SAM builds it, but for this machine's
// architecture so the tests can run it.
func lambdaBootstrap(t testing.TB) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the Lambda tests run the linux bootstrap")
	}
	return nativeBootstrap.get(t, "bootstrap", []string{"CGO_ENABLED=0", "GOOS=linux"}, lambdaBuildFlags...)
}

// containerBinary is the Dockerfile's binary, built for this machine.
func containerBinary(t testing.TB) string {
	t.Helper()
	return staticServer.get(t, "warmkv-static", []string{"CGO_ENABLED=0"}, containerBuildFlags...)
}

// assertStatic fails unless the ELF file at path needs no dynamic loader and
// no shared library: distroless/static and Lambda's provided runtime have no
// libc to offer.
func assertStatic(t *testing.T, path string) *elf.File {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatalf("%s needs a dynamic loader (PT_INTERP): it would not start on a static base image", path)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("%s links shared libraries %v", path, libs)
	}
	return f
}

// startBinary runs bin with exactly env (nothing inherited, so the test sees
// what the platform would give) on a free loopback port and waits until it
// answers HTTP on path with any status.
func startBinary(t *testing.T, bin, path string, env ...string) *server {
	t.Helper()
	port := freePort(t)
	s := &server{port: port, base: fmt.Sprintf("http://127.0.0.1:%d", port), stderr: new(syncBuffer), done: make(chan error, 1)}
	s.cmd = exec.Command(bin)
	s.cmd.Env = append([]string{"PORT=" + strconv.Itoa(port), "BIND=127.0.0.1"}, env...)
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
		if t.Failed() {
			t.Logf("%s log:\n%s", filepath.Base(bin), s.stderr)
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(s.base + path)
		if err == nil {
			resp.Body.Close()
			return s
		}
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("%s exited during start: %v\n%s", bin, err, s.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start listening\n%s", bin, s.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fileMB is a file's size in MiB, for the logs.
func fileMB(t *testing.T, path string) float64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return float64(st.Size()) / (1 << 20)
}
