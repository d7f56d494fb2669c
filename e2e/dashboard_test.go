package e2e

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/warmkv/warmkv/internal/redistest"
)

// The Grafana dashboard (dashboards/warmkv.json) is checked against the
// metrics a real standalone server exports, with every door open (a shared
// tier, the Redis-protocol port, the connection limit) so that every family
// appears: a panel that queries a metric /metrics does not export would show
// "No data" forever.

// grafanaDashboard is the part of a dashboard the test reads.
type grafanaDashboard struct {
	UID        string         `json:"uid"`
	Panels     []grafanaPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

type grafanaPanel struct {
	ID      int            `json:"id"`
	Title   string         `json:"title"`
	Type    string         `json:"type"`
	Panels  []grafanaPanel `json:"panels"` // a collapsed row's
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
}

func readDashboard(t *testing.T) grafanaDashboard {
	t.Helper()
	raw, err := os.ReadFile(repoFile("dashboards/warmkv.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("dashboards/warmkv.json: %v", err)
	}
	return d
}

// dashboardQueries maps every metric name the dashboard's queries use to the
// titles of the panels (or variables) that use it.
func dashboardQueries(t *testing.T, d grafanaDashboard) map[string][]string {
	t.Helper()
	used := map[string][]string{}
	ids := map[int]bool{}
	var walk func([]grafanaPanel)
	walk = func(panels []grafanaPanel) {
		for _, p := range panels {
			if ids[p.ID] {
				t.Errorf("panel id %d is used twice", p.ID)
			}
			ids[p.ID] = true
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q queries nothing", p.Title)
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q does not use the dashboard's data source variable", p.Title)
			}
			for _, target := range p.Targets {
				names := promQLMetrics(target.Expr)
				if len(names) == 0 {
					t.Errorf("panel %q: no metric in %q", p.Title, target.Expr)
				}
				for _, name := range names {
					used[name] = append(used[name], p.Title)
				}
			}
		}
	}
	walk(d.Panels)
	labelValues := regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: cannot read %q", v.Name, v.Definition)
			continue
		}
		used[m[1]] = append(used[m[1]], "variable "+v.Name)
	}
	return used
}

// promQL's pieces that are not metric names.
var (
	promQLStrings  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	promQLMatchers = regexp.MustCompile(`\{[^{}]*\}`)
	promQLRanges   = regexp.MustCompile(`\[[^\[\]]*\]`)
	promQLGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	promQLTokens   = regexp.MustCompile(`\d+(?:\.\d+)?(?:e[+-]?\d+)?[a-zA-Z]*|[a-zA-Z_:][a-zA-Z0-9_:]*(?:\s*\()?|\S`)
	promQLName     = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	promQLKeywords = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan", "atan2"}
)

// promQLMetrics returns the metric names a PromQL expression selects: the
// identifiers left once strings, label matchers, ranges, grouping clauses,
// function calls, keywords and numbers are set aside.
func promQLMetrics(expr string) []string {
	expr = promQLStrings.ReplaceAllString(expr, `""`)
	expr = promQLMatchers.ReplaceAllString(expr, "")
	expr = promQLRanges.ReplaceAllString(expr, "")
	expr = promQLGrouping.ReplaceAllString(expr, "")
	var names []string
	for _, tok := range promQLTokens.FindAllString(expr, -1) {
		if !promQLName.MatchString(tok) || slices.Contains(promQLKeywords, strings.ToLower(tok)) {
			continue
		}
		if !slices.Contains(names, tok) {
			names = append(names, tok)
		}
	}
	return names
}

func TestPromQLMetrics(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`sum by (route, status) (rate(warmkv_http_requests_total{instance=~"$instance"}[$__rate_interval]))`, []string{"warmkv_http_requests_total"}},
		{`histogram_quantile(0.99, sum by (le) (rate(a_bucket{x="y{z}"}[5m])))`, []string{"a_bucket"}},
		{`sum(rate(hits[1m])) / (sum(rate(hits[1m])) + sum(rate(misses[1m]))) * 100`, []string{"hits", "misses"}},
		{`a and on (instance) b offset 5m > bool 1e3`, []string{"a", "b"}},
		{`max(up) without (job) or vector(0)`, []string{"up"}},
		{`sum by (job) (rate(metric:recorded[5m]))`, []string{"metric:recorded"}},
	} {
		if got := promQLMetrics(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("promQLMetrics(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

// exportedMetrics returns the sample names in a Prometheus text exposition
// (a histogram's _bucket, _sum and _count included).
func exportedMetrics(text string) map[string]bool {
	names := map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name := line
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		names[name] = true
	}
	return names
}

// TestDashboardQueriesExportedMetrics: every metric any panel queries is one
// a standalone server with every door open exports, and the dashboard shows
// what an operator needs: requests and latency by route and status, the hit
// ratio, memory against budget, evictions and expirations, shed and refused
// requests, the shared tier's health and the Redis-protocol commands.
func TestDashboardQueriesExportedMetrics(t *testing.T) {
	d := readDashboard(t)
	used := dashboardQueries(t, d)

	redis := redistest.Start(t)
	s := startServer(t, serverSpec{env: []string{"REDIS_URL=" + redis.URL(), "MAX_CONNS=1000", "MAX_IN_FLIGHT=100"}, resp: true})
	// Labelled families appear once something is counted under a label.
	s.do(t, "POST", "/put", `{"key":"k","value":"v"}`)
	s.do(t, "GET", "/get?key=k", "")
	respCommands(t, s.respAddr, "GET k")
	code, text := s.do(t, "GET", "/metrics", "")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	exported := exportedMetrics(text)

	names := make([]string, 0, len(used))
	for name := range used {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !exported[name] {
			t.Errorf("%v query %s, which /metrics does not export", used[name], name)
		}
	}

	for _, must := range []string{
		"warmkv_http_requests_total", "warmkv_http_request_duration_seconds_bucket",
		"warmkv_cache_operations_total", "warmkv_cache_bytes", "warmkv_cache_max_bytes",
		"warmkv_http_requests_shed_total", "warmkv_http_connections_refused_total", "warmkv_resp_connections_refused_total",
		"warmkv_shared_connected", "warmkv_shared_reads_total", "warmkv_shared_unavailable_total",
		"warmkv_resp_commands_total", "warmkv_resp_command_errors_total",
	} {
		if len(used[must]) == 0 {
			t.Errorf("no panel shows %s", must)
		}
	}
	if !t.Failed() {
		t.Logf("%d metrics queried by the dashboard, all exported", len(names))
	}
}
