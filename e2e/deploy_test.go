package e2e

import (
	"debug/elf"
	"os"
	"testing"
)

// Helpers shared by the deployment tests (lambda_deploy_test.go,
// vercel_deploy_test.go, docker_deploy_test.go). The builds themselves are
// the harness's flavours (harness.go).

// assertStatic fails unless the ELF file at path needs no dynamic loader and
// no shared library: distroless/static and Lambda's provided runtime have no
// libc to offer.
func assertStatic(t *testing.T, path string) *elf.File {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatalf("%s needs a dynamic loader (PT_INTERP): it would not start on a static base image", path)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("%s links shared libraries %v", path, libs)
	}
	return f
}

// fileMB is a file's size in MiB, for the logs.
func fileMB(t *testing.T, path string) float64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return float64(st.Size()) / (1 << 20)
}
