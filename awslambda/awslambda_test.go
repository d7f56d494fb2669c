package awslambda

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/warmkv/warmkv/internal/lambdatest"
)

// The fixtures in testdata are events as each front door sends them, taken
// from the shapes AWS documents: a REST API (payload 1.0, stage outside the
// path), an HTTP API set to payload 1.0 on a named stage (stage inside the
// path), an HTTP API with payload 2.0 on $default and on a named stage, a
// Function URL, and an ALB target group with and without multi-value headers.

// seen is what echoHandler reports about the request it received.
type seen struct {
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	Query   map[string][]string `json:"query"`
	Cookies []string            `json:"cookies"`
	Body    string              `json:"body"`
}

// echoHandler answers with what reached it, two cookies and a custom header,
// so a test sees both directions of an adapter.
func echoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s := seen{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: string(body)}
		for _, c := range r.Cookies() {
			s.Cookies = append(s.Cookies, c.Name+"="+c.Value)
		}
		if r.URL.Path == "/binary" {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte{0xff, 0x00, 0xfe, 'x'})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Add("Set-Cookie", "a=1; Path=/")
		w.Header().Add("Set-Cookie", "b=2; Path=/")
		w.Header().Set("X-Echo", "yes")
		w.WriteHeader(http.StatusTeapot)
		_ = json.NewEncoder(w).Encode(s)
	})
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func invoke(t testing.TB, h http.Handler, event []byte) (lambdatest.Response, seen) {
	t.Helper()
	out, err := Handler(h).Invoke(context.Background(), event)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	resp, body := lambdatest.Decode(t, out)
	var s seen
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("handler answer is not the echo: %v\n%s", err, out)
	}
	return resp, s
}

func TestShapeOf(t *testing.T) {
	tests := []struct {
		name    string
		event   string
		want    shape
		wantErr bool
	}{
		{"rest-api.json", "", payloadV1, false},
		{"http-api-v1.json", "", payloadV1, false},
		{"http-api-v2.json", "", payloadV2, false},
		{"http-api-v2-stage.json", "", payloadV2, false},
		{"function-url.json", "", payloadV2, false},
		{"alb.json", "", albTarget, false},
		{"alb-multivalue.json", "", albTarget, false},
		{"null elb is no ALB", `{"httpMethod":"GET","path":"/","requestContext":{"elb":null}}`, payloadV1, false},
		{"version 1.0 is payload 1.0", `{"version":"1.0","httpMethod":"GET","path":"/"}`, payloadV1, false},
		{"an SQS event", `{"Records":[{"eventSource":"aws:sqs","body":"x"}]}`, unknownShape, true},
		{"a scheduled event", `{"source":"aws.events","detail-type":"Scheduled Event"}`, unknownShape, true},
		{"an empty object", `{}`, unknownShape, true},
		{"not JSON", `GET / HTTP/1.1`, unknownShape, true},
		{"a JSON string", `"hello"`, unknownShape, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			event := []byte(tt.event)
			if tt.event == "" {
				event = fixture(t, tt.name)
			}
			got, err := shapeOf(event)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Fatalf("shapeOf = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestStripStage(t *testing.T) {
	tests := []struct{ path, stage, want string }{
		{"/prod/get", "prod", "/get"},
		{"/prod", "prod", "/"},
		{"/prod/", "prod", "/"},
		{"/production/get", "prod", "/production/get"}, // only a whole segment
		{"/get", "prod", "/get"},                       // REST APIs leave the stage out
		{"/get/prod/x", "prod", "/get/prod/x"},         // only at the front
		{"/$default/get", "$default", "/$default/get"}, // $default is never in the path
		{"/get", "", "/get"},
		{"/v1.0/get", "v1.0", "/get"},
	}
	for _, tt := range tests {
		if got := stripStage(tt.path, tt.stage); got != tt.want {
			t.Errorf("stripStage(%q, %q) = %q, want %q", tt.path, tt.stage, got, tt.want)
		}
	}
}

func TestInvokeDeliversTheRequest(t *testing.T) {
	const putBody = `{"key":"k","value":"v"}`
	tests := []struct {
		fixture string
		want    seen
	}{
		{"rest-api.json", seen{Method: "GET", Path: "/echo",
			Query: map[string][]string{"key": {"a", "b"}}, Cookies: []string{"session=abc", "theme=dark"}}},
		{"http-api-v1.json", seen{Method: "POST", Path: "/echo", Body: putBody}},
		{"http-api-v2.json", seen{Method: "POST", Path: "/echo", Body: putBody,
			Query: map[string][]string{"key": {"a", "b"}, "q": {"x y"}}, Cookies: []string{"session=abc", "theme=dark"}}},
		{"http-api-v2-stage.json", seen{Method: "GET", Path: "/echo", Query: map[string][]string{"key": {"k"}}}},
		{"function-url.json", seen{Method: "GET", Path: "/echo",
			Query: map[string][]string{"key": {"café"}}, Cookies: []string{"session=abc"}}},
		{"alb.json", seen{Method: "GET", Path: "/echo",
			Query: map[string][]string{"key": {"a b"}, "q": {"1 2"}}, Cookies: []string{"session=abc", "theme=dark"}}},
		{"alb-multivalue.json", seen{Method: "POST", Path: "/echo", Body: putBody,
			Query: map[string][]string{"key": {"a b", "c"}}, Cookies: []string{"session=abc", "theme=dark"}}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			resp, got := invoke(t, echoHandler(), fixture(t, tt.fixture))
			if resp.StatusCode != http.StatusTeapot {
				t.Errorf("statusCode = %d, want 418", resp.StatusCode)
			}
			if len(got.Query) == 0 {
				got.Query = nil
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("handler saw\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func TestInvokeAnswersInTheEventsShape(t *testing.T) {
	wantCookies := []string{"a=1; Path=/", "b=2; Path=/"}

	t.Run("payload 2.0: cookies in their own field", func(t *testing.T) {
		resp, _ := invoke(t, echoHandler(), fixture(t, "http-api-v2.json"))
		if !slices.Equal(resp.Cookies, wantCookies) {
			t.Errorf("cookies = %q, want %q", resp.Cookies, wantCookies)
		}
		if resp.Headers["Content-Type"] != "application/json" || resp.Headers["X-Echo"] != "yes" {
			t.Errorf("headers = %v", resp.Headers)
		}
	})
	t.Run("payload 1.0: multi-value headers", func(t *testing.T) {
		resp, _ := invoke(t, echoHandler(), fixture(t, "rest-api.json"))
		if !slices.Equal(resp.MultiValueHeaders["Set-Cookie"], wantCookies) {
			t.Errorf("Set-Cookie = %q, want %q", resp.MultiValueHeaders["Set-Cookie"], wantCookies)
		}
		if got := resp.MultiValueHeaders["Content-Type"]; !slices.Equal(got, []string{"application/json"}) {
			t.Errorf("Content-Type = %q", got)
		}
	})
	t.Run("ALB without multi-value headers: single-value headers", func(t *testing.T) {
		resp, _ := invoke(t, echoHandler(), fixture(t, "alb.json"))
		if resp.MultiValueHeaders != nil {
			t.Errorf("multiValueHeaders = %v, want none: the target group reads only headers", resp.MultiValueHeaders)
		}
		if resp.Headers["Content-Type"] != "application/json" || resp.Headers["X-Echo"] != "yes" {
			t.Errorf("headers = %v", resp.Headers)
		}
		if resp.Headers["Set-Cookie"] != "b=2; Path=/" {
			t.Errorf("Set-Cookie = %q, want the last one", resp.Headers["Set-Cookie"])
		}
		if resp.StatusDescription != "418 I'm a teapot" {
			t.Errorf("statusDescription = %q", resp.StatusDescription)
		}
	})
	t.Run("ALB with multi-value headers", func(t *testing.T) {
		resp, _ := invoke(t, echoHandler(), fixture(t, "alb-multivalue.json"))
		if !slices.Equal(resp.MultiValueHeaders["Set-Cookie"], wantCookies) {
			t.Errorf("Set-Cookie = %q, want %q", resp.MultiValueHeaders["Set-Cookie"], wantCookies)
		}
		if resp.StatusDescription != "418 I'm a teapot" {
			t.Errorf("statusDescription = %q", resp.StatusDescription)
		}
	})
}

func TestInvokeEncodesBinaryAnswersAsBase64(t *testing.T) {
	for _, name := range []string{"rest-api.json", "http-api-v2.json", "alb.json"} {
		t.Run(name, func(t *testing.T) {
			var ev map[string]any
			if err := json.Unmarshal(fixture(t, name), &ev); err != nil {
				t.Fatal(err)
			}
			if ev["version"] == "2.0" {
				ev["rawPath"] = "/binary"
			} else {
				ev["path"] = "/binary"
			}
			event, _ := json.Marshal(ev)
			out, err := Handler(echoHandler()).Invoke(context.Background(), event)
			if err != nil {
				t.Fatal(err)
			}
			resp, body := lambdatest.Decode(t, out)
			if !resp.IsBase64Encoded || body != "\xff\x00\xfex" {
				t.Fatalf("binary answer: isBase64Encoded=%v body=%q", resp.IsBase64Encoded, resp.Body)
			}
		})
	}
}

func TestInvokeRefusesWhatIsNoHTTPRequest(t *testing.T) {
	badBase64 := strings.Replace(string(fixture(t, "http-api-v2.json")),
		`"eyJrZXkiOiJrIiwidmFsdWUiOiJ2In0="`, `"not base64!"`, 1)
	tests := map[string]string{
		"not JSON":          `hello`,
		"an SQS event":      `{"Records":[{"eventSource":"aws:sqs","body":"x"}]}`,
		"broken base64":     badBase64,
		"a wrong field":     `{"version":"2.0","rawPath":7}`,
		"an empty payload":  ``,
		"a JSON array":      `[{"version":"2.0"}]`,
		"an ALB event typo": `{"requestContext":{"elb":{}},"httpMethod":"GET","headers":{"host":3}}`,
	}
	for name, event := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := Handler(echoHandler()).Invoke(context.Background(), []byte(event))
			if err == nil {
				t.Fatalf("Invoke accepted it and answered %s", out)
			}
		})
	}
	if _, err := Handler(echoHandler()).Invoke(context.Background(), []byte(`{}`)); !errors.Is(err, errUnsupportedEvent) {
		t.Fatalf("an unknown event: %v, want errUnsupportedEvent", err)
	}
}

func TestReportInitError(t *testing.T) {
	type report struct {
		method, path, errorType, contentType string
		body                                 map[string]string
	}
	got := make(chan report, 1)
	status := http.StatusAccepted
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		answer := status // read before the send, which orders it before the test's next write
		got <- report{r.Method, r.URL.Path, r.Header.Get("Lambda-Runtime-Function-Error-Type"), r.Header.Get("Content-Type"), body}
		w.WriteHeader(answer)
	}))
	defer srv.Close()
	api := strings.TrimPrefix(srv.URL, "http://")

	if err := ReportInitError(api, errors.New(`MAX_MEMORY="lots": want bytes`)); err != nil {
		t.Fatal(err)
	}
	r := <-got
	want := report{"POST", "/2018-06-01/runtime/init/error", "Runtime.ConfigError", "application/json",
		map[string]string{"errorMessage": `MAX_MEMORY="lots": want bytes`, "errorType": "Runtime.ConfigError"}}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("the Runtime API received\n %+v\nwant\n %+v", r, want)
	}

	// Lambda answers 500 when the runtime is already past init: the caller must hear of it.
	status = http.StatusInternalServerError
	if err := ReportInitError(api, errors.New("x")); err == nil {
		t.Fatal("a 500 from the Runtime API was not reported")
	}
	<-got

	srv.Close()
	if err := ReportInitError(api, errors.New("x")); err == nil {
		t.Fatal("an unreachable Runtime API was not reported")
	}
}
