package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/warmkv/warmkv/internal/testsupport"
)

// The Lambda tests run the bootstrap under AWS's Lambda Runtime Interface
// Emulator (aws-lambda-rie), the Runtime API that AWS ships for testing
// functions outside Lambda: it starts the bootstrap on the first invocation,
// passes it the function's environment, hands it events through the Runtime
// API, and reports each cold start's INIT duration in its log, as Lambda does.

// emulatorPackage pins the emulator; it builds from the Go module proxy.
const emulatorPackage = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"

// emulatorBuild installs the emulator once per test process, into the build
// directory.
var emulatorBuild = sync.OnceValues(func() (string, error) {
	dir, err := buildDir()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "install", emulatorPackage)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s: %w\n%s", emulatorPackage, err, out)
	}
	return filepath.Join(dir, "aws-lambda-rie"), nil
})

// emulatorBinary returns the emulator's path. Without it (no module proxy) a
// test skips, except in CI, where it fails.
func emulatorBinary(tb testing.TB) string {
	tb.Helper()
	path, err := emulatorBuild()
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatal(err)
		}
		tb.Skipf("the Lambda Runtime Interface Emulator could not be built: %v", err)
	}
	return path
}

// emulator is aws-lambda-rie running one function.
type emulator struct {
	*process
	url string // the invocation endpoint
}

// lambdaEnv is the environment Lambda gives a 512 MB function; the emulator
// passes it on to the bootstrap and adds AWS_LAMBDA_RUNTIME_API.
var lambdaEnv = []string{
	"AWS_LAMBDA_FUNCTION_NAME=warmkv",
	"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
	"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512",
	"AWS_REGION=us-east-1",
	"_HANDLER=bootstrap",
	"TZ=:UTC",
	"APP_ENV=production", // as template.yaml sets it
}

// startEmulator runs bootstrap under the emulator with lambdaEnv plus env
// (later entries win) and waits until it accepts invocations. The emulator
// starts the bootstrap itself, on the first invocation.
func startEmulator(tb testing.TB, bootstrap string, env ...string) *emulator {
	tb.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(testsupport.FreePort(tb))
	p := launch(tb, []string{emulatorBinary(tb), "--runtime-interface-emulator-address", addr, bootstrap},
		append(append([]string{}, lambdaEnv...), env...))
	testsupport.WaitFor(tb, "the emulator to listen on "+addr, 10*time.Second, func() bool {
		p.failIfExited(tb, "while starting")
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
	return &emulator{process: p, url: "http://" + addr + "/2015-03-31/functions/function/invocations"}
}

// invoke sends event (a value to marshal, or raw []byte) as one invocation
// and returns the emulator's status and the function's answer.
func (e *emulator) invoke(tb testing.TB, event any) (int, []byte) {
	tb.Helper()
	payload, ok := event.([]byte)
	if !ok {
		var err error
		if payload, err = json.Marshal(event); err != nil {
			tb.Fatal(err)
		}
	}
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Post(e.url, "application/json", bytes.NewReader(payload))
	if err != nil {
		tb.Fatalf("invoking: %v\n%s", err, e.log)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, body
}

// initReports returns the INIT durations the emulator has logged, one per
// cold start of the bootstrap.
func (e *emulator) initReports() []time.Duration {
	var ds []time.Duration
	for _, m := range initReport.FindAllStringSubmatch(e.log.String(), -1) {
		ms, err := strconv.ParseFloat(m[1], 64)
		if err == nil {
			ds = append(ds, time.Duration(ms*float64(time.Millisecond)))
		}
	}
	return ds
}

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
