package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"

	"github.com/warmkv/warmkv/internal/redistest"
)

// compose.yaml is checked in two halves, as the Dockerfile is: statically,
// loaded by compose-go (the library docker compose itself uses), and by
// running the same topology natively, since no Docker engine runs here:
// redis-server for the Valkey service, and the Dockerfile's binary for each
// warmkv service, given exactly the environment compose gives the container
// (the image's ENV, then the service's environment, its limits as the
// runtime derives them), with the service's hostname mapped to the loopback
// port the native process listens on.

// tierService and warmkvServices are compose.yaml's services.
const tierService = "valkey"

var warmkvServices = []string{"warmkv-a", "warmkv-b"}

// loadCompose loads compose.yaml from the repository root with the values of
// .env.example, as `docker compose` does once .env.example is copied to .env,
// and with nothing from this process's environment.
func loadCompose(t *testing.T, profiles ...string) *types.Project {
	t.Helper()
	p, err := composeProject(profiles, repoFile(".env.example"))
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return p
}

// composeProject loads compose.yaml with the variables of envFiles only: none
// means no .env at all, not even a developer's own.
func composeProject(profiles []string, envFiles ...string) (*types.Project, error) {
	options := []cli.ProjectOptionsFn{cli.WithWorkingDirectory(repoRoot), cli.WithProfiles(profiles)}
	if len(envFiles) > 0 {
		options = append(options, cli.WithEnvFiles(envFiles...), cli.WithDotEnv)
	}
	opts, err := cli.NewProjectOptions([]string{repoFile("compose.yaml")}, options...)
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(context.Background())
}

// dotEnvExample is .env.example as a map.
func dotEnvExample(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(repoFile(".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			env[k] = v
		}
	}
	return env
}

// pinned matches an image reference with an exact version tag (not latest,
// not a bare major).
var pinned = regexp.MustCompile(`^[a-z0-9./-]+:v?\d+\.\d+\.\d+[a-z0-9.-]*$`)

func TestComposeFile(t *testing.T) {
	p := loadCompose(t)
	dotEnv := dotEnvExample(t)
	_, healthcheck := dockerfileEntrypoint(t)

	names := p.ServiceNames()
	slices.Sort(names)
	if want := append([]string{tierService}, warmkvServices...); !slices.Equal(names, want) {
		t.Fatalf("services %v started by `docker compose up`, want %v", names, want)
	}

	tier := p.Services[tierService]
	if !pinned.MatchString(tier.Image) {
		t.Errorf("%s image %q: pin an exact version", tierService, tier.Image)
	}
	if !slices.Contains(tier.Command, "--appendonly") || tier.Command[slices.Index(tier.Command, "--appendonly")+1] != "yes" {
		t.Errorf("%s command %q: want --appendonly yes, so the shared data survives a restart", tierService, tier.Command)
	}
	onVolume := false
	for _, v := range tier.Volumes {
		onVolume = onVolume || (v.Type == types.VolumeTypeVolume && v.Target == "/data" && p.Volumes[v.Source].Name != "")
	}
	if !onVolume {
		t.Errorf("%s keeps its data in no named volume at /data: %+v", tierService, tier.Volumes)
	}
	if tier.HealthCheck == nil || len(tier.HealthCheck.Test) < 2 {
		t.Errorf("%s has no healthcheck, which the instances' depends_on waits for", tierService)
	}
	if len(tier.Ports) != 0 {
		t.Errorf("%s publishes %v: only the instances should reach the tier", tierService, tier.Ports)
	}

	hostPorts := map[string]string{}
	for _, name := range warmkvServices {
		s := p.Services[name]
		if s.Build == nil || s.Build.Context != repoRoot || (s.Build.Dockerfile != "" && s.Build.Dockerfile != "Dockerfile") {
			t.Errorf("%s is not built from the repository's Dockerfile: %+v", name, s.Build)
		}
		env := s.Environment
		if u := value(env, "REDIS_URL"); !strings.Contains(u, "://"+tierService+":6379") {
			t.Errorf("%s REDIS_URL %q does not point at the %s service", name, u, tierService)
		}
		if _, set := env["SNAPSHOT_PATH"]; set {
			t.Errorf("%s sets SNAPSHOT_PATH, which warmkv refuses together with REDIS_URL", name)
		}
		if got := value(env, "AUTH_TOKEN"); got == "" || got != dotEnv["AUTH_TOKEN"] {
			t.Errorf("%s AUTH_TOKEN %q, want .env.example's %q", name, got, dotEnv["AUTH_TOKEN"])
		}
		if dep, ok := s.DependsOn[tierService]; !ok || dep.Condition != types.ServiceConditionHealthy {
			t.Errorf("%s depends_on %s: %+v, want condition service_healthy", name, tierService, s.DependsOn)
		}
		if s.HealthCheck == nil || !slices.Equal(s.HealthCheck.Test, append([]string{"CMD"}, healthcheck...)) {
			t.Errorf("%s healthcheck %v, want the Dockerfile's [CMD %s]", name, s.HealthCheck, strings.Join(healthcheck, " "))
		}
		targets := map[uint32]bool{}
		for _, port := range s.Ports {
			targets[port.Target] = true
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %d on %q, want 127.0.0.1 only", name, port.Target, port.HostIP)
			}
			if other, taken := hostPorts[port.Published]; taken {
				t.Errorf("%s and %s both publish host port %s", name, other, port.Published)
			}
			hostPorts[port.Published] = name
		}
		if !targets[7171] || !targets[6380] {
			t.Errorf("%s publishes %v, want the HTTP port 7171 and the Redis port 6380", name, s.Ports)
		}
		if value(env, "RESP_BIND") == "0.0.0.0" && value(env, "AUTH_TOKEN") == "" {
			t.Errorf("%s opens the Redis port beyond loopback without AUTH_TOKEN", name)
		}
	}

	// Without .env (nothing copied from .env.example), compose refuses to
	// start rather than run the instances without a token.
	if _, err := composeProject(nil); err == nil || !strings.Contains(err.Error(), "AUTH_TOKEN") {
		t.Errorf("compose.yaml loads without AUTH_TOKEN (err %v): it must require one", err)
	}
}

// value is an environment entry's value, "" when unset.
func value(env types.MappingWithEquals, key string) string {
	if v := env[key]; v != nil {
		return *v
	}
	return ""
}

// dockerfileEntrypoint returns the final image's ENTRYPOINT and HEALTHCHECK
// command.
func dockerfileEntrypoint(t *testing.T) (entrypoint string, healthcheck []string) {
	t.Helper()
	for _, in := range parseDockerfile(t) {
		switch in.cmd {
		case "ENTRYPOINT":
			argv, _ := execForm(in.args)
			entrypoint = strings.Join(argv, " ")
		case "HEALTHCHECK":
			_, after, _ := strings.Cut(in.args, "CMD ")
			healthcheck, _ = execForm(strings.TrimSpace(after))
		}
	}
	if entrypoint == "" || healthcheck == nil {
		t.Fatal("the Dockerfile has no ENTRYPOINT or HEALTHCHECK")
	}
	return entrypoint, healthcheck
}

// imageEnv is the final image's ENV, which a container starts with.
func imageEnv(t *testing.T) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, in := range parseDockerfile(t) {
		switch in.cmd {
		case "FROM":
			clear(env) // only the last stage's ENV reaches the image
		case "ENV":
			for _, kv := range strings.Fields(in.args) {
				if k, v, ok := strings.Cut(kv, "="); ok {
					env[k] = v
				}
			}
		}
	}
	return env
}

// TestComposeTopologyNatively runs compose.yaml's services as native
// processes: a write on one instance is read on the other, over HTTP and
// over the Redis protocol, and each instance's healthcheck passes.
func TestComposeTopologyNatively(t *testing.T) {
	p := loadCompose(t)
	bin := binary(t, containerBuild)

	// The tier: redis-server with the service's arguments (valkey-server
	// takes Redis's); redistest keeps the data in a temporary directory.
	tier := p.Services[tierService]
	redis := redistest.Start(t, tier.Command[1:]...)
	if got := redis.CLI("CONFIG", "GET", "appendonly"); !strings.Contains(got, "yes") {
		t.Fatalf("the tier runs without appendonly: %s", got)
	}
	hosts := map[string]string{tierService + ":6379": redis.Addr}

	servers := map[string]*server{}
	for _, name := range warmkvServices {
		s := p.Services[name]
		env := imageEnv(t)
		for k, v := range s.Environment {
			if v == nil {
				continue
			}
			val := *v
			for host, addr := range hosts {
				val = strings.ReplaceAll(val, host, addr)
			}
			env[k] = val
		}
		// What the container runtime derives from the limits.
		if lim := s.Deploy.Resources.Limits; lim != nil {
			env["GOMAXPROCS"] = strconv.Itoa(max(1, int(math.Ceil(float64(lim.NanoCPUs.Value())))))
			env["GOMEMLIMIT"] = strconv.FormatInt(int64(lim.MemoryBytes), 10)
		}
		// Container ports become loopback ports: the harness sets PORT,
		// BIND and RESP_PORT to free ones; the Redis port binds to
		// 0.0.0.0 only inside the container's network.
		env["RESP_BIND"] = "127.0.0.1"
		var list []string
		for k, v := range env {
			list = append(list, k+"="+v)
		}
		servers[name] = startServer(t, serverSpec{argv: []string{bin}, env: list, platform: true, resp: true})
	}
	a, b := servers[warmkvServices[0]], servers[warmkvServices[1]]
	token := value(p.Services[warmkvServices[0]].Environment, "AUTH_TOKEN")

	authorized := func(s *server, method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, s.base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(got)
	}
	if code, body := authorized(a, "POST", "/put", `{"key":"greeting","value":"hello from a"}`); code != 200 {
		t.Fatalf("PUT on %s: %d %s", warmkvServices[0], code, body)
	}
	if code, body := authorized(b, "GET", "/get?key=greeting", ""); code != 200 || body != `{"status":"OK","key":"greeting","value":"hello from a"}` {
		t.Fatalf("GET on %s: %d %s", warmkvServices[1], code, body)
	}
	if code, _ := b.do(t, "GET", "/get?key=greeting", ""); code != 401 {
		t.Errorf("GET without the token: %d, want 401", code)
	}
	if got := respCommands(t, b.respAddr, "AUTH "+token, "GET greeting"); !slices.Equal(got, []string{"+OK", "$12", "hello from a"}) {
		t.Errorf("AUTH and GET over the Redis protocol on %s: %q", warmkvServices[1], got)
	}

	// The healthcheck, as the container runs it (PORT as the container has it).
	_, healthcheck := dockerfileEntrypoint(t)
	for name, s := range servers {
		probe := exec.Command(bin, healthcheck[1:]...)
		probe.Env = []string{"PORT=" + strconv.Itoa(s.port)}
		if out, err := probe.CombinedOutput(); err != nil {
			t.Errorf("%s healthcheck: %v\n%s", name, err, out)
		}
	}
}

// respCommands sends inline commands over the Redis protocol and returns the
// reply lines.
func respCommands(t *testing.T, addr string, commands ...string) []string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	var lines []string
	for _, cmd := range commands {
		if _, err := fmt.Fprintf(c, "%s\r\n", cmd); err != nil {
			t.Fatal(err)
		}
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.TrimRight(line, "\r\n"))
		if strings.HasPrefix(line, "$") {
			n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
			if n >= 0 {
				body := make([]byte, n+2)
				if _, err := io.ReadFull(r, body); err != nil {
					t.Fatal(err)
				}
				lines = append(lines, string(body[:n]))
			}
		}
	}
	return lines
}

// TestComposeMonitoringProfile: `docker compose --profile monitoring up` adds
// Prometheus, scraping both instances with their token, and Grafana with the
// dashboard provisioned; plain `up` starts neither.
func TestComposeMonitoringProfile(t *testing.T) {
	if plain := loadCompose(t); slices.Contains(plain.ServiceNames(), "prometheus") || slices.Contains(plain.ServiceNames(), "grafana") {
		t.Errorf("`docker compose up` starts %v: monitoring belongs to its profile", plain.ServiceNames())
	}
	p := loadCompose(t, "monitoring")
	prom, okProm := p.Services["prometheus"]
	grafana, okGrafana := p.Services["grafana"]
	if !okProm || !okGrafana {
		t.Fatalf("the monitoring profile starts %v, want prometheus and grafana too", p.ServiceNames())
	}
	for _, s := range []types.ServiceConfig{prom, grafana} {
		if !pinned.MatchString(s.Image) {
			t.Errorf("%s image %q: pin an exact version", s.Name, s.Image)
		}
	}

	// Prometheus: its configuration file, mounted from the repository,
	// scrapes every warmkv service on its container port, with the token
	// compose hands it as a secret.
	configFile := mountedFile(t, prom, "/etc/prometheus/prometheus.yml")
	var config struct {
		ScrapeConfigs []struct {
			Authorization struct {
				CredentialsFile string `yaml:"credentials_file"`
			} `yaml:"authorization"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, configFile, &config)
	var targets []string
	var credentials []string
	for _, sc := range config.ScrapeConfigs {
		credentials = append(credentials, sc.Authorization.CredentialsFile)
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	slices.Sort(targets)
	var want []string
	for _, name := range warmkvServices {
		want = append(want, name+":7171")
	}
	if !slices.Equal(targets, want) {
		t.Errorf("Prometheus scrapes %v, want %v", targets, want)
	}
	secretFiles := map[string]bool{}
	for _, ref := range prom.Secrets {
		target := ref.Target
		if target == "" {
			target = ref.Source
		}
		if !strings.HasPrefix(target, "/") {
			target = "/run/secrets/" + target
		}
		if secret := p.Secrets[ref.Source]; secret.Environment == "AUTH_TOKEN" {
			secretFiles[target] = true
		}
	}
	for _, c := range credentials {
		if !secretFiles[c] {
			t.Errorf("Prometheus reads its token from %q, which is no secret holding AUTH_TOKEN (%v)", c, prom.Secrets)
		}
	}

	// Grafana: the data source is that Prometheus, and the dashboard
	// provider loads the directory where dashboards/ is mounted.
	provisioning := mountedFile(t, grafana, "/etc/grafana/provisioning")
	var datasources struct {
		Datasources []struct {
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	readYAML(t, provisioning+"/datasources/prometheus.yml", &datasources)
	if len(datasources.Datasources) != 1 || datasources.Datasources[0].Type != "prometheus" ||
		datasources.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("Grafana's data sources %+v, want the prometheus service", datasources.Datasources)
	}
	var providers struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, provisioning+"/dashboards/warmkv.yml", &providers)
	if len(providers.Providers) != 1 {
		t.Fatalf("dashboard providers %+v, want one", providers.Providers)
	}
	dashboards := mountedFile(t, grafana, providers.Providers[0].Options.Path)
	if _, err := os.Stat(dashboards + "/warmkv.json"); err != nil || dashboards != repoFile("dashboards") {
		t.Errorf("Grafana loads dashboards from %s, want the repository's dashboards/ (%v)", dashboards, err)
	}
	if value(grafana.Environment, "GF_SECURITY_ADMIN_PASSWORD") != dotEnvExample(t)["GRAFANA_ADMIN_PASSWORD"] {
		t.Error("Grafana's admin password does not come from .env")
	}
}

// mountedFile is the host path s mounts at target.
func mountedFile(t *testing.T, s types.ServiceConfig, target string) string {
	t.Helper()
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && v.Target == target {
			if _, err := os.Stat(v.Source); err != nil {
				t.Fatalf("%s mounts %s at %s: %v", s.Name, v.Source, target, err)
			}
			return v.Source
		}
	}
	t.Fatalf("%s mounts nothing from the repository at %s", s.Name, target)
	return ""
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
