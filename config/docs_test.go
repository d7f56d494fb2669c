package config

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// platformVariables are read by the configuration but set by a platform, not
// by whoever deploys warmkv: docs/configuration.md names them in its text,
// not in its table.
var platformVariables = []string{"VERCEL", "AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "GOMEMLIMIT"}

// TestDocsListEveryVariable holds the table of docs/configuration.md to the
// variables this package reads: every variable it reads has a row, and every
// row is a variable it reads.
func TestDocsListEveryVariable(t *testing.T) {
	read := map[string]bool{}
	sources, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	variable := regexp.MustCompile(`"([A-Z][A-Z0-9_]{2,})"`)
	for _, name := range sources {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range variable.FindAllSubmatch(src, -1) {
			read[string(m[1])] = true
		}
	}
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z][A-Z0-9_]+)` \\|").FindAllSubmatch(doc, -1) {
		rows[string(m[1])] = true
	}
	for name := range read {
		platform := slices.Contains(platformVariables, name)
		switch {
		case platform && !regexp.MustCompile(`\b`+name+`\b`).Match(doc):
			t.Errorf("docs/configuration.md does not mention %s, which the platform sets and the configuration reads", name)
		case !platform && !rows[name]:
			t.Errorf("docs/configuration.md has no row for %s, which the configuration reads", name)
		}
	}
	for name := range rows {
		if !read[name] {
			t.Errorf("docs/configuration.md has a row for %s, which the configuration does not read", name)
		}
	}
}
