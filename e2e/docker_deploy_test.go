package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/warmkv/warmkv/config"
)

// No Docker engine runs where the tests run, so the image is checked in two
// halves: the Dockerfile statically, and the container's contract by running
// the binary the Dockerfile builds with the limits a container would give.

// dockerInstruction is one instruction of a Dockerfile, continuation lines joined.
type dockerInstruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
}

func parseDockerfile(t *testing.T) []dockerInstruction {
	t.Helper()
	raw, err := os.ReadFile(repoFile("Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var out []dockerInstruction
	var cur strings.Builder
	for _, line := range strings.Split(string(raw), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		text := cur.String()
		cur.Reset()
		cmd, args, _ := strings.Cut(text, " ")
		out = append(out, dockerInstruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
	}
	return out
}

// execForm parses an exec-form argument list, ["a", "b"]; ok is false for the
// shell form, which needs a shell the final image does not have.
func execForm(args string) ([]string, bool) {
	var argv []string
	if err := json.Unmarshal([]byte(args), &argv); err != nil || len(argv) == 0 {
		return nil, false
	}
	return argv, true
}

func TestDockerfile(t *testing.T) {
	ins := parseDockerfile(t)

	// Split into stages; the last one is the image.
	var stages [][]dockerInstruction
	for _, in := range ins {
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], in)
		}
	}
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build stage and a final one", len(stages))
	}
	final := stages[len(stages)-1]
	base := strings.Fields(final[0].args)[0]
	if !regexp.MustCompile(`^gcr\.io/distroless/static(-debian\d+)?:nonroot$`).MatchString(base) && base != "scratch" {
		t.Errorf("final image %s, want distroless/static :nonroot or scratch (no shell, no libc)", base)
	}

	// The build: static, trimmed, stripped, versioned like `make build`.
	var build string
	for _, in := range stages[0] {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			build = in.args
		}
	}
	if build == "" {
		t.Fatal("the first stage runs no go build")
	}
	makefile, err := os.ReadFile(repoFile("Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	ldflags := regexp.MustCompile(`(?m)^LDFLAGS\s*:=\s*(.*)\$\(VERSION\)\s*$`).FindSubmatch(makefile)
	if ldflags == nil {
		t.Fatal("the Makefile sets no LDFLAGS := ... $(VERSION)")
	}
	for _, want := range []string{"CGO_ENABLED=0", "-tags lambda.norpc", "-trimpath", `-ldflags "` + string(ldflags[1]) + "${VERSION}\"",
		"--mount=type=cache,target=/go/pkg/mod"} {
		if !strings.Contains(build, want) {
			t.Errorf("the build lacks %s:\n%s", want, build)
		}
	}
	// lambda.norpc drops aws-lambda-go's net/rpc mode, which provided.al2023 never
	// uses and which keeps the linker from pruning: a third of the binary.
	if !regexp.MustCompile(`(?m)^build:.*\n\tCGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags '\$\(LDFLAGS\)'`).Match(makefile) {
		t.Error("make build no longer builds as the Dockerfile does (CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags '$(LDFLAGS)')")
	}

	var user, entrypoint, volume string
	var healthcheck []string
	exposed, env, dataOwner := false, false, ""
	for _, in := range final {
		switch in.cmd {
		case "USER":
			user = in.args
		case "EXPOSE":
			exposed = exposed || slicesContain(strings.Fields(in.args), "7171", "7171/tcp")
		case "ENV":
			env = env || in.args == "APP_ENV=production"
		case "VOLUME":
			volume = in.args
		case "ENTRYPOINT":
			argv, ok := execForm(in.args)
			if !ok {
				t.Errorf("ENTRYPOINT %s is shell form; the image has no shell", in.args)
			}
			entrypoint = strings.Join(argv, " ")
		case "HEALTHCHECK":
			_, after, _ := strings.Cut(in.args, "CMD ")
			argv, ok := execForm(strings.TrimSpace(after))
			if !ok {
				t.Errorf("HEALTHCHECK %s: want CMD in exec form; the image has no shell", in.args)
			}
			healthcheck = argv
		case "COPY":
			if m := regexp.MustCompile(`--chown=(\S+)\s.*\s/data$`).FindStringSubmatch(in.args); m != nil {
				dataOwner = m[1]
			}
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %q, want a numeric non-root uid (Kubernetes' runAsNonRoot can only check numbers)", user)
	}
	if !exposed {
		t.Error("port 7171 is not exposed")
	}
	if !env {
		t.Error("ENV APP_ENV=production is missing")
	}
	if entrypoint == "" || len(healthcheck) != 2 || healthcheck[0] != entrypoint || healthcheck[1] != "-healthcheck" {
		t.Errorf("HEALTHCHECK %q, want the entrypoint %q with -healthcheck", healthcheck, entrypoint)
	}
	if !strings.Contains(volume, "/data") || dataOwner != user {
		t.Errorf("VOLUME %q owned by %q, want /data owned by the USER %q", volume, dataOwner, user)
	}

	// OCI labels: the source, the version the build passed (the same ARG
	// the binary gets), and the licence the LICENSE file states.
	labels := map[string]string{}
	versionArg := false
	for _, in := range final {
		switch in.cmd {
		case "ARG":
			versionArg = versionArg || strings.HasPrefix(in.args, "VERSION")
		case "LABEL":
			for _, m := range regexp.MustCompile(`([\w.-]+)=(?:"([^"]*)"|(\S+))`).FindAllStringSubmatch(in.args, -1) {
				labels[m[1]] = m[2] + m[3]
			}
		}
	}
	license, err := os.ReadFile(repoFile("LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(repoFile("go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	module := regexp.MustCompile(`(?m)^module\s+(\S+)`).FindSubmatch(gomod)
	if module == nil {
		t.Fatal("go.mod names no module")
	}
	for key, want := range map[string]string{
		"org.opencontainers.image.source":   "https://" + string(module[1]),
		"org.opencontainers.image.version":  "${VERSION}",
		"org.opencontainers.image.licenses": strings.Fields(string(license))[0],
	} {
		if labels[key] != want {
			t.Errorf("LABEL %s=%q, want %q", key, labels[key], want)
		}
	}
	if !versionArg {
		t.Error("the final stage declares no ARG VERSION: its LABEL would read it empty (an ARG belongs to one stage)")
	}

	// .dockerignore keeps the context small but must keep what go build reads.
	ignore, err := os.ReadFile(repoFile(".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, line := range strings.Split(string(ignore), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	if !slicesContain(patterns, ".git") {
		t.Error(".dockerignore lets .git into the build context")
	}
	needed := []string{"go.mod", "go.sum", "main.go", "public/home.html", "cache/cache.go", "handler/handler.go", "config/config.go", "awslambda/awslambda.go"}
	for _, p := range patterns {
		for _, f := range needed {
			if ok, _ := filepath.Match(p, f); ok || strings.HasPrefix(f, strings.TrimSuffix(p, "/")+"/") {
				t.Errorf(".dockerignore pattern %q excludes %s, which the build needs", p, f)
			}
		}
	}
}

func slicesContain(list []string, want ...string) bool {
	for _, s := range list {
		for _, w := range want {
			if s == w {
				return true
			}
		}
	}
	return false
}

// TestContainerContract runs the image's binary as `docker run --cpus 2
// --memory 2g` would: GOMAXPROCS=2 (which Go derives from the CPU quota) and a
// 2 GiB limit given as GOMEMLIMIT, with no MAX_MEMORY. The cache must size
// itself from that limit, and serve.
func TestContainerContract(t *testing.T) {
	bin := binary(t, containerBuild)
	assertStatic(t, bin)

	env := map[string]string{"GOMAXPROCS": "2", "GOMEMLIMIT": "2GiB", "APP_ENV": "production"}
	// What the configuration derives here: the smaller of GOMEMLIMIT and any
	// cgroup limit this machine imposes, halved.
	osEnv := config.OSEnv()
	osEnv.Getenv = func(k string) string { return env[k] }
	want, err := config.Load(osEnv)
	if err != nil {
		t.Fatal(err)
	}
	if want.Memory.Source == "GOMEMLIMIT" && want.Memory.Budget != 1<<30 {
		t.Fatalf("a 2 GiB GOMEMLIMIT gives a budget of %d, want 1 GiB", want.Memory.Budget)
	}

	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	// RESP_PORT, on by default, gets a free port: the harness waits for it too.
	s := startServer(t, serverSpec{argv: []string{bin}, env: list, platform: true, resp: true})
	if code, body := s.do(t, "POST", "/put", `{"key":"name","value":"Andrew"}`); code != 200 || body != putOK {
		t.Fatalf("put: %d %s", code, body)
	}
	if code, body := s.do(t, "GET", "/get?key=name", ""); code != 200 || body != `{"status":"OK","key":"name","value":"Andrew"}` {
		t.Fatalf("get: %d %s", code, body)
	}
	_, stats := s.do(t, "GET", "/stats", "")
	var st struct {
		MemoryBudget int64  `json:"memoryBudget"`
		Version      string `json:"version"`
		Deployment   string `json:"deployment"`
	}
	if err := json.Unmarshal([]byte(stats), &st); err != nil {
		t.Fatal(err)
	}
	if st.MemoryBudget != want.Memory.Budget || st.Version != containerVersion || st.Deployment != "standalone" {
		t.Errorf("stats %s: want memoryBudget %d (%s), version %s", stats, want.Memory.Budget, want.Memory.Source, containerVersion)
	}
	t.Logf("budget %d MiB from %s; binary %.1f MiB", st.MemoryBudget>>20, want.Memory.Source, fileMB(t, bin))

	// The HEALTHCHECK: the binary probes itself, no shell or curl needed.
	probe := exec.Command(bin, "-healthcheck")
	probe.Env = []string{"PORT=" + strconv.Itoa(s.port)}
	if out, err := probe.CombinedOutput(); err != nil {
		t.Errorf("-healthcheck against the running server: %v\n%s", err, out)
	}
}
