package e2e

import (
	"bytes"
	"debug/elf"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/intrinsics"

	"github.com/warmkv/warmkv/config"
	"github.com/warmkv/warmkv/internal/lambdatest"
)

// lambdaBootstrap is the bootstrap built for this machine, which the Lambda
// tests run: on Linux only, like Lambda.
func lambdaBootstrap(tb testing.TB) string {
	tb.Helper()
	if runtime.GOOS != "linux" {
		tb.Skip("the Lambda tests run the linux bootstrap")
	}
	return binary(tb, lambdaBuild)
}

// startLambda runs the bootstrap under the Runtime Interface Emulator with the
// environment Lambda gives a 512 MB function, plus env.
func startLambda(tb testing.TB, env ...string) *emulator {
	tb.Helper()
	return startEmulator(tb, lambdaBootstrap(tb), env...)
}

// httpCall invokes the function with an HTTP event and returns the answer's
// status and body; the invocation itself must succeed.
func (e *emulator) httpCall(t testing.TB, event any) (lambdatest.Response, string) {
	t.Helper()
	status, answer := e.invoke(t, event)
	if status != http.StatusOK || bytes.Contains(answer, []byte(`"errorType"`)) {
		t.Fatalf("invocation failed (%d): %s", status, answer)
	}
	return lambdatest.Decode(t, answer)
}

// Events as API Gateway, Function URLs and ALB send them.

const apiHost = "abcdef1234.execute-api.us-east-1.amazonaws.com"

// httpAPIEvent is payload 2.0 from an HTTP API on the $default stage.
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

// functionURLEvent is payload 2.0 as a Function URL sends it: no API id, and
// the function's own domain.
func functionURLEvent(method, path, rawQuery, body string) events.APIGatewayV2HTTPRequest {
	ev := httpAPIEvent(method, path, rawQuery, body)
	const host = "abcdefghij1234567890klmnopqr.lambda-url.us-east-1.on.aws"
	ev.Headers["host"] = host
	ev.RequestContext.APIID = "abcdefghij1234567890klmnopqr"
	ev.RequestContext.DomainName = host
	ev.RequestContext.DomainPrefix = "abcdefghij1234567890klmnopqr"
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
	fn := startLambda(t)

	// check invokes the function with an HTTP event and compares the answer.
	check := func(t *testing.T, event any, wantStatus int, wantBody string) lambdatest.Response {
		t.Helper()
		resp, body := fn.httpCall(t, event)
		if resp.StatusCode != wantStatus || body != wantBody {
			t.Errorf("answer %d %s\nwant   %d %s", resp.StatusCode, body, wantStatus, wantBody)
		}
		if ct := resp.Header("Content-Type"); wantBody != "" && strings.HasPrefix(wantBody, "{") && ct != "application/json" {
			t.Errorf("Content-Type %q, want application/json", ct)
		}
		return resp
	}

	// The first invocation starts the bootstrap: the emulator reports its INIT.
	t.Run("cold start", func(t *testing.T) {
		check(t, httpAPIEvent("GET", "/healthz", "", ""), 200, `{"status":"OK"}`)
		t.Logf("INIT under the emulator: %v", fn.initReports())
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
	t.Run("Function URL PUT then GET", func(t *testing.T) {
		check(t, functionURLEvent("POST", "/put", "", `{"key":"url","value":"fn"}`), 200, putOK)
		check(t, functionURLEvent("GET", "/get", "key=url", ""), 200, `{"status":"OK","key":"url","value":"fn"}`)
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
		check(t, restAPIEvent("GET", "/get", map[string][]string{"key": {"url"}}, ""), 200, `{"status":"OK","key":"url","value":"fn"}`)
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
				resp, body := fn.httpCall(t, event)
				if resp.StatusCode != 400 || !strings.Contains(body, `"status":"ERROR"`) {
					t.Errorf("answer %d %s, want 400 for a repeated key", resp.StatusCode, body)
				}
			})
		}
	})
	t.Run("bad input is the handler's answer, not an invocation error", func(t *testing.T) {
		resp, body := fn.httpCall(t, httpAPIEvent("POST", "/put", "", `{"key":`))
		if resp.StatusCode != 400 || !strings.HasPrefix(body, `{"status":"ERROR","message":`) || resp.Header("Content-Type") != "application/json" {
			t.Errorf("malformed JSON: %d %q %s", resp.StatusCode, resp.Header("Content-Type"), body)
		}
		resp, body = fn.httpCall(t, restAPIEvent("POST", "/put", nil, `{"key":"","value":"x"}`))
		if resp.StatusCode != 400 || !strings.Contains(body, `"status":"ERROR"`) {
			t.Errorf("empty key: %d %s", resp.StatusCode, body)
		}
		resp, body = fn.httpCall(t, httpAPIEvent("POST", "/put", "", `{"key":"k","value":"`+strings.Repeat("x", 20000)+`"}`))
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
		_, answer := fn.invoke(t, []byte(`{"Records":[{"eventSource":"aws:sqs","body":"x"}]}`))
		var e struct{ ErrorMessage, ErrorType string }
		if err := json.Unmarshal(answer, &e); err != nil || e.ErrorType == "" || !strings.Contains(e.ErrorMessage, "unsupported event") {
			t.Errorf("the invocation answered %s, want a function error naming the unsupported event", answer)
		}
		check(t, httpAPIEvent("GET", "/get", "key=name", ""), 200, `{"status":"OK","key":"name","value":"Andrew"}`)
	})
	t.Run("landing page", func(t *testing.T) {
		resp, body := fn.httpCall(t, httpAPIEvent("GET", "/home", "", ""))
		if resp.StatusCode != 200 || !strings.Contains(body, "warmkv") || !strings.HasPrefix(resp.Header("Content-Type"), "text/html") ||
			!strings.Contains(resp.Header("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("/home: %d %q CSP %q, %d bytes", resp.StatusCode, resp.Header("Content-Type"), resp.Header("Content-Security-Policy"), len(body))
		}
		spec, err := os.ReadFile(repoFile("openapi.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		resp, body = fn.httpCall(t, httpAPIEvent("GET", "/openapi.yaml", "", ""))
		if resp.StatusCode != 200 || body != string(spec) || resp.Header("Content-Type") != "application/yaml" {
			t.Errorf("/openapi.yaml: %d %q, %d bytes; want openapi.yaml's %d", resp.StatusCode, resp.Header("Content-Type"), len(body), len(spec))
		}
	})
	t.Run("stats: a budget from the function's memory", func(t *testing.T) {
		_, body := fn.httpCall(t, httpAPIEvent("GET", "/stats", "", ""))
		var st struct {
			MemoryBudget int64  `json:"memoryBudget"`
			Deployment   string `json:"deployment"`
			KeyCount     int    `json:"keyCount"`
		}
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatal(err)
		}
		// Half of AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512 (config.BudgetFraction).
		if st.MemoryBudget != 256<<20 || st.Deployment != "lambda" || st.KeyCount != 6 {
			t.Errorf("stats %s: want memoryBudget %d, deployment lambda, 6 keys", body, 256<<20)
		}
	})
	// Every invocation above reached the one process the first started: the
	// cache stayed warm across them, as it does on Lambda.
	t.Run("one cold start for all the invocations", func(t *testing.T) {
		if inits := fn.initReports(); len(inits) != 1 {
			t.Errorf("the emulator reported %d INITs, want 1: %v", len(inits), inits)
		}
	})
}

// TestLambdaBootstrapReportsConfigurationErrors: a bad variable fails INIT
// through the Runtime API's init-error endpoint, so the caller sees the
// message instead of a function that keeps dying.
func TestLambdaBootstrapReportsConfigurationErrors(t *testing.T) {
	fn := startLambda(t, "MAX_MEMORY=lots")
	status, answer := fn.invoke(t, httpAPIEvent("GET", "/healthz", "", ""))
	var e struct{ ErrorMessage, ErrorType string }
	if err := json.Unmarshal(answer, &e); err != nil {
		t.Fatalf("the answer is not an error: %v\n%s", err, answer)
	}
	if status == http.StatusOK || e.ErrorType != "Runtime.ConfigError" || !strings.Contains(e.ErrorMessage, `MAX_MEMORY="lots"`) {
		t.Errorf("invocation answered %d %s; want Runtime.ConfigError naming MAX_MEMORY", status, answer)
	}
	fn.waitForLog(t, "exited: exit status 2", 10*time.Second)
	if !strings.Contains(fn.log.String(), "INIT RTDONE(status: error)") {
		t.Errorf("the emulator did not see INIT fail:\n%s", fn.log)
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
	want := "CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -trimpath -ldflags '$(LDFLAGS)' -o bootstrap ."
	if lambda != want {
		t.Errorf("make lambda runs\n %s\nbut the tests build and run\n %s", lambda, want)
	}
	// $(LDFLAGS) is what lambdaBuildFlags pass, with the version git describe gives.
	ldflags := regexp.MustCompile(`(?m)^LDFLAGS\s*:=\s*(.*)\$\(VERSION\)\s*$`).FindSubmatch(makefile)
	if ldflags == nil || string(ldflags[1])+lambdaVersion != lambdaBuildFlags[len(lambdaBuildFlags)-1] {
		t.Errorf("the Makefile's LDFLAGS %q are not the tests' %q", ldflags, lambdaBuildFlags)
	}
	if !regexp.MustCompile(`(?m)^VERSION \?= \$\(shell git describe `).Match(makefile) {
		t.Error("the Makefile does not take VERSION from git describe")
	}
	if sam := recipe("build-WarmkvFunction"); !strings.Contains(sam, "cp bootstrap $(ARTIFACTS_DIR)") ||
		!strings.Contains(string(makefile), "build-WarmkvFunction: lambda") {
		t.Errorf("build-WarmkvFunction must build with make lambda and copy bootstrap into $(ARTIFACTS_DIR), has:\n%s", sam)
	}
}

// BenchmarkLambdaColdStart reports the INIT duration the emulator measures
// for the bootstrap's cold start, as Lambda bills it, by function size: the
// cache's budget is half the function's memory, and should cost nothing at
// start whatever it is. bench/coldstart.sh compares it with a hello-world
// function in the same run.
func BenchmarkLambdaColdStart(b *testing.B) {
	for _, mb := range []int{128, 1024, 3008} {
		b.Run(fmt.Sprintf("%dMB", mb), func(b *testing.B) {
			bootstrap := lambdaBootstrap(b) // built outside the timing
			var total time.Duration
			for range b.N {
				fn := startEmulator(b, bootstrap, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(mb))
				if status, answer := fn.invoke(b, httpAPIEvent("GET", "/healthz", "", "")); status != http.StatusOK {
					b.Fatalf("%d %s", status, answer)
				}
				inits := fn.initReports()
				if len(inits) != 1 {
					b.Fatalf("INIT reports: %v\n%s", inits, fn.log)
				}
				total += inits[0]
				fn.kill()
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "init-ms")
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
