package e2e

import (
	"debug/elf"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/intrinsics"

	"github.com/warmkv/warmkv/config"
	"github.com/warmkv/warmkv/internal/lambdatest"
)

// The Lambda tests run the real bootstrap, built as SAM builds it, against
// fakeRuntime, an implementation of the Lambda Runtime API
// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html): the
// process asks GET .../invocation/next for an event and posts the answer to
// .../invocation/{id}/response or .../error, or reports a failed start to
// .../init/error. That is all Lambda's side of the conversation is.

type fakeRuntime struct {
	srv        *httptest.Server
	queue      chan queuedEvent
	mu         sync.Mutex
	pending    map[string]chan runtimeAnswer
	initErrors chan runtimeAnswer
	nexts      atomic.Int64 // calls of /next: a runtime that failed init must make none
	seq        atomic.Int64
	stop       chan struct{}
	closeOnce  sync.Once
}

type queuedEvent struct {
	id    string
	event []byte
}

// runtimeAnswer is what the function posted for an invocation or its init.
type runtimeAnswer struct {
	endpoint  string // "response", "error" or "init/error"
	errorType string // the Lambda-Runtime-Function-Error-Type header
	body      []byte
}

const runtimeAPI = "/2018-06-01/runtime"

func newFakeRuntime(t testing.TB) *fakeRuntime {
	rt := &fakeRuntime{
		queue:      make(chan queuedEvent, 16),
		pending:    make(map[string]chan runtimeAnswer),
		initErrors: make(chan runtimeAnswer, 4),
		stop:       make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+runtimeAPI+"/invocation/next", rt.next)
	mux.HandleFunc("POST "+runtimeAPI+"/invocation/{id}/response", rt.answer("response"))
	mux.HandleFunc("POST "+runtimeAPI+"/invocation/{id}/error", rt.answer("error"))
	mux.HandleFunc("POST "+runtimeAPI+"/init/error", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rt.initErrors <- runtimeAnswer{"init/error", r.Header.Get("Lambda-Runtime-Function-Error-Type"), body}
		w.WriteHeader(http.StatusAccepted)
	})
	rt.srv = httptest.NewServer(mux)
	// Registered before the function's own cleanup, so it runs after the
	// process is gone.
	t.Cleanup(rt.close)
	return rt
}

// close releases a /next still waiting and stops the server.
func (rt *fakeRuntime) close() {
	rt.closeOnce.Do(func() {
		close(rt.stop)
		rt.srv.Close()
	})
}

func (rt *fakeRuntime) address() string { return strings.TrimPrefix(rt.srv.URL, "http://") }

// next hands out the next queued event, long-polling as Lambda does.
func (rt *fakeRuntime) next(w http.ResponseWriter, r *http.Request) {
	rt.nexts.Add(1)
	select {
	case q := <-rt.queue:
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", q.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(30*time.Second).UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:warmkv")
		h.Set("Lambda-Runtime-Trace-Id", "Root=1-67f66f3c-0d4c5b1a2e3f4a5b6c7d8e9f;Parent=53995c3f42cd8ad8;Sampled=0")
		h.Set("Content-Type", "application/json")
		_, _ = w.Write(q.event)
	case <-r.Context().Done():
	case <-rt.stop:
	}
}

func (rt *fakeRuntime) answer(endpoint string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rt.mu.Lock()
		ch, ok := rt.pending[r.PathValue("id")]
		delete(rt.pending, r.PathValue("id"))
		rt.mu.Unlock()
		if !ok {
			http.Error(w, `{"errorMessage":"unknown request id","errorType":"InvalidRequestID"}`, http.StatusBadRequest)
			return
		}
		ch <- runtimeAnswer{endpoint, r.Header.Get("Lambda-Runtime-Function-Error-Type"), body}
		w.WriteHeader(http.StatusAccepted)
	}
}

// lambdaBootstrap is the bootstrap built for this machine, which the Lambda
// tests run: on Linux only, like Lambda.
func lambdaBootstrap(tb testing.TB) string {
	tb.Helper()
	if runtime.GOOS != "linux" {
		tb.Skip("the Lambda tests run the linux bootstrap")
	}
	return binary(tb, lambdaBuild)
}

// startLambda runs the bootstrap with the environment Lambda gives a 512 MB
// function, plus env.
func startLambda(tb testing.TB, rt *fakeRuntime, env ...string) *process {
	tb.Helper()
	return launch(tb, []string{lambdaBootstrap(tb)}, append([]string{
		"AWS_LAMBDA_RUNTIME_API=" + rt.address(),
		"AWS_LAMBDA_FUNCTION_NAME=warmkv",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512",
		"AWS_REGION=us-east-1",
		"_HANDLER=bootstrap",
		"TZ=:UTC",
		"APP_ENV=production", // as template.yaml sets it
	}, env...))
}

// invoke queues event (a value to marshal, or raw []byte) and waits for the
// function's answer.
func (rt *fakeRuntime) invoke(t testing.TB, p *process, event any) runtimeAnswer {
	t.Helper()
	payload, ok := event.([]byte)
	if !ok {
		var err error
		if payload, err = json.Marshal(event); err != nil {
			t.Fatal(err)
		}
	}
	id := fmt.Sprintf("invocation-%d", rt.seq.Add(1))
	ch := make(chan runtimeAnswer, 1)
	rt.mu.Lock()
	rt.pending[id] = ch
	rt.mu.Unlock()
	rt.queue <- queuedEvent{id, payload}
	select {
	case a := <-ch:
		return a
	case <-p.exited:
		t.Fatalf("the function exited during %s: %v\n%s", id, p.err, p.log)
	case <-time.After(20 * time.Second):
		t.Fatalf("no answer to %s\n%s", id, p.log)
	}
	return runtimeAnswer{}
}

// httpCall invokes the function with an HTTP event and returns the answer's
// status and body; the invocation itself must succeed.
func (rt *fakeRuntime) httpCall(t testing.TB, p *process, event any) (lambdatest.Response, string) {
	t.Helper()
	a := rt.invoke(t, p, event)
	if a.endpoint != "response" {
		t.Fatalf("invocation failed (%s): %s", a.endpoint, a.body)
	}
	return lambdatest.Decode(t, a.body)
}

// Events as API Gateway, Function URLs and ALB send them.

const apiHost = "abcdef1234.execute-api.us-east-1.amazonaws.com"

// httpAPIEvent is payload 2.0 (HTTP APIs, Function URLs) on the $default stage.
func httpAPIEvent(method, path, rawQuery, body string) events.APIGatewayV2HTTPRequest {
	ev := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       "$default",
		RawPath:        path,
		RawQueryString: rawQuery,
		Headers:        map[string]string{"host": apiHost, "user-agent": "curl/8.5.0", "content-type": "application/json"},
		Body:           body,
	}
	ev.RequestContext.RouteKey = "$default"
	ev.RequestContext.Stage = "$default"
	ev.RequestContext.AccountID = "123456789012"
	ev.RequestContext.APIID = "abcdef1234"
	ev.RequestContext.DomainName = apiHost
	ev.RequestContext.HTTP.Method = method
	ev.RequestContext.HTTP.Path = path
	ev.RequestContext.HTTP.SourceIP = "203.0.113.7"
	return ev
}

// restAPIEvent is payload 1.0 from a REST API on the "prod" stage, which
// leaves the stage out of path.
func restAPIEvent(method, path string, query map[string][]string, body string) events.APIGatewayProxyRequest {
	ev := events.APIGatewayProxyRequest{
		Resource:                        "/{proxy+}",
		Path:                            path,
		HTTPMethod:                      method,
		Headers:                         map[string]string{"Host": apiHost, "Content-Type": "application/json"},
		MultiValueHeaders:               map[string][]string{"Host": {apiHost}, "Content-Type": {"application/json"}},
		MultiValueQueryStringParameters: query,
		Body:                            body,
	}
	ev.RequestContext.Stage = "prod"
	ev.RequestContext.Path = "/prod" + path
	ev.RequestContext.DomainName = apiHost
	ev.RequestContext.HTTPMethod = method
	return ev
}

// albEvent is an ALB target group's event without multi-value headers; the
// query arrives exactly as the client encoded it.
func albEvent(method, path string, query map[string]string, body string) events.ALBTargetGroupRequest {
	return events.ALBTargetGroupRequest{
		HTTPMethod:            method,
		Path:                  path,
		QueryStringParameters: query,
		Headers:               map[string]string{"host": "warmkv-123.us-east-1.elb.amazonaws.com", "content-type": "application/json"},
		RequestContext: events.ALBTargetGroupRequestContext{ELB: events.ELBContext{
			TargetGroupArn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/warmkv/6d0ecf831eec9f09"}},
		Body: body,
	}
}

const putOK = `{"status":"OK","message":"Key inserted/updated successfully."}`

func TestLambdaBootstrapServesEveryEventShape(t *testing.T) {
	rt := newFakeRuntime(t)
	p := startLambda(t, rt)

	// check invokes the function with an HTTP event and compares the answer.
	check := func(t *testing.T, event any, wantStatus int, wantBody string) lambdatest.Response {
		t.Helper()
		resp, body := rt.httpCall(t, p, event)
		if resp.StatusCode != wantStatus || body != wantBody {
			t.Errorf("answer %d %s\nwant   %d %s", resp.StatusCode, body, wantStatus, wantBody)
		}
		if ct := resp.Header("Content-Type"); wantBody != "" && strings.HasPrefix(wantBody, "{") && ct != "application/json" {
			t.Errorf("Content-Type %q, want application/json", ct)
		}
		return resp
	}

	// The first invocation is queued as the process starts, so its answer
	// marks the cold start: exec, runtime init, configuration, cache, handler,
	// the first Runtime API round trip and the request itself.
	t.Run("cold start", func(t *testing.T) {
		check(t, httpAPIEvent("GET", "/healthz", "", ""), 200, `{"status":"OK"}`)
		t.Logf("cold start (process start to first response through the Runtime API): %v", time.Since(p.started).Round(time.Millisecond))
	})

	t.Run("payload 2.0 PUT then GET in the next invocation", func(t *testing.T) {
		check(t, httpAPIEvent("POST", "/put", "", `{"key":"name","value":"Andrew"}`), 200, putOK)
		get := httpAPIEvent("GET", "/get", "key=name", "")
		get.Cookies = []string{"session=abc", "theme=dark"} // ignored by warmkv, but must not disturb the request
		check(t, get, 200, `{"status":"OK","key":"name","value":"Andrew"}`)
	})
	t.Run("payload 1.0 (REST API) PUT then GET", func(t *testing.T) {
		check(t, restAPIEvent("POST", "/put", nil, `{"key":"rest","value":"one"}`), 200, putOK)
		check(t, restAPIEvent("GET", "/get", map[string][]string{"key": {"rest"}}, ""), 200, `{"status":"OK","key":"rest","value":"one"}`)
	})
	t.Run("ALB PUT then GET with a URL-encoded key", func(t *testing.T) {
		check(t, albEvent("POST", "/put", nil, `{"key":"a b/c","value":"alb"}`), 200, putOK)
		resp := check(t, albEvent("GET", "/get", map[string]string{"key": "a%20b%2Fc"}, ""), 200, `{"status":"OK","key":"a b/c","value":"alb"}`)
		if resp.StatusDescription != "200 OK" {
			t.Errorf("statusDescription %q, want 200 OK", resp.StatusDescription)
		}
		if resp.Headers["Content-Type"] != "application/json" {
			t.Errorf("ALB without multi-value headers reads only headers, got %v", resp.Headers)
		}
	})
	t.Run("one cache behind every front door", func(t *testing.T) {
		check(t, albEvent("GET", "/get", map[string]string{"key": "name"}, ""), 200, `{"status":"OK","key":"name","value":"Andrew"}`)
		check(t, restAPIEvent("GET", "/get", map[string][]string{"key": {"a b/c"}}, ""), 200, `{"status":"OK","key":"a b/c","value":"alb"}`)
		check(t, httpAPIEvent("GET", "/get", "key=rest", ""), 200, `{"status":"OK","key":"rest","value":"one"}`)
	})
	t.Run("named stage prefix", func(t *testing.T) {
		staged := httpAPIEvent("GET", "/prod/get", "key=name", "")
		staged.RequestContext.Stage = "prod"
		check(t, staged, 200, `{"status":"OK","key":"name","value":"Andrew"}`)

		v1 := restAPIEvent("GET", "/prod/get", map[string][]string{"key": {"name"}}, "") // an HTTP API set to payload 1.0
		v1.Headers, v1.MultiValueHeaders = map[string]string{"host": apiHost}, nil
		check(t, v1, 200, `{"status":"OK","key":"name","value":"Andrew"}`)

		unstaged := httpAPIEvent("GET", "/prod/get", "key=name", "") // $default: /prod is a path
		check(t, unstaged, 404, `{"status":"ERROR","message":"No such endpoint."}`)
	})
	t.Run("base64 bodies", func(t *testing.T) {
		b64 := base64.StdEncoding.EncodeToString([]byte(`{"key":"b64","value":"décodé"}`))
		put := httpAPIEvent("POST", "/put", "", b64)
		put.IsBase64Encoded = true
		check(t, put, 200, putOK)
		alb := albEvent("POST", "/put", nil, base64.StdEncoding.EncodeToString([]byte(`{"key":"b64alb","value":"x"}`)))
		alb.IsBase64Encoded = true
		check(t, alb, 200, putOK)
		check(t, httpAPIEvent("GET", "/get", "key=b64", ""), 200, `{"status":"OK","key":"b64","value":"décodé"}`)
		check(t, httpAPIEvent("GET", "/get", "key=b64alb", ""), 200, `{"status":"OK","key":"b64alb","value":"x"}`)
	})
	t.Run("repeated query keys reach the handler", func(t *testing.T) {
		// warmkv refuses a repeated key with 400: that answer proves both values arrived.
		for name, event := range map[string]any{
			"payload 2.0": httpAPIEvent("GET", "/get", "key=name&key=rest", ""),
			"payload 1.0": restAPIEvent("GET", "/get", map[string][]string{"key": {"name", "rest"}}, ""),
			"ALB multi-value": func() events.ALBTargetGroupRequest {
				ev := albEvent("GET", "/get", nil, "")
				ev.Headers, ev.MultiValueHeaders = nil, map[string][]string{"host": {"warmkv-123.us-east-1.elb.amazonaws.com"}}
				ev.MultiValueQueryStringParameters = map[string][]string{"key": {"name", "rest"}}
				return ev
			}(),
		} {
			t.Run(name, func(t *testing.T) {
				resp, body := rt.httpCall(t, p, event)
				if resp.StatusCode != 400 || !strings.Contains(body, `"status":"ERROR"`) {
					t.Errorf("answer %d %s, want 400 for a repeated key", resp.StatusCode, body)
				}
			})
		}
	})
	t.Run("bad input is the handler's answer, not an invocation error", func(t *testing.T) {
		resp, body := rt.httpCall(t, p, httpAPIEvent("POST", "/put", "", `{"key":`))
		if resp.StatusCode != 400 || !strings.HasPrefix(body, `{"status":"ERROR","message":`) || resp.Header("Content-Type") != "application/json" {
			t.Errorf("malformed JSON: %d %q %s", resp.StatusCode, resp.Header("Content-Type"), body)
		}
		resp, body = rt.httpCall(t, p, restAPIEvent("POST", "/put", nil, `{"key":"","value":"x"}`))
		if resp.StatusCode != 400 || !strings.Contains(body, `"status":"ERROR"`) {
			t.Errorf("empty key: %d %s", resp.StatusCode, body)
		}
		resp, body = rt.httpCall(t, p, httpAPIEvent("POST", "/put", "", `{"key":"k","value":"`+strings.Repeat("x", 20000)+`"}`))
		if resp.StatusCode != 413 {
			t.Errorf("oversized body: %d %s", resp.StatusCode, body)
		}
		resp = check(t, albEvent("GET", "/put", nil, ""), 405,
			`{"status":"ERROR","message":"Method GET is not allowed on /put; use POST."}`)
		if resp.Header("Allow") != "POST" {
			t.Errorf("405 without Allow: POST: %v", resp.Headers)
		}
		check(t, httpAPIEvent("GET", "/get", "key=nobody", ""), 404, `{"status":"ERROR","message":"Key not found."}`)
		check(t, httpAPIEvent("GET", "/get", "key=name", ""), 200, `{"status":"OK","key":"name","value":"Andrew"}`)
	})
	t.Run("an event that is no HTTP request fails the invocation only", func(t *testing.T) {
		a := rt.invoke(t, p, []byte(`{"Records":[{"eventSource":"aws:sqs","body":"x"}]}`))
		var e struct{ ErrorMessage, ErrorType string }
		if err := json.Unmarshal(a.body, &e); err != nil || a.endpoint != "error" || !strings.Contains(e.ErrorMessage, "unsupported event") {
			t.Errorf("the runtime got %s %s, want an invocation error naming the unsupported event", a.endpoint, a.body)
		}
		check(t, httpAPIEvent("GET", "/get", "key=name", ""), 200, `{"status":"OK","key":"name","value":"Andrew"}`)
	})
	t.Run("landing page", func(t *testing.T) {
		resp, body := rt.httpCall(t, p, httpAPIEvent("GET", "/home", "", ""))
		if resp.StatusCode != 200 || !strings.Contains(body, "warmkv") || !strings.HasPrefix(resp.Header("Content-Type"), "text/html") ||
			!strings.Contains(resp.Header("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("/home: %d %q CSP %q, %d bytes", resp.StatusCode, resp.Header("Content-Type"), resp.Header("Content-Security-Policy"), len(body))
		}
	})
	t.Run("stats: a budget from the function's memory", func(t *testing.T) {
		_, body := rt.httpCall(t, p, httpAPIEvent("GET", "/stats", "", ""))
		var st struct {
			MemoryBudget int64  `json:"memoryBudget"`
			Deployment   string `json:"deployment"`
			KeyCount     int    `json:"keyCount"`
		}
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatal(err)
		}
		// Half of AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512 (config.BudgetFraction).
		if st.MemoryBudget != 256<<20 || st.Deployment != "lambda" || st.KeyCount != 5 {
			t.Errorf("stats %s: want memoryBudget %d, deployment lambda, 5 keys", body, 256<<20)
		}
	})
}

func TestLambdaBootstrapReportsConfigurationErrors(t *testing.T) {
	rt := newFakeRuntime(t)
	p := startLambda(t, rt, "MAX_MEMORY=lots")
	select {
	case a := <-rt.initErrors:
		var e struct{ ErrorMessage, ErrorType string }
		if err := json.Unmarshal(a.body, &e); err != nil {
			t.Fatalf("init error body is not JSON: %v\n%s", err, a.body)
		}
		if a.errorType != "Runtime.ConfigError" || e.ErrorType != "Runtime.ConfigError" || !strings.Contains(e.ErrorMessage, `MAX_MEMORY="lots"`) {
			t.Errorf("init error: type header %q, body %s; want Runtime.ConfigError naming MAX_MEMORY", a.errorType, a.body)
		}
	case <-p.exited:
		t.Fatalf("exited (%v) without reporting an init error\n%s", p.err, p.log)
	case <-time.After(20 * time.Second):
		t.Fatalf("no init error reported\n%s", p.log)
	}
	var exit *exec.ExitError
	if err := p.waitExit(t, 10*time.Second); !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Errorf("exit: %v, want status 2", err)
	}
	if n := rt.nexts.Load(); n != 0 {
		t.Errorf("asked for %d invocations after failing init", n)
	}
	if !strings.Contains(p.log.String(), "MAX_MEMORY") {
		t.Errorf("the log does not name MAX_MEMORY:\n%s", p.log)
	}
}

// TestLambdaBootstrapCrossBuildsForArm64 builds what `make lambda` and
// `sam build` ship: linux/arm64 with the same flags as the bootstrap the
// other tests run.
func TestLambdaBootstrapCrossBuildsForArm64(t *testing.T) {
	if testing.Short() {
		t.Skip("a cross build takes a while")
	}
	bin := binary(t, arm64LambdaBuild)
	f := assertStatic(t, bin)
	if f.Machine != elf.EM_AARCH64 {
		t.Fatalf("machine %v, want EM_AARCH64", f.Machine)
	}
	if f.Section(".symtab") != nil {
		t.Error("the bootstrap keeps its symbol table: -ldflags -s is missing")
	}
	t.Logf("bootstrap (linux/arm64, %s): %.1f MiB", strings.Join(lambdaBuildFlags, " "), fileMB(t, bin))
}

// TestMakefileBuildsWhatTheTestsBuild holds `make lambda` (which `sam build`
// runs) to the flags of the bootstrap the tests run, and `make build` to the
// Dockerfile's.
func TestMakefileBuildsWhatTheTestsBuild(t *testing.T) {
	makefile, err := os.ReadFile(repoFile("Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	recipe := func(target string) string {
		lines := strings.Split(string(makefile), "\n")
		for i, line := range lines {
			if strings.HasPrefix(line, target+":") {
				var r []string
				for _, l := range lines[i+1:] {
					if !strings.HasPrefix(l, "\t") {
						break
					}
					r = append(r, strings.TrimSpace(l))
				}
				return strings.Join(r, "\n")
			}
		}
		t.Fatalf("the Makefile has no %s target", target)
		return ""
	}
	lambda := recipe("lambda")
	want := "CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -trimpath -ldflags '-s -w' -o bootstrap ."
	if lambda != want {
		t.Errorf("make lambda runs\n %s\nbut the tests build and run\n %s", lambda, want)
	}
	if sam := recipe("build-WarmkvFunction"); !strings.Contains(sam, "cp bootstrap $(ARTIFACTS_DIR)") ||
		!strings.Contains(string(makefile), "build-WarmkvFunction: lambda") {
		t.Errorf("build-WarmkvFunction must build with make lambda and copy bootstrap into $(ARTIFACTS_DIR), has:\n%s", sam)
	}
}

// BenchmarkLambdaColdStart measures a cold start: from starting the bootstrap
// to the answer of its first invocation, a GET /healthz through the Runtime
// API, for a few function sizes (the cache preallocates in proportion to its
// budget, half the function's memory).
func BenchmarkLambdaColdStart(b *testing.B) {
	for _, mb := range []int{128, 512, 1769, 3008} {
		b.Run(fmt.Sprintf("%dMB", mb), func(b *testing.B) {
			event := httpAPIEvent("GET", "/healthz", "", "")
			lambdaBootstrap(b) // build outside the timing
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// A runtime per process, so no /next of the killed one can take an event.
				b.StopTimer()
				rt := newFakeRuntime(b)
				b.StartTimer()
				p := startLambda(b, rt, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(mb))
				if a := rt.invoke(b, p, event); a.endpoint != "response" {
					b.Fatalf("%s: %s", a.endpoint, a.body)
				}
				b.StopTimer()
				p.kill()
				rt.close()
				b.StartTimer()
			}
		})
	}
}

// TestSAMTemplate parses template.yaml as CloudFormation does (goformation
// catches unknown properties and type errors) and checks the function against
// what the bootstrap and the configuration need.
func TestSAMTemplate(t *testing.T) {
	// Keep GetAtt and Sub readable instead of resolving them to nothing.
	keep := func(name string, input, _ any) any {
		switch v := input.(type) {
		case string:
			return name + " " + v
		case []any:
			parts := make([]string, len(v))
			for i, p := range v {
				parts[i] = fmt.Sprint(p)
			}
			return name + " " + strings.Join(parts, ".")
		}
		return name
	}
	tpl, err := goformation.OpenWithOptions(repoFile("template.yaml"), &intrinsics.ProcessorOptions{
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{"Fn::GetAtt": keep, "Fn::Sub": keep},
	})
	if err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	if tpl.Transform == nil || tpl.Transform.String == nil || *tpl.Transform.String != "AWS::Serverless-2016-10-31" {
		t.Error("template.yaml is no SAM template: Transform AWS::Serverless-2016-10-31 is missing")
	}
	fn, err := tpl.GetServerlessFunctionWithName("WarmkvFunction")
	if err != nil {
		t.Fatal(err)
	}

	str := func(p *string) string {
		if p == nil {
			return "<unset>"
		}
		return *p
	}
	num := func(p *int) int {
		if p == nil {
			return -1
		}
		return *p
	}
	if str(fn.Runtime) != "provided.al2023" || str(fn.Handler) != "bootstrap" {
		t.Errorf("Runtime %s, Handler %s: want provided.al2023 running the executable bootstrap", str(fn.Runtime), str(fn.Handler))
	}
	if len(fn.Architectures) != 1 || fn.Architectures[0] != "arm64" {
		t.Errorf("Architectures %v, want [arm64], what make lambda builds", fn.Architectures)
	}
	if m := num(fn.MemorySize); m < 128 || m > 10240 {
		t.Errorf("MemorySize %d, Lambda allows 128-10240 MB", m)
	}
	if to := num(fn.Timeout); to < 1 || to > 900 {
		t.Errorf("Timeout %d, Lambda allows 1-900 s", to)
	}
	if fn.CodeUri == nil || str(fn.CodeUri.String) != "." {
		t.Error("CodeUri must be the repository root, where the Makefile and go.mod are")
	}
	if fn.AWSCloudFormationMetadata["BuildMethod"] != "makefile" {
		t.Errorf("Metadata BuildMethod %v, want makefile (make build-WarmkvFunction)", fn.AWSCloudFormationMetadata["BuildMethod"])
	}
	if fn.FunctionUrlConfig == nil || fn.FunctionUrlConfig.AuthType != "NONE" {
		t.Error("no public Function URL (FunctionUrlConfig AuthType NONE)")
	}

	routes := map[string]bool{}
	for name, ev := range fn.Events {
		if ev.Type != "HttpApi" || ev.Properties == nil || ev.Properties.HttpApiEvent == nil {
			t.Errorf("event %s is %s, want HttpApi", name, ev.Type)
			continue
		}
		e := ev.Properties.HttpApiEvent
		if e.ApiId != nil || (e.PayloadFormatVersion != nil && *e.PayloadFormatVersion != "2.0") {
			t.Errorf("event %s: want the implicit HTTP API ($default stage) with payload 2.0", name)
		}
		routes[strings.ToUpper(str(e.Method))+" "+str(e.Path)] = true
	}
	if !routes["ANY /{proxy+}"] || !routes["ANY /"] {
		t.Errorf("HttpApi routes %v, want ANY /{proxy+} and ANY / (the catch-all does not match /)", routes)
	}

	// The environment, with the parameters' defaults, must be a valid configuration
	// giving half the function's memory to the cache.
	if fn.Environment == nil {
		t.Fatal("no Environment")
	}
	vars := fn.Environment.Variables
	for name, want := range map[string]string{"APP_ENV": "production", "SIZE": "0", "MAX_MEMORY": "",
		"MAX_KEY_LENGTH": "256", "MAX_VALUE_LENGTH": "256", "AUTH_TOKEN": ""} {
		if got, ok := vars[name]; !ok || got != want {
			t.Errorf("environment %s = %q (set %v), want %q by default", name, got, ok, want)
		}
	}
	env := map[string]string{"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(num(fn.MemorySize))}
	for k, v := range vars {
		env[k] = v
	}
	cfg, err := config.Load(config.Env{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatalf("the template's default environment is an invalid configuration: %v", err)
	}
	if want := int64(float64(int64(num(fn.MemorySize))<<20) * config.BudgetFraction); cfg.Memory.Budget != want {
		t.Errorf("memory budget %d from %s, want %d", cfg.Memory.Budget, cfg.Memory.Source, want)
	}

	params := map[string]string{"FunctionMemory": "Number", "Size": "Number", "MaxMemory": "String",
		"MaxKeyLength": "Number", "MaxValueLength": "Number", "AuthToken": "String"}
	for name, typ := range params {
		p, ok := tpl.Parameters[name]
		if !ok || p.Type != typ {
			t.Errorf("parameter %s: %+v, want Type %s", name, p, typ)
		}
	}
	if p := tpl.Parameters["AuthToken"]; p.NoEcho == nil || !*p.NoEcho {
		t.Error("AuthToken must be NoEcho: the console and the API would show the token")
	}
	// MaxMemory's pattern refuses at deploy time what the function would refuse at start.
	if p := tpl.Parameters["MaxMemory"]; p.AllowedPattern == nil {
		t.Error("MaxMemory has no AllowedPattern")
	} else {
		re := regexp.MustCompile(*p.AllowedPattern)
		for _, v := range []string{"512MiB", "1.5 GB", "268435456", "2gib", "64mb", "1TiB", "lots", "-1MiB", "12 parsecs", "1.MiB", "MiB"} {
			_, err := config.ParseSize(v)
			if re.MatchString(v) != (err == nil) {
				t.Errorf("MaxMemory %q: pattern match %v, but config.ParseSize says %v", v, re.MatchString(v), err)
			}
		}
		if !re.MatchString("") {
			t.Error(`MaxMemory's pattern refuses "", its default`)
		}
	}

	outputs := map[string]string{}
	for name, o := range tpl.Outputs {
		outputs[name] = fmt.Sprint(o.Value)
	}
	if !strings.Contains(outputs["ApiUrl"], "${ServerlessHttpApi}.execute-api.") {
		t.Errorf("ApiUrl output %q, want the implicit HTTP API's URL", outputs["ApiUrl"])
	}
	if outputs["FunctionUrl"] != "Fn::GetAtt WarmkvFunctionUrl.FunctionUrl" {
		t.Errorf("FunctionUrl output %q, want the function URL", outputs["FunctionUrl"])
	}
}
