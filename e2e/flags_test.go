package e2e

import (
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// TestVersionFlag: -version prints the version the build set (dev when none
// did) and the Go version, then exits 0 without serving.
func TestVersionFlag(t *testing.T) {
	for _, tc := range []struct {
		build   flavour
		version string
	}{
		{plainBuild, "dev"},
		{containerBuild, containerVersion},
	} {
		t.Run(tc.build.name, func(t *testing.T) {
			out, err := exec.Command(binary(t, tc.build), "-version").CombinedOutput()
			if err != nil {
				t.Fatalf("-version: %v\n%s", err, out)
			}
			want := "warmkv " + tc.version + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
			if string(out) != want {
				t.Errorf("-version printed %q, want %q", out, want)
			}
		})
	}
}

// TestHelpListsEveryFlag: -h says what warmkv is, where its configuration
// comes from, and lists each flag; it exits 0.
func TestHelpListsEveryFlag(t *testing.T) {
	out, err := exec.Command(binary(t, plainBuild), "-h").CombinedOutput()
	if err != nil {
		t.Fatalf("-h: %v\n%s", err, out)
	}
	for _, want := range []string{"-healthcheck", "-version", "docs/configuration.md"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("-h does not mention %s:\n%s", want, out)
		}
	}
}
