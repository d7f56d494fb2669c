package e2e

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The Vercel tests check vercel.json against the repository and build api/
// the way Vercel's Go runtime (@vercel/go) does, then serve requests through
// the result.

// vercelConfig is the part of vercel.json the tests read. "framework" stays
// raw: null and absent mean different things to Vercel.
type vercelConfig struct {
	Schema          string          `json:"$schema"`
	Framework       json.RawMessage `json:"framework"`
	OutputDirectory string          `json:"outputDirectory"`
	CleanURLs       bool            `json:"cleanUrls"`
	Functions       map[string]struct {
		Memory      int `json:"memory"`
		MaxDuration int `json:"maxDuration"`
	} `json:"functions"`
	Redirects []struct {
		Source      string `json:"source"`
		Destination string `json:"destination"`
		Permanent   bool   `json:"permanent"`
	} `json:"redirects"`
	Rewrites []struct {
		Source      string `json:"source"`
		Destination string `json:"destination"`
	} `json:"rewrites"`
	Headers []struct {
		Source  string `json:"source"`
		Headers []struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		} `json:"headers"`
	} `json:"headers"`
}

func readVercelConfig(t *testing.T) vercelConfig {
	t.Helper()
	raw, err := os.ReadFile(repoFile("vercel.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c vercelConfig
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields() // a misspelt key is ignored by Vercel, silently
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("vercel.json: %v", err)
	}
	return c
}

// vercelFunctions lists the files Vercel builds into functions: every Go file
// under api/ except tests and paths with a segment starting with _ or .
func vercelFunctions(t *testing.T) []string {
	t.Helper()
	var found []string
	err := fs.WalkDir(os.DirFS(repoRoot), "api", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != "api" && (strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") &&
			!strings.HasPrefix(name, "_") && !strings.HasPrefix(name, ".") {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func TestVercelConfig(t *testing.T) {
	c := readVercelConfig(t)

	// With go.mod and a root main.go, Vercel's framework detection picks its
	// "Go" preset, which runs main.go as one server and ignores api/.
	if string(c.Framework) != "null" {
		t.Errorf(`"framework" is %s, want null: without it Vercel deploys main.go and ignores api/`, orNothing(c.Framework))
	}

	if fns := vercelFunctions(t); len(fns) != 1 || fns[0] != "api/index.go" {
		t.Errorf("Go files Vercel turns into functions: %v, want only api/index.go (each function has its own cache)", fns)
	}
	if len(c.Functions) != 1 {
		t.Errorf("functions settings for %d patterns, want 1", len(c.Functions))
	}
	for pattern, fn := range c.Functions {
		if pattern != "api/index.go" {
			t.Errorf("functions pattern %q matches no function, want api/index.go", pattern)
		}
		if fn.Memory < 128 || fn.Memory > 10240 {
			t.Errorf("%s memory %d MB, Vercel allows 128-10240", pattern, fn.Memory)
		}
		if fn.MaxDuration < 1 || fn.MaxDuration > 3600 {
			t.Errorf("%s maxDuration %d s, Vercel allows 1-3600", pattern, fn.MaxDuration)
		}
	}

	if c.OutputDirectory != "public" || !c.CleanURLs {
		t.Errorf("outputDirectory %q, cleanUrls %v: want public/ served with /home for home.html", c.OutputDirectory, c.CleanURLs)
	}
	if _, err := os.Stat(repoFile(filepath.Join(c.OutputDirectory, "home.html"))); err != nil {
		t.Errorf("the landing page: %v", err)
	}
	home := false
	for _, r := range c.Redirects {
		home = home || (r.Source == "/" && r.Destination == "/home")
	}
	if !home {
		t.Error("no redirect from / to /home")
	}

	apiPaths := []string{"/put", "/get", "/stats", "/healthz", "/metrics", "/set", "/delete", "/checkandset",
		"/increment", "/decrement", "/append", "/prepend", "/flush", "/snapshot"}
	rewritten := map[string]bool{}
	for _, r := range c.Rewrites {
		rewritten[r.Source] = true
		if !strings.HasPrefix(r.Destination, "/api/") {
			t.Errorf("rewrite %s -> %s leaves the API function", r.Source, r.Destination)
			continue
		}
		if _, err := os.Stat(repoFile(strings.TrimPrefix(r.Destination, "/") + ".go")); err != nil {
			t.Errorf("rewrite %s -> %s: no such function (%v)", r.Source, r.Destination, err)
		}
		// Vercel serves a static file before it looks at rewrites.
		for _, shadow := range []string{r.Source, r.Source + ".html"} {
			if _, err := os.Stat(repoFile(filepath.Join(c.OutputDirectory, shadow))); err == nil {
				t.Errorf("public%s hides the rewrite of %s", shadow, r.Source)
			}
		}
	}
	for _, p := range apiPaths {
		if !rewritten[p] {
			t.Errorf("%s is not rewritten to the API function", p)
		}
	}

	// The OpenAPI document is served statically, as the handler serves it
	// elsewhere; public/ holds a copy of openapi.yaml (handler's tests hold
	// the two equal).
	if _, err := os.Stat(repoFile(filepath.Join(c.OutputDirectory, "openapi.yaml"))); err != nil {
		t.Errorf("the OpenAPI document: %v", err)
	}

	// The static landing page must get the same protection the handler gives it.
	srv := start(t)
	want := map[string]string{"X-Content-Type-Options": "nosniff"}
	resp, err := http.Get(srv.base + "/home")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want["Content-Security-Policy"] = resp.Header.Get("Content-Security-Policy")
	if want["Content-Security-Policy"] == "" {
		t.Fatal("the handler sends no Content-Security-Policy for /home")
	}
	resp, err = http.Get(srv.base + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := headersFor(c, "/openapi.yaml")["Content-Type"]; got != resp.Header.Get("Content-Type") {
		t.Errorf("headers for /openapi.yaml: Content-Type is %q, the handler sends %q", got, resp.Header.Get("Content-Type"))
	}
	for _, source := range []string{"/home", `/(.*)\.html`} {
		got := headersFor(c, source)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("headers for %s: %s is %q, the handler sends %q", source, k, got[k], v)
			}
		}
	}
}

// headersFor collects the headers vercel.json sets for the exact source.
func headersFor(c vercelConfig, source string) map[string]string {
	got := map[string]string{}
	for _, h := range c.Headers {
		if h.Source == source {
			for _, kv := range h.Headers {
				got[kv.Key] = kv.Value
			}
		}
	}
	return got
}

func orNothing(raw json.RawMessage) string {
	if raw == nil {
		return "absent"
	}
	return string(raw)
}

// TestVercelBuildServesTheAPI builds api/index.go as @vercel/go does for a
// repository with go.mod at its root: it finds the first exported func taking
// (http.ResponseWriter, *http.Request), renames it after the file, rewrites
// go.mod to `module <package name>` with a replace of the real module by ./,
// and builds a generated main next to go.mod that serves the func. Vercel's
// main hands it to its bridge; this one to net/http on a loopback port.
func TestVercelBuildServesTheAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a copy of the module")
	}
	dir := t.TempDir()
	copyRepo(t, repoRoot, dir)

	// Analyze, as Vercel's analyze.go does.
	entry := filepath.Join(dir, "api", "index.go")
	src, err := os.ReadFile(entry)
	if err != nil {
		t.Fatal(err)
	}
	pkg, fn := vercelEntrypoint(t, entry, src)
	if pkg == "main" {
		t.Fatal("api/index.go is package main: Vercel refuses that with a go.mod")
	}
	if fn == "" {
		t.Fatal("api/index.go exports no func(http.ResponseWriter, *http.Request): Vercel finds no handler")
	}

	// Rename the handler: Vercel replaces " Name" followed by a word boundary,
	// anywhere in the file, so the file must still compile afterwards.
	renamed := fn + "_api_index_go"
	src = regexp.MustCompile(` `+regexp.QuoteMeta(fn)+`\b`).ReplaceAll(src, []byte(" "+renamed))
	if err := os.WriteFile(entry, src, 0o644); err != nil {
		t.Fatal(err)
	}

	// go.mod: module renamed to the package name, the real module required and
	// replaced by the same directory.
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	module := regexp.MustCompile(`(?m)^module\s+(\S+)`).FindSubmatch(gomod)
	if module == nil {
		t.Fatal("go.mod names no module")
	}
	gomod = regexp.MustCompile(`(?m)^module\s+.+$`).ReplaceAll(gomod, []byte("module "+pkg))
	if !bytes.HasSuffix(gomod, []byte("\n")) {
		gomod = append(gomod, '\n')
	}
	gomod = append(gomod, "require "+string(module[1])+" v0.0.0-unpublished\nreplace "+string(module[1])+" => ./\n"...)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), gomod, 0o644); err != nil {
		t.Fatal(err)
	}

	mainGo := `package main

import (
	"net"
	"net/http"
	"os"

	"` + pkg + `/api"
)

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		panic(err)
	}
	panic(http.Serve(ln, http.HandlerFunc(` + pkg + `.` + renamed + `)))
}
`
	if err := os.WriteFile(filepath.Join(dir, "main__vc__go__.go"), []byte(mainGo), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "vercel-function")
	build := exec.Command("go", "build", "-o", bin, "main__vc__go__.go")
	build.Dir = dir
	// Offline: every module is already in the module cache.
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false", "GOPROXY=off", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building api/ as Vercel does: %v\n%s", err, out)
	}

	t.Run("serves the API", func(t *testing.T) {
		s := startServer(t, serverSpec{argv: []string{bin}, platform: true, env: []string{"VERCEL=1", "VERCEL_ENV=production", "MAX_MEMORY=64MiB",
			"VERCEL_GIT_COMMIT_SHA=0123456789abcdef0123456789abcdef01234567"}})
		if code, body := s.do(t, "POST", "/put", `{"key":"name","value":"Andrew"}`); code != 200 || body != putOK {
			t.Fatalf("put: %d %s", code, body)
		}
		if code, body := s.do(t, "GET", "/get?key=name", ""); code != 200 || body != `{"status":"OK","key":"name","value":"Andrew"}` {
			t.Fatalf("get: %d %s", code, body)
		}
		if code, body := s.do(t, "GET", "/get?key=name&key=x", ""); code != 400 {
			t.Errorf("repeated key: %d %s", code, body)
		}
		_, stats := s.do(t, "GET", "/stats", "")
		for _, want := range []string{`"deployment":"vercel"`, `"version":"0123456789ab"`, `"memoryBudget":67108864`, `"keyCount":1`} {
			if !strings.Contains(stats, want) {
				t.Errorf("stats lack %s: %s", want, stats)
			}
		}
		// Vercel serves the landing page from public/; the function has none.
		if code, _ := s.do(t, "GET", "/home", ""); code != 404 {
			t.Errorf("/home from the function: %d, want 404", code)
		}
	})
	t.Run("a configuration error answers 500 naming the variable", func(t *testing.T) {
		s := startServer(t, serverSpec{argv: []string{bin}, platform: true, anyStatus: true, env: []string{"VERCEL=1", "MAX_MEMORY=lots"}})
		code, body := s.do(t, "GET", "/get?key=name", "")
		var e struct{ Status, Message string }
		if err := json.Unmarshal([]byte(body), &e); err != nil || code != 500 || e.Status != "ERROR" || !strings.Contains(e.Message, "MAX_MEMORY") {
			t.Fatalf("%d %s: want 500 with the JSON error envelope naming MAX_MEMORY", code, body)
		}
	})
}

// vercelEntrypoint returns the package name and the first exported func whose
// two parameters read http.ResponseWriter and *http.Request, the test Vercel's
// analyzer applies to the source text.
func vercelEntrypoint(t *testing.T, path string, src []byte) (pkg, fn string) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	for _, decl := range f.Decls {
		d, ok := decl.(*ast.FuncDecl)
		if !ok || !d.Name.IsExported() || d.Recv != nil || len(d.Type.Params.List) != 2 {
			continue
		}
		params := string(src[fset.Position(d.Type.Params.Pos()).Offset:fset.Position(d.Type.Params.End()).Offset])
		if strings.Contains(params, "http.ResponseWriter") && strings.Contains(params, "*http.Request") {
			return f.Name.Name, d.Name.Name
		}
	}
	return f.Name.Name, ""
}

// copyRepo copies the repository's source, as Vercel uploads it, without
// version control, build output or test binaries.
func copyRepo(t *testing.T, from, to string) {
	t.Helper()
	skipDirs := map[string]bool{".git": true, ".vercel": true, ".aws-sam": true, "test-artifacts": true, "results": true}
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			if skipDirs[d.Name()] {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		if !d.Type().IsRegular() || strings.HasSuffix(rel, ".test") || rel == "warmkv" || rel == "bootstrap" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
