package handler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// The OpenAPI description (openapi.yaml at the repository root) is held to
// the code here: every request a test sends through faces or call, and the
// answer it gets, is checked against it (checkExchange), so that a route,
// parameter, status, header or body shape the document does not describe
// fails the test that produced it.

const specPath = "../openapi.yaml"

// openAPI is the loaded document and a router over its paths.
type openAPI struct {
	doc    *openapi3.T
	router routers.Router
}

var loadSpec = sync.OnceValues(func() (*openAPI, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(specPath)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("%s is not a valid OpenAPI document: %w", specPath, err)
	}
	// The servers are for readers ("./", localhost); the tests' requests go
	// to other hosts, so the router matches paths alone.
	forRouter := *doc
	forRouter.Servers = nil
	router, err := gorillamux.NewRouter(&forRouter)
	if err != nil {
		return nil, err
	}
	return &openAPI{doc: doc, router: router}, nil
})

func spec(tb testing.TB) *openAPI {
	tb.Helper()
	s, err := loadSpec()
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// validationOptions: every status must be documented; the bearer scheme is
// optional in the document (the "{}" alternative), so any Authorization
// passes the request check and the handler decides.
var validationOptions = &openapi3filter.Options{
	IncludeResponseStatus: true,
	MultiError:            true,
	AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
}

// checkedExchanges remembers exchanges already validated, so that tests that
// repeat one request thousands of times (the concurrency tests) pay for one
// validation.
var checkedExchanges sync.Map

// checkExchange validates one request and its answer against the document:
//   - the answer must be one the matched operation documents (status,
//     headers, body), or, for a path or method the document does not list,
//     one of the answers its description gives for those;
//   - a request the document calls invalid must have been refused (4xx): a
//     constraint the document states and the handler does not enforce is
//     drift too. A valid request may still be refused (a stored value that
//     is not an integer); the document lists those statuses.
func checkExchange(tb testing.TB, req *http.Request, reqBody []byte, status int, header http.Header, respBody []byte) {
	tb.Helper()
	// The answer's length stands for its body: the concurrency tests' answers
	// differ only in a counter's digits.
	key := fmt.Sprint(req.Method, " ", req.URL.RequestURI(), " ", string(reqBody), " ", req.Header, " -> ", status, " ", header, " ", len(respBody))
	if _, seen := checkedExchanges.LoadOrStore(key, true); seen {
		return
	}
	s := spec(tb)
	ctx := context.Background()
	vreq := req.Clone(ctx)
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	vreq.ContentLength = int64(len(reqBody))

	route, pathParams, err := s.router.FindRoute(vreq)
	switch {
	case errors.Is(err, routers.ErrPathNotFound):
		s.checkUnrouted(tb, vreq, "unlisted path", status, header, respBody, "NotFound", "URITooLong", "Unavailable", "PayloadTooLarge")
		return
	case errors.Is(err, routers.ErrMethodNotAllowed):
		s.checkUnrouted(tb, vreq, "unlisted method", status, header, respBody,
			"MethodNotAllowed", "Unauthorized", "URITooLong", "Unavailable", "PayloadTooLarge")
		return
	case err != nil:
		tb.Fatalf("openapi.yaml: routing %s %s: %v", req.Method, req.URL, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: pathParams, Route: route, Options: validationOptions}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil && (status < 400 || status > 499) {
		tb.Errorf("openapi.yaml calls %s %s (body %.200q) invalid, but the handler answered %d:\n%v",
			req.Method, req.URL.RequestURI(), reqBody, status, err)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header, Options: validationOptions}
	out.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		tb.Errorf("openapi.yaml does not describe the answer to %s %s: %d %.300s\n%v",
			req.Method, req.URL.RequestURI(), status, respBody, err)
	}
}

// checkUnrouted validates an answer to a path or method the document does
// not list against the shared responses its description names for them.
func (s *openAPI) checkUnrouted(tb testing.TB, req *http.Request, what string, status int, header http.Header, body []byte, names ...string) {
	tb.Helper()
	op := openapi3.NewOperation()
	for _, name := range names {
		ref := s.doc.Components.Responses[name]
		if ref == nil {
			tb.Fatalf("openapi.yaml has no components.responses.%s", name)
		}
		code := map[string]int{"NotFound": 404, "MethodNotAllowed": 405, "Unauthorized": 401, "URITooLong": 414,
			"Unavailable": 503, "PayloadTooLarge": 413}[name]
		op.AddResponse(code, ref.Value)
	}
	route := &routers.Route{Spec: s.doc, Path: req.URL.Path, Method: req.Method, Operation: op}
	in := &openapi3filter.RequestValidationInput{Request: req, Route: route, Options: validationOptions}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header, Options: validationOptions}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		tb.Errorf("openapi.yaml does not describe the answer to %s %s (%s): %d %.300s\n%v",
			req.Method, req.URL.RequestURI(), what, status, body, err)
	}
}

// readAllAndRestore reads r's body and puts an equal one back.
func readAllAndRestore(tb testing.TB, body *io.ReadCloser) []byte {
	tb.Helper()
	if *body == nil || *body == http.NoBody {
		return nil
	}
	b, err := io.ReadAll(*body)
	if err != nil {
		tb.Fatal(err)
	}
	_ = (*body).Close()
	*body = io.NopCloser(bytes.NewReader(b))
	return b
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	s := spec(t)
	if got := s.doc.OpenAPI; got != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", got)
	}
	public, err := os.ReadFile("../public/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	root, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(public, root) {
		t.Error("public/openapi.yaml, which the deployments serve, differs from openapi.yaml: cp openapi.yaml public/openapi.yaml")
	}
}

// TestOpenAPIListsEveryRoute holds the document's paths and methods to the
// handler's route table, built with the real landing page: each route with
// exactly its methods (OPTIONS aside, which the core answers for any route
// as a CORS preflight), and nothing the handler does not serve.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	s := spec(t)
	h := newHandlerWithPublic(t, os.DirFS("../public"))
	documented := map[string]bool{}
	for path, item := range s.doc.Paths.Map() {
		documented[path] = true
		rt, ok := h.routes[path]
		if !ok {
			t.Errorf("openapi.yaml lists %s, which the handler does not serve", path)
			continue
		}
		var methods []string
		for method := range item.Operations() {
			if method != http.MethodOptions {
				methods = append(methods, method)
			}
		}
		for _, m := range methods {
			if !rt.allows(m) {
				t.Errorf("openapi.yaml lists %s %s; the handler allows %s", m, path, rt.allow)
			}
		}
		if len(methods) != len(rt.methods) {
			t.Errorf("openapi.yaml lists %v for %s; the handler allows %s", methods, path, rt.allow)
		}
		if op := item.Get; op != nil {
			public := op.Security != nil && len(*op.Security) == 0
			if public != rt.public {
				t.Errorf("%s: public in openapi.yaml %v, in the handler %v", path, public, rt.public)
			}
		}
	}
	for path := range h.routes {
		if !documented[path] {
			t.Errorf("the handler serves %s, which openapi.yaml does not list", path)
		}
	}
}

// TestOpenAPIDocumentsEveryStatus makes sure the validation above can fail:
// answers the document does not describe are caught.
func TestOpenAPICatchesUndocumentedAnswers(t *testing.T) {
	req, _ := http.NewRequest("GET", "/get?key=k", nil)
	json := http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}}
	for _, tc := range []struct {
		name   string
		status int
		header http.Header
		body   string
	}{
		{"undocumented status", 418, json, `{"status":"ERROR","message":"teapot"}`},
		{"wrong body shape", 200, json, `{"status":"OK","key":"k"}`},
		{"missing Cache-Control", 200, http.Header{"Content-Type": {"application/json"}}, `{"status":"OK","key":"k","value":"v"}`},
		{"wrong content type", 200, http.Header{"Content-Type": {"text/plain"}, "Cache-Control": {"no-store"}}, `x`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recordingTB{TB: t}
			checkExchange(rec, req, nil, tc.status, tc.header, []byte(tc.body))
			if !rec.failed {
				t.Error("not caught")
			}
		})
	}
}

// recordingTB records a failure instead of failing the test.
type recordingTB struct {
	testing.TB
	failed bool
}

func (r *recordingTB) Errorf(string, ...any) { r.failed = true }
func (r *recordingTB) Fatalf(string, ...any) { r.failed = true }
func (r *recordingTB) Helper()               {}

// TestLandingPageAgreesWithOpenAPI holds the landing page's API reference
// (public/home.html, one card per route: its methods and its path) to the
// document: every operation outside the landing page's own files has a card
// with the same methods (HEAD and OPTIONS aside, which the page leaves out),
// and every card names a documented path.
func TestLandingPageAgreesWithOpenAPI(t *testing.T) {
	s := spec(t)
	page, err := os.ReadFile("../public/home.html")
	if err != nil {
		t.Fatal(err)
	}
	cards := regexp.MustCompile(`<article class="card route">\s*<h3><span class="method">([^<]*)</span>\s*<code>([^<]*)</code></h3>`).
		FindAllSubmatch(page, -1)
	if len(cards) == 0 {
		t.Fatal("found no route cards in public/home.html: has its markup changed?")
	}
	onPage := map[string]string{} // path -> methods, sorted, space-separated
	for _, c := range cards {
		methods := strings.Fields(string(c[1]))
		slices.Sort(methods)
		for _, name := range strings.Split(string(c[2]), "·") {
			name, _, _ = strings.Cut(strings.TrimSpace(name), "?")
			onPage["/"+name] = strings.Join(methods, " ")
		}
	}
	for path, item := range s.doc.Paths.Map() {
		var methods []string
		landing := false
		for method, op := range item.Operations() {
			landing = landing || slices.Contains(op.Tags, "Landing page")
			if method != http.MethodHead && method != http.MethodOptions {
				methods = append(methods, method)
			}
		}
		slices.Sort(methods)
		got, listed := onPage[path]
		delete(onPage, path)
		switch {
		case landing && listed:
			t.Errorf("the landing page lists %s, a file of the page itself", path)
		case landing:
		case !listed:
			t.Errorf("the landing page's API reference has no card for %s (%s)", path, strings.Join(methods, " "))
		case got != strings.Join(methods, " "):
			t.Errorf("the landing page says %s %s; openapi.yaml says %s", got, path, strings.Join(methods, " "))
		}
	}
	for path, methods := range onPage {
		t.Errorf("the landing page lists %s %s, which openapi.yaml does not", methods, path)
	}
}

// TestServesOpenAPIDocument: the deployments that embed public/ serve the
// document at /openapi.yaml, with its media type on every host.
func TestServesOpenAPIDocument(t *testing.T) {
	want, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range faces(t, newHandlerWithPublic(t, os.DirFS("../public"))) {
		t.Run(f.name, func(t *testing.T) {
			resp := f.do(t, httpRequest("GET", "/openapi.yaml", ""))
			body := readBody(t, resp)
			if resp.StatusCode != 200 || body != string(want) {
				t.Errorf("GET /openapi.yaml: %d, %d bytes; want 200 and openapi.yaml's %d", resp.StatusCode, len(body), len(want))
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/yaml" {
				t.Errorf("Content-Type %q, want application/yaml", ct)
			}
		})
	}
}
