package resp

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDocsListEveryCommand holds the supported-commands table of
// docs/redis.md (one row per command, its name in the first column) to the
// command table: every command has a row, and every row is a command.
func TestDocsListEveryCommand(t *testing.T) {
	doc, err := os.ReadFile("../docs/redis.md")
	if err != nil {
		t.Fatal(err)
	}
	// Names may have an underscore (EVAL_RO).
	rows := regexp.MustCompile("(?m)^\\| `([A-Z_]+)` \\|").FindAllSubmatch(doc, -1)
	documented := map[string]bool{}
	for _, r := range rows {
		name := strings.ToLower(string(r[1]))
		if documented[name] {
			t.Errorf("docs/redis.md lists %s twice", r[1])
		}
		documented[name] = true
	}
	var names []string
	for _, c := range commandList {
		names = append(names, c.name)
		if !documented[c.name] {
			t.Errorf("docs/redis.md has no row for %s", strings.ToUpper(c.name))
		}
	}
	for name := range documented {
		if !slices.Contains(names, name) {
			t.Errorf("docs/redis.md lists %s, which the command table does not have", strings.ToUpper(name))
		}
	}
}
