package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/warmkv/warmkv/internal/testsupport"
)

// The harness: build each flavour of the binary once per test process, start
// it with an environment on free loopback ports, wait until it is ready,
// capture its log (shown when the test fails), and stop it when the test
// ends.

// repoRoot is the repository's root, where go.mod, the Dockerfile and public/
// are: the parent of this package's directory, where go test runs its tests.
var repoRoot = func() string {
	root, err := filepath.Abs("..")
	if err != nil {
		panic(err)
	}
	return root
}()

// repoFile is the path of a file in the repository.
func repoFile(name string) string { return filepath.Join(repoRoot, name) }

// A flavour is the binary as one platform builds it.
type flavour struct {
	name  string   // the executable's file name
	env   []string // added to go build's environment
	flags []string // go build's flags
}

// lambdaBuildFlags are the go build flags of `make lambda`, which `sam build`
// runs (template.yaml, BuildMethod: makefile), with lambdaVersion for the
// version git describe gives there. TestMakefileBuildsWhatTheTestsBuild
// holds the Makefile to them.
var lambdaBuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w -X main.version=" + lambdaVersion}

// containerVersion and lambdaVersion are what the container and Lambda
// builds' -X main.version set here.
const (
	containerVersion = "container-test"
	lambdaVersion    = "lambda-test"
)

var (
	// plainBuild is `go build .`, what `go run .` runs.
	plainBuild = flavour{name: "warmkv"}
	// lambdaBuild is bootstrap as SAM builds it, but for this machine's
	// architecture so the tests can run it.
	lambdaBuild = flavour{"bootstrap", []string{"CGO_ENABLED=0", "GOOS=linux"}, lambdaBuildFlags}
	// arm64LambdaBuild is what `make lambda` and `sam build` ship.
	arm64LambdaBuild = flavour{"bootstrap-arm64", []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64"}, lambdaBuildFlags}
	// containerBuild is the Dockerfile's binary (`make build`'s flags), for
	// this machine.
	containerBuild = flavour{"warmkv-static", []string{"CGO_ENABLED=0"},
		[]string{"-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w -X main.version=" + containerVersion}}
)

// buildDir holds this process's builds; TestMain removes it.
var buildDir = sync.OnceValues(func() (string, error) { return os.MkdirTemp("", "warmkv-e2e") })

// builds is one build per flavour name, whichever test asks first.
var builds sync.Map // flavour name -> *build

type build struct {
	once sync.Once
	path string
	err  error
}

// binary builds f from the repository root once per test process and
// returns the executable's path.
func binary(tb testing.TB, f flavour) string {
	tb.Helper()
	v, _ := builds.LoadOrStore(f.name, new(build))
	b := v.(*build)
	b.once.Do(func() {
		dir, err := buildDir()
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, f.name)
		args := append(append([]string{"build"}, f.flags...), "-o", b.path, ".")
		cmd := exec.Command("go", args...)
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), f.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("%s go %s: %w\n%s", strings.Join(f.env, " "), strings.Join(args, " "), err, out)
		}
	})
	if b.err != nil {
		tb.Fatal(b.err)
	}
	return b.path
}

// removeBuilds deletes what binary built.
func removeBuilds() {
	if dir, err := buildDir(); err == nil {
		_ = os.RemoveAll(dir)
	}
}

// stopGrace is how long a process may take to exit after SIGTERM at the end
// of a test before it is killed.
const stopGrace = 10 * time.Second

// process is a running binary.
type process struct {
	name    string
	cmd     *exec.Cmd
	log     *testsupport.LogBuffer // its stderr and stdout
	started time.Time
	exited  chan struct{} // closed once it has exited
	err     error         // how it exited, once exited is closed
}

// launch starts argv with exactly env as its environment. When the test ends
// it is stopped (SIGTERM, then a kill after stopGrace), and its log is shown
// if the test failed.
func launch(tb testing.TB, argv, env []string) *process {
	tb.Helper()
	p := &process{name: filepath.Base(argv[len(argv)-1]), log: new(testsupport.LogBuffer), exited: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = env
	p.cmd.Stderr = p.log
	p.cmd.Stdout = p.log // the emulator logs there
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	tb.Cleanup(func() {
		p.stop()
		if tb.Failed() {
			tb.Logf("%s log:\n%s", p.name, p.log.Tail(60))
		}
	})
	return p
}

// stop sends SIGTERM and waits for the exit, killing the process if it has
// not exited within stopGrace.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(stopGrace):
		p.kill()
	}
}

// kill kills the process and waits for it to be gone.
func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// signal sends sig to the process.
func (p *process) signal(tb testing.TB, sig os.Signal) {
	tb.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		tb.Fatal(err)
	}
}

// waitExit waits up to limit for the process to exit and returns how it
// exited; the test fails if it is still running.
func (p *process) waitExit(tb testing.TB, limit time.Duration) error {
	tb.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(limit):
		tb.Fatalf("%s still running %v later", p.name, limit)
		return nil
	}
}

// failIfExited fails the test if the process has exited.
func (p *process) failIfExited(tb testing.TB, during string) {
	tb.Helper()
	select {
	case <-p.exited:
		tb.Fatalf("%s exited %s: %v\n%s", p.name, during, p.err, p.log.Tail(60))
	default:
	}
}

// waitForLog waits until the process's log contains text; the test fails if
// the process exits without having said it.
func (p *process) waitForLog(tb testing.TB, text string, limit time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(limit)
	for !strings.Contains(p.log.String(), text) {
		select {
		case <-p.exited: // its log is complete now
			if !strings.Contains(p.log.String(), text) {
				tb.Fatalf("%s exited (%v) before its log said %q:\n%s", p.name, p.err, text, p.log.Tail(60))
			}
			return
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the log never said %q:\n%s", text, p.log.Tail(60))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// server is a running binary that serves HTTP on a loopback port.
type server struct {
	*process
	port     int
	base     string // http://127.0.0.1:port
	respAddr string // the Redis-protocol port's address, when started with resp
}

// serverSpec says how to start a server; the zero value is the plain build
// with the test defaults.
type serverSpec struct {
	// argv is the command line; the default is the plain build. A wrapper
	// such as a shell that lowers a limit execs the binary.
	argv []string
	env  []string
	// platform makes env the whole environment, as a platform gives it:
	// nothing inherited, no MAX_MEMORY, only PORT and BIND added.
	platform bool
	// resp opens the Redis-protocol port on a free port and waits for it too;
	// otherwise it is off for the plain build (RESP_PORT=0), so that servers
	// started at once do not race for 6380.
	resp bool
	// anyStatus counts any answer from /healthz as ready, for a server that
	// is meant to answer errors.
	anyStatus bool
}

// start runs the plain build with env added to the test defaults and waits
// until /healthz answers 200.
func start(tb testing.TB, env ...string) *server {
	tb.Helper()
	return startServer(tb, serverSpec{env: env})
}

// startServer starts a server as spec says on free loopback ports and waits
// until it is ready.
func startServer(tb testing.TB, spec serverSpec) *server {
	tb.Helper()
	argv := spec.argv
	if argv == nil {
		argv = []string{binary(tb, plainBuild)}
	}
	port := testsupport.FreePort(tb)
	env := []string{"PORT=" + strconv.Itoa(port), "BIND=127.0.0.1"}
	if !spec.platform {
		env = append(append(os.Environ(), env...), "MAX_MEMORY=64MiB", "RESP_PORT=0")
	}
	s := &server{port: port, base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	if spec.resp {
		respPort := testsupport.FreePort(tb)
		s.respAddr = fmt.Sprintf("127.0.0.1:%d", respPort)
		env = append(env, "RESP_PORT="+strconv.Itoa(respPort))
	}
	s.process = launch(tb, argv, append(env, spec.env...))
	deadline := time.Now().Add(15 * time.Second)
	for !s.ready(spec) {
		s.failIfExited(tb, "during start")
		if time.Now().After(deadline) {
			tb.Fatalf("%s did not become ready\n%s", s.name, s.log.Tail(60))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

// ready reports whether /healthz answers (200, unless spec takes any
// status), and the Redis-protocol port answers PING when it is open.
func (s *server) ready(spec serverSpec) bool {
	resp, err := http.Get(s.base + "/healthz")
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK && !spec.anyStatus {
		return false
	}
	return s.respAddr == "" || pingRESP(s.respAddr) == nil
}

// pingRESP sends PING over the Redis protocol; any reply (PONG, or an error
// such as NOAUTH) shows the port is served.
func pingRESP(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, "PING\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line[0] != '+' && line[0] != '-' {
		return fmt.Errorf("PING: %q", line)
	}
	return nil
}

// requestTimeout bounds every request: past it, the server is hanging.
const requestTimeout = 10 * time.Second

var client = &http.Client{Timeout: requestTimeout}

// answer is a response read in full: its status, its header and (beside it, as
// a string) its body. Tests get no *http.Response, whose body would be theirs
// to close.
type answer struct {
	StatusCode int
	Header     http.Header
}

// request sends one request to path on the server and reads the whole answer.
func (s *server) request(tb testing.TB, method, path, body string) (answer, string) {
	tb.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	return answer{resp.StatusCode, resp.Header}, string(b)
}

// do is request for the status and the body.
func (s *server) do(tb testing.TB, method, path, body string) (int, string) {
	tb.Helper()
	resp, b := s.request(tb, method, path, body)
	return resp.StatusCode, b
}
