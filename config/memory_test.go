package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeMachine lays out files under a temporary directory: keys are paths
// relative to it, "proc/self/cgroup", "proc/meminfo" and "cgroup/..." for
// the hierarchy. Absent files stand for absent sources.
func fakeMachine(t *testing.T, files map[string]string, vars map[string]string) Env {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Env{
		Getenv:     func(name string) string { return vars[name] },
		CgroupRoot: filepath.Join(dir, "cgroup"),
		ProcCgroup: filepath.Join(dir, "proc/self/cgroup"),
		Meminfo:    filepath.Join(dir, "proc/meminfo"),
	}
}

const (
	mib = int64(1) << 20
	gib = int64(1) << 30
	// 16000000 kB of RAM, as /proc/meminfo puts it.
	meminfo16G = "MemTotal:       16000000 kB\nMemFree:         1000000 kB\n"
	ram16G     = int64(16000000) << 10
)

// derived is the Memory for a process limit of n bytes from source.
func derived(n int64, source string) Memory {
	return Memory{Budget: n / 2, Source: source, Limit: n, GoMemLimit: n / 4 * 3}
}

func TestMemory(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		vars  map[string]string
		want  Memory
	}{
		{
			name: "cgroup v2: a tighter parent limit binds the child",
			files: map[string]string{
				"proc/self/cgroup":                              "0::/system.slice/warmkv.service\n",
				"cgroup/system.slice/memory.max":                "536870912\n",
				"cgroup/system.slice/warmkv.service/memory.max": "1073741824\n",
				"proc/meminfo":                                  meminfo16G,
			},
			want: derived(512*mib, "cgroup v2 memory.max"),
		},
		{
			name: "cgroup v2: the child's own limit when the parents say max",
			files: map[string]string{
				"proc/self/cgroup":      "0::/a/b\n",
				"cgroup/a/memory.max":   "max\n",
				"cgroup/a/b/memory.max": "268435456\n",
				// Children and siblings do not bind this process.
				"cgroup/a/b/c/memory.max":     "1048576\n",
				"cgroup/a/sibling/memory.max": "1048576\n",
			},
			want: derived(256*mib, "cgroup v2 memory.max"),
		},
		{
			name: "cgroup v2: max everywhere is no limit, so physical memory",
			files: map[string]string{
				"proc/self/cgroup":    "0::/a\n",
				"cgroup/a/memory.max": "max\n",
				"cgroup/memory.max":   "max\n",
				"proc/meminfo":        meminfo16G,
			},
			want: derived(ram16G/4, "physical memory"),
		},
		{
			name: "cgroup v2: path missing inside a cgroup namespace, root's limit",
			files: map[string]string{
				"proc/self/cgroup":  "0::/kubepods/pod1234/abcd\n",
				"cgroup/memory.max": "2147483648\n",
			},
			want: derived(2*gib, "cgroup v2 memory.max"),
		},
		{
			name: "cgroup v2: path escaping the namespace root, root's limit",
			files: map[string]string{
				"proc/self/cgroup":   "0::/../../outside\n",
				"cgroup/memory.max":  "1073741824\n",
				"outside/memory.max": "1048576\n",
			},
			want: derived(gib, "cgroup v2 memory.max"),
		},
		{
			name: "cgroup v1: the process's memory cgroup",
			files: map[string]string{
				"proc/self/cgroup": "12:pids:/docker/abc\n5:memory:/docker/abc\n1:name=systemd:/docker/abc\n",
				"cgroup/memory/docker/abc/memory.limit_in_bytes": "805306368\n",
				"cgroup/memory/memory.limit_in_bytes":            "9223372036854771712\n",
			},
			want: derived(768*mib, "cgroup v1 memory.limit_in_bytes"),
		},
		{
			name: "cgroup v1: memory among combined controllers",
			files: map[string]string{
				"proc/self/cgroup":                        "4:cpu,memory,cpuacct:/job\n",
				"cgroup/memory/job/memory.limit_in_bytes": "536870912\n",
			},
			want: derived(512*mib, "cgroup v1 memory.limit_in_bytes"),
		},
		{
			name: "cgroup v1: path missing, the hierarchy root's limit",
			files: map[string]string{
				"proc/self/cgroup":                    "5:memory:/docker/abc\n",
				"cgroup/memory/memory.limit_in_bytes": "1073741824\n",
			},
			want: derived(gib, "cgroup v1 memory.limit_in_bytes"),
		},
		{
			name: "cgroup v1: the unlimited value is no limit",
			files: map[string]string{
				"proc/self/cgroup":                    "5:memory:/\n",
				"cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
				"proc/meminfo":                        meminfo16G,
			},
			want: derived(ram16G/4, "physical memory"),
		},
		{
			name: "cgroup v1: no memory controller line",
			files: map[string]string{
				"proc/self/cgroup":                    "9:name=systemd:/\n8:pids:/\n",
				"cgroup/memory/memory.limit_in_bytes": "1073741824\n",
				"proc/meminfo":                        meminfo16G,
			},
			want: derived(ram16G/4, "physical memory"),
		},
		{
			name: "hybrid v1 and v2: the lower limit",
			files: map[string]string{
				"proc/self/cgroup":                        "5:memory:/job\n0::/job\n",
				"cgroup/memory/job/memory.limit_in_bytes": "1073741824\n",
				"cgroup/job/memory.max":                   "536870912\n",
			},
			want: derived(512*mib, "cgroup v2 memory.max"),
		},
		{
			name: "unreadable cgroup values are ignored",
			files: map[string]string{
				"proc/self/cgroup":    "0::/a\n",
				"cgroup/a/memory.max": "lots\n",
				"proc/meminfo":        meminfo16G,
			},
			want: derived(ram16G/4, "physical memory"),
		},
		{
			name: "Lambda: the function's memory size",
			files: map[string]string{
				"proc/self/cgroup":  "0::/\n",
				"cgroup/memory.max": "4294967296\n",
			},
			vars: map[string]string{"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"},
			want: derived(gib, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
		},
		{
			name:  "Lambda: a lower GOMEMLIMIT wins",
			files: map[string]string{},
			vars:  map[string]string{"AWS_LAMBDA_RUNTIME_API": "x", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024", "GOMEMLIMIT": "512MiB"},
			want:  derived(512*mib, "GOMEMLIMIT"),
		},
		{
			name: "the Lambda size counts only on Lambda",
			files: map[string]string{
				"proc/self/cgroup":  "0::/\n",
				"cgroup/memory.max": "4294967296\n",
			},
			vars: map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"},
			want: derived(4*gib, "cgroup v2 memory.max"),
		},
		{
			name:  "GOMEMLIMIT without a cgroup limit",
			files: map[string]string{"proc/meminfo": meminfo16G},
			vars:  map[string]string{"GOMEMLIMIT": "2GiB"},
			want:  derived(2*gib, "GOMEMLIMIT"),
		},
		{
			name:  "GOMEMLIMIT in plain bytes",
			files: map[string]string{},
			vars:  map[string]string{"GOMEMLIMIT": "1073741824"},
			want:  derived(gib, "GOMEMLIMIT"),
		},
		{
			name:  "GOMEMLIMIT=off is no limit",
			files: map[string]string{"proc/meminfo": meminfo16G},
			vars:  map[string]string{"GOMEMLIMIT": "off"},
			want:  derived(ram16G/4, "physical memory"),
		},
		{
			name: "GOMEMLIMIT below the cgroup limit wins",
			files: map[string]string{
				"proc/self/cgroup":  "0::/\n",
				"cgroup/memory.max": "1073741824\n",
			},
			vars: map[string]string{"GOMEMLIMIT": "512MiB"},
			want: derived(512*mib, "GOMEMLIMIT"),
		},
		{
			name: "the cgroup limit below GOMEMLIMIT wins",
			files: map[string]string{
				"proc/self/cgroup":  "0::/\n",
				"cgroup/memory.max": "536870912\n",
			},
			vars: map[string]string{"GOMEMLIMIT": "1GiB"},
			want: derived(512*mib, "cgroup v2 memory.max"),
		},
		{
			name:  "physical memory: a quarter of MemTotal is the limit",
			files: map[string]string{"proc/meminfo": meminfo16G},
			want:  derived(ram16G/4, "physical memory"),
		},
		{
			name: "MAX_MEMORY within a cgroup limit keeps the GC limit",
			files: map[string]string{
				"proc/self/cgroup":  "0::/\n",
				"cgroup/memory.max": "1073741824\n",
			},
			vars: map[string]string{"MAX_MEMORY": "900MiB"},
			want: Memory{Budget: 900 * mib, Source: "MAX_MEMORY", Limit: gib, GoMemLimit: 768 * mib},
		},
		{
			name: "MAX_MEMORY equal to the limit is allowed",
			files: map[string]string{
				"proc/self/cgroup":  "0::/\n",
				"cgroup/memory.max": "1073741824\n",
			},
			vars: map[string]string{"MAX_MEMORY": "1GiB"},
			want: Memory{Budget: gib, Source: "MAX_MEMORY", Limit: gib, GoMemLimit: 768 * mib},
		},
		{
			name:  "MAX_MEMORY with only physical memory: no process limit, no GC limit",
			files: map[string]string{"proc/meminfo": meminfo16G},
			vars:  map[string]string{"MAX_MEMORY": "8GiB"},
			want:  Memory{Budget: 8 * gib, Source: "MAX_MEMORY"},
		},
		{
			name:  "MAX_MEMORY alone",
			files: map[string]string{},
			vars:  map[string]string{"MAX_MEMORY": "1MiB"},
			want:  Memory{Budget: mib, Source: "MAX_MEMORY"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(fakeMachine(t, tc.files, tc.vars))
			if err != nil {
				t.Fatal(err)
			}
			if c.Memory != tc.want {
				t.Errorf("Memory = %+v\nwant     %+v", c.Memory, tc.want)
			}
		})
	}
}

func TestMemoryErrors(t *testing.T) {
	cgroup1G := map[string]string{"proc/self/cgroup": "0::/\n", "cgroup/memory.max": "1073741824\n"}
	tests := []struct {
		name  string
		files map[string]string
		vars  map[string]string
		want  string
	}{
		{
			name:  "MAX_MEMORY above the cgroup limit",
			files: cgroup1G,
			vars:  map[string]string{"MAX_MEMORY": "2GiB"},
			want: `MAX_MEMORY="2GiB": want at most the process memory limit, 1GiB from cgroup v2 memory.max; ` +
				`a cache bigger than that gets the process OOM-killed`,
		},
		{
			name: "MAX_MEMORY above the Lambda size",
			vars: map[string]string{"AWS_LAMBDA_RUNTIME_API": "x", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "MAX_MEMORY": "200MB"},
			want: `MAX_MEMORY="200MB": want at most the process memory limit, 128MiB from AWS_LAMBDA_FUNCTION_MEMORY_SIZE; ` +
				`a cache bigger than that gets the process OOM-killed`,
		},
		{
			name:  "MAX_MEMORY above physical memory",
			files: map[string]string{"proc/meminfo": meminfo16G},
			vars:  map[string]string{"MAX_MEMORY": "16GiB"},
			want:  `MAX_MEMORY="16GiB": want at most the 15625MiB of physical memory`,
		},
		{
			name: "MAX_MEMORY below the minimum",
			vars: map[string]string{"MAX_MEMORY": "1048575"},
			want: `MAX_MEMORY="1048575": want at least 1MiB`,
		},
		{
			name:  "derived budget below the minimum",
			files: map[string]string{"proc/self/cgroup": "0::/\n", "cgroup/memory.max": "1572864\n"},
			want: `MAX_MEMORY is unset and 0.5 of the 1536KiB limit from cgroup v2 memory.max leaves 768KiB, ` +
				`below the 1MiB minimum: want MAX_MEMORY set or a higher limit`,
		},
		{
			name: "no source at all",
			want: `MAX_MEMORY is unset and no memory limit was found (no cgroup limit, GOMEMLIMIT or /proc/meminfo): ` +
				`want MAX_MEMORY set, like MAX_MEMORY=256MiB`,
		},
		{
			name: "bad Lambda memory size",
			vars: map[string]string{"AWS_LAMBDA_RUNTIME_API": "x", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1GB", "MAX_MEMORY": "64MiB"},
			want: `AWS_LAMBDA_FUNCTION_MEMORY_SIZE="1GB": want the function's memory in MiB, like 1024`,
		},
		{
			name:  "bad GOMEMLIMIT",
			files: cgroup1G,
			vars:  map[string]string{"GOMEMLIMIT": "512MB"},
			want:  `GOMEMLIMIT="512MB": want bytes with an optional B, KiB, MiB, GiB or TiB suffix, like 512MiB, or off (not a byte count)`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(fakeMachine(t, tc.files, tc.vars))
			if err == nil || err.Error() != tc.want {
				t.Errorf("error = %v\nwant    %s", err, tc.want)
			}
		})
	}
}

// TestOSEnv only checks the wiring; the real machine's memory is not assumed.
func TestOSEnv(t *testing.T) {
	env := OSEnv()
	t.Setenv("WARMKV_CONFIG_TEST", "yes")
	if got := env.Getenv("WARMKV_CONFIG_TEST"); got != "yes" {
		t.Errorf("OSEnv().Getenv = %q, want the process environment", got)
	}
	for _, path := range []string{env.CgroupRoot, env.ProcCgroup, env.Meminfo} {
		if !strings.HasPrefix(path, "/") {
			t.Errorf("OSEnv path %q is not absolute", path)
		}
	}
}
