package config

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Memory says how much the cache may hold and where that number came from.
type Memory struct {
	Budget     int64  // bytes the cache may use (keys, values, LRU arrays, expiry index)
	Source     string // where Budget came from: "MAX_MEMORY", "cgroup v2 memory.max", "physical memory", ...
	Limit      int64  // the process memory limit the budget was derived from or checked against; 0 if none known
	GoMemLimit int64  // for debug.SetMemoryLimit; 0 means leave the runtime alone
}

// BudgetFraction is the share of the process memory limit the cache gets when
// MAX_MEMORY is unset. The rest is not waste: a garbage-collected heap needs
// headroom above its live data to collect without running constantly, and
// connection buffers, goroutine stacks and the runtime itself live there too.
const BudgetFraction = 0.5

// GCFraction is where, as a share of the process memory limit, the Go
// garbage collector is told to start working hard (debug.SetMemoryLimit).
// That is a soft target the heap briefly overshoots, and memory outside the
// Go heap counts against the container too, so it sits below the limit rather
// than at it. A GOMEMLIMIT the user set is treated the same way, as the
// memory the process may use: the GC aims below it, so RSS stays inside it.
const GCFraction = 0.75

// minBudget is the smallest useful cache; below it the per-entry overhead
// and the shards' first arrays leave little room for data.
const minBudget = 1 << 20

// Sources of a process memory limit, as reported in Memory.Source.
const (
	sourceMaxMemory = "MAX_MEMORY"
	sourceCgroupV2  = "cgroup v2 memory.max"
	sourceCgroupV1  = "cgroup v1 memory.limit_in_bytes"
	sourceGoMemLim  = "GOMEMLIMIT"
	sourceLambda    = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
	sourcePhysical  = "physical memory"
)

// limit is a ceiling on the memory of the whole process and where it was
// found.
type limit struct {
	bytes  int64
	source string
}

// smaller returns whichever of a and b is known and lower.
func smaller(a, b limit) limit {
	if a.source == "" || (b.source != "" && b.bytes < a.bytes) {
		return b
	}
	return a
}

// resolveMemory works out the cache's memory budget and the GC limit: from
// MAX_MEMORY if set, else as BudgetFraction of the process memory limit.
func resolveMemory(env Env, get func(string) string, deployment Deployment) (Memory, []error) {
	process, errs := processLimit(env, get, deployment)

	// Without a platform limit, physical memory is the only bound. It is
	// shared with everything else on the machine, so by default the process
	// counts on a quarter of it: a dev box should not hand the cache half its
	// RAM.
	var physical int64
	if process.source == "" {
		physical = memTotal(env.Meminfo)
	}

	var m Memory
	raw := get(sourceMaxMemory)
	switch {
	case raw != "":
		budget, reason := parseSize(raw)
		if reason != "" {
			errs = append(errs, fmt.Errorf("MAX_MEMORY=%q: want bytes like 512MiB, 2GB or 1073741824 (%s)", raw, reason))
			return Memory{}, errs
		}
		m = Memory{Budget: budget, Source: sourceMaxMemory}
		if process.source != "" {
			m.Limit, m.GoMemLimit = process.bytes, fraction(process.bytes, GCFraction)
			if budget > process.bytes {
				errs = append(errs, fmt.Errorf("MAX_MEMORY=%q: want at most the process memory limit, %s from %s; "+
					"a cache bigger than that gets the process OOM-killed", raw, formatBytes(process.bytes), process.source))
			}
		} else if physical > 0 && budget > physical {
			// Physical memory is no process limit, so MAX_MEMORY may exceed
			// the quarter and no GC limit is set, but it cannot exceed all of it.
			errs = append(errs, fmt.Errorf("MAX_MEMORY=%q: want at most the %s of physical memory", raw, formatBytes(physical)))
		}
	case process.source != "":
		m = Memory{Source: process.source, Limit: process.bytes}
	case physical > 0:
		m = Memory{Source: sourcePhysical, Limit: physical / 4}
	default:
		errs = append(errs, errors.New("MAX_MEMORY is unset and no memory limit was found "+
			"(no cgroup limit, GOMEMLIMIT or /proc/meminfo): want MAX_MEMORY set, like MAX_MEMORY=256MiB"))
		return Memory{}, errs
	}
	if m.Source != sourceMaxMemory {
		m.Budget = fraction(m.Limit, BudgetFraction)
		m.GoMemLimit = fraction(m.Limit, GCFraction)
	}

	if m.Budget < minBudget {
		if m.Source == sourceMaxMemory {
			errs = append(errs, fmt.Errorf("MAX_MEMORY=%q: want at least %s", raw, formatBytes(minBudget)))
		} else {
			errs = append(errs, fmt.Errorf("MAX_MEMORY is unset and %g of the %s limit from %s leaves %s, below the %s minimum: "+
				"want MAX_MEMORY set or a higher limit", BudgetFraction, formatBytes(m.Limit), m.Source,
				formatBytes(m.Budget), formatBytes(minBudget)))
		}
	}
	return m, errs
}

// bytesPerConn is the memory each HTTP connection is allowed when MAX_CONNS is
// derived. An idle keep-alive connection measured 17 KB of RSS (bench/conns.sh);
// one with a request in progress also holds its read buffer (MAX_HEADER_BYTES),
// its write buffer and the request, and the GC needs room above all of them.
const bytesPerConn = 64 << 10

// minConns is the smallest derived MAX_CONNS, the default of RESP_MAX_CLIENTS
// and Redis's maxclients: that many idle connections cost about 170 MB, which
// fits beside the cache from a 512 MB container up.
const minConns = 10000

// ConnsFor derives MAX_CONNS from the memory beside the cache's budget: the
// process limit minus the budget, or as much again as the budget when no limit
// is known (BudgetFraction gives the cache half). Connections are memory
// outside the budget, so without a bound enough of them, idle, take the
// process past its limit; at 2 GB this allows 16,384.
func ConnsFor(m Memory) int {
	return int(max(spareBeside(m)/bytesPerConn, minConns))
}

// spareBeside is the memory beside the cache's budget: the process limit minus
// the budget, or as much again as the budget when no limit is known
// (BudgetFraction gives the cache half).
func spareBeside(m Memory) int64 {
	if m.Limit > m.Budget {
		return m.Limit - m.Budget
	}
	return m.Budget
}

// respBufferFraction is the share of the memory beside the cache that the
// Redis-protocol connections' buffers may hold together by default.
const respBufferFraction = 4

// RespBuffersFor derives RESP_MAX_BUFFER_BYTES from the memory beside the
// cache, as ConnsFor derives MAX_CONNS: a quarter of it, so that large
// commands and replies in flight cannot take the process past its limit, but
// at least twice the largest command, so that two clients can send one at
// once.
func RespBuffersFor(m Memory, maxCommandBytes int) int {
	return int(max(spareBeside(m)/respBufferFraction, 2*int64(maxCommandBytes)))
}

// fraction returns f of n, rounded down.
func fraction(n int64, f float64) int64 {
	return int64(float64(n) * f)
}

// processLimit finds the memory the process may use: the platform's limit
// (the Lambda function size, else the cgroup limit) or GOMEMLIMIT, whichever
// is lower. Its source is "" when there is none.
func processLimit(env Env, get func(string) string, deployment Deployment) (limit, []error) {
	var errs []error
	var platform limit
	// Vercel functions are Lambda functions underneath, with the same variable.
	if raw := get(sourceLambda); (deployment == Lambda || deployment == Vercel) && raw != "" {
		mib, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || mib <= 0 || mib > math.MaxInt64>>20 {
			errs = append(errs, fmt.Errorf("%s=%q: want the function's memory in MiB, like 1024", sourceLambda, raw))
		} else {
			platform = limit{mib << 20, sourceLambda}
		}
	} else {
		platform = cgroupLimit(env.ProcCgroup, env.CgroupRoot)
	}

	var goMemLimit limit
	if raw := get(sourceGoMemLim); raw != "" {
		n, err := parseGoMemLimit(raw)
		switch {
		case err == nil:
			goMemLimit = limit{n, sourceGoMemLim}
		case !errors.Is(err, errNoGoMemLimit):
			errs = append(errs, fmt.Errorf("%s=%q: want bytes with an optional B, KiB, MiB, GiB or TiB suffix, like 512MiB, or off (%w)",
				sourceGoMemLim, raw, err))
		}
	}
	return smaller(platform, goMemLimit), errs
}

// cgroupLimit reads the memory limit of this process's cgroup, v2 or v1, from
// the hierarchy mounted at root. A host may mount both (hybrid mode); then the
// lower limit wins. Unreadable or odd files count as no limit: the kernel's
// files are not the user's mistake, and MAX_MEMORY remains as the way out.
func cgroupLimit(procCgroup, root string) limit {
	if procCgroup == "" || root == "" {
		return limit{}
	}
	file, err := os.Open(procCgroup)
	if err != nil {
		return limit{}
	}
	defer file.Close()

	root = filepath.Clean(root)
	var found limit
	// Each line is "hierarchy-ID:controller-list:cgroup-path".
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		fields := strings.SplitN(scanner.Text(), ":", 3)
		if len(fields) != 3 {
			continue
		}
		id, controllers, path := fields[0], fields[1], fields[2]
		switch {
		case id == "0" && controllers == "":
			if n, ok := cgroupV2Limit(root, path); ok {
				found = smaller(found, limit{n, sourceCgroupV2})
			}
		case hasController(controllers, "memory"):
			if n, ok := cgroupV1Limit(filepath.Join(root, "memory"), path); ok {
				found = smaller(found, limit{n, sourceCgroupV1})
			}
		}
	}
	return found
}

func hasController(list, name string) bool {
	for c := range strings.SplitSeq(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// cgroupV2Limit returns the smallest memory.max from the process's cgroup up
// to the root: a parent's limit binds its children too, and a child's own
// file says "max" when only the parent is limited.
func cgroupV2Limit(root, path string) (int64, bool) {
	dir, ok := within(root, path)
	if !ok {
		// In a container with its own cgroup namespace, the path is the
		// host's view while the container's root is its own cgroup.
		dir = root
	}
	var lowest int64
	found := false
	for {
		if n, ok := readLimit(filepath.Join(dir, "memory.max"), "max"); ok && (!found || n < lowest) {
			lowest, found = n, true
		}
		if dir == root {
			return lowest, found
		}
		dir = filepath.Dir(dir)
	}
}

// cgroupV1Limit reads memory.limit_in_bytes of the process's cgroup in the
// v1 memory hierarchy at root, or of the root if the path is not there (the
// cgroup namespace case, as in v2).
func cgroupV1Limit(root, path string) (int64, bool) {
	dir, ok := within(root, path)
	if !ok {
		dir = root
	}
	file := filepath.Join(dir, "memory.limit_in_bytes")
	if _, err := os.Stat(file); err != nil {
		file = filepath.Join(root, "memory.limit_in_bytes")
	}
	n, ok := readLimit(file, "")
	// v1 spells "unlimited" as a huge page-aligned number, typically
	// 9223372036854771712; nothing real comes near 1<<62.
	if !ok || n >= 1<<62 {
		return 0, false
	}
	return n, true
}

// within joins a cgroup path onto root and reports whether that names an
// existing directory inside root. Paths from /proc/self/cgroup may start
// with "/.." when the cgroup lies outside the namespace's root.
func within(root, path string) (string, bool) {
	dir := filepath.Join(root, path)
	if dir != root && !strings.HasPrefix(dir, root+string(filepath.Separator)) {
		return "", false
	}
	info, err := os.Stat(dir)
	return dir, err == nil && info.IsDir()
}

// readLimit reads a file holding one byte count, or the word unlimited
// (if not "") meaning no limit.
func readLimit(file, unlimited string) (int64, bool) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	text := strings.TrimSpace(string(data))
	if unlimited != "" && text == unlimited {
		return 0, false
	}
	n, err := strconv.ParseInt(text, 10, 64)
	return n, err == nil && n >= 0
}

// memTotal returns MemTotal from /proc/meminfo in bytes, or 0 if unknown.
func memTotal(meminfo string) int64 {
	if meminfo == "" {
		return 0
	}
	data, err := os.ReadFile(meminfo)
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		// "MemTotal:       24731708 kB"
		rest, ok := strings.CutPrefix(line, "MemTotal:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0
		}
		kib, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || kib <= 0 || kib > math.MaxInt64>>10 {
			return 0
		}
		return kib << 10
	}
	return 0
}
