package kvcheck

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Options tune Check.
type Options struct {
	// Tolerance is the clock tolerance for expiry; 0 means DefaultTolerance.
	Tolerance time.Duration
	// Timeout bounds the search of one key's history; past it the key counts
	// as undecided, which fails the check too. 0 means ten minutes.
	Timeout time.Duration
	// Workers is how many keys are checked at once; 0 means GOMAXPROCS.
	Workers int
	// VisualizeDir, when set, receives porcupine's HTML visualization of
	// each key whose history is not linearizable.
	VisualizeDir string
}

// Result is the outcome of Check.
type Result struct {
	Ops      int // ops checked (reads whose outcome is unknown are left out)
	Keys     int
	Illegal  []Violation
	TimedOut []string // keys whose search did not finish
	Took     time.Duration
}

// Violation is a key whose history no sequential order explains.
type Violation struct {
	Key         string
	Ops         int
	Explanation string // the longest explainable prefix's end and what cannot follow it
	Visual      string // the HTML visualization's path, if written
}

// Err describes every violation and undecided key; nil when the history is
// linearizable.
func (r Result) Err() error {
	var errs []error
	for _, v := range r.Illegal {
		e := fmt.Sprintf("key %q (%d ops) is not linearizable:\n%s", v.Key, v.Ops, v.Explanation)
		if v.Visual != "" {
			e += "\nvisualization: " + v.Visual
		}
		errs = append(errs, errors.New(e))
	}
	for _, k := range r.TimedOut {
		errs = append(errs, fmt.Errorf("key %q: the search did not finish in time", k))
	}
	return errors.Join(errs...)
}

func (o Options) withDefaults() Options {
	if o.Tolerance == 0 {
		o.Tolerance = DefaultTolerance
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o
}

// Check checks a history of single-key commands key by key against the
// model (CheckTransactions takes transactions). Ops whose outcome is
// unknown take effect at any moment after their call (Return is Infinity);
// reads among them are left out. The history is not modified.
func Check(history []Op, o Options) Result {
	start := time.Now()
	o = o.withDefaults()
	model := Model(o.Tolerance)
	parts := model.Partition(Operations(history))
	res := Result{Keys: len(parts)}
	for _, p := range parts {
		res.Ops += len(p)
	}
	var mu sync.Mutex
	work := make(chan []porcupine.Operation)
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for part := range work {
				key := part[0].Input.(Input).Key
				switch porcupine.CheckOperationsTimeout(model, part, o.Timeout) {
				case porcupine.Illegal:
					v := explain(model, key, part, o)
					mu.Lock()
					res.Illegal = append(res.Illegal, v)
					mu.Unlock()
				case porcupine.Unknown:
					saveKeyHistory(o.VisualizeDir, key, part)
					mu.Lock()
					res.TimedOut = append(res.TimedOut, key)
					mu.Unlock()
				}
			}
		}()
	}
	for _, p := range parts {
		work <- p
	}
	close(work)
	wg.Wait()
	sort.Slice(res.Illegal, func(i, j int) bool { return res.Illegal[i].Key < res.Illegal[j].Key })
	sort.Strings(res.TimedOut)
	res.Took = time.Since(start)
	return res
}

// Operations turns a history into porcupine's operations, leaving out reads
// whose outcome is unknown.
func Operations(history []Op) []porcupine.Operation {
	ops := make([]porcupine.Operation, 0, len(history))
	for _, op := range history {
		if op.Out.Status == Unknown && op.In.Kind.Reads() {
			continue
		}
		ops = append(ops, porcupine.Operation{ClientId: op.Client, Input: op.In, Call: op.Call, Output: op.Out, Return: op.Return})
	}
	return ops
}

// explain finds how far one key's history (or a transaction history, named
// key) can be explained and what cannot come next, and writes the
// visualization.
func explain(model porcupine.Model, key string, part []porcupine.Operation, o Options) Violation {
	_, info := porcupine.CheckOperationsVerbose(model, part, o.Timeout)
	return explainInfo(model, key, part, info, o)
}

// explainInfo is explain with the verbose search's outcome at hand.
func explainInfo(model porcupine.Model, key string, part []porcupine.Operation, info porcupine.LinearizationInfo, o Options) Violation {
	v := Violation{Key: key, Ops: len(part)}
	if o.VisualizeDir != "" {
		name := filepath.Join(o.VisualizeDir, "violation-"+sanitize(v.Key)+".html")
		if err := os.MkdirAll(o.VisualizeDir, 0o750); err == nil && porcupine.VisualizePath(model, info, name) == nil {
			v.Visual = name
		}
		saveKeyHistory(o.VisualizeDir, v.Key, part)
		// The key's whole history as text, by call time, for grep.
		sorted := append([]porcupine.Operation(nil), part...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i].Call < sorted[j].Call })
		var text strings.Builder
		for _, op := range sorted {
			text.WriteString(describe(model, op) + "\n")
		}
		_ = os.WriteFile(strings.TrimSuffix(name, ".html")+".txt", []byte(text.String()), 0o600)
	}
	var longest []int
	for _, lin := range info.PartialLinearizations() {
		for _, l := range lin {
			if len(l) > len(longest) {
				longest = l
			}
		}
	}
	var b strings.Builder
	// Replay the longest explainable prefix to show the states it leads to.
	states := model.Init()
	placed := make(map[int]bool, len(longest))
	from := max(0, len(longest)-8)
	for i, id := range longest {
		op := part[id]
		_, states = model.Step(states, op.Input, op.Output)
		placed[id] = true
		if i >= from {
			fmt.Fprintf(&b, "  %s  → state %s\n", describe(model, op), model.DescribeState(states))
		}
	}
	// The op that had to come next is the unplaced one that returned first;
	// show it with the unplaced ops that overlap it.
	next := -1
	for id, op := range part {
		if !placed[id] && (next < 0 || op.Return < part[next].Return) {
			next = id
		}
	}
	if next >= 0 {
		fmt.Fprintf(&b, "  cannot follow: %s\n", describe(model, part[next]))
		for id, op := range part {
			if id != next && !placed[id] && op.Call <= part[next].Return {
				fmt.Fprintf(&b, "  nor (concurrent): %s\n", describe(model, op))
			}
		}
	}
	v.Explanation = b.String()
	return v
}

func describe(model porcupine.Model, op porcupine.Operation) string {
	ret := "∞"
	if op.Return != Infinity {
		ret = clock(op.Return)
	}
	return fmt.Sprintf("[%s, %s] client %d: %s", clock(op.Call), ret, op.ClientId, model.DescribeOperation(op.Input, op.Output))
}

func sanitize(key string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, key)
}

// saveKeyHistory writes one key's ops as JSON to dir, if set, so that a
// violation or an undecided search can be examined and checked again
// (ReadHistory).
func saveKeyHistory(dir, key string, part []porcupine.Operation) {
	if dir == "" {
		return
	}
	ops := make([]Op, len(part))
	for i, p := range part {
		ops[i] = Op{Client: p.ClientId, In: p.Input.(Input), Out: p.Output.(Output), Call: p.Call, Return: p.Return}
	}
	if b, err := json.Marshal(ops); err == nil && os.MkdirAll(dir, 0o750) == nil {
		_ = os.WriteFile(filepath.Join(dir, "history-"+sanitize(key)+".json"), b, 0o600)
	}
}

// ReadHistory reads a history saveKeyHistory wrote.
func ReadHistory(path string) ([]Op, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ops []Op
	return ops, json.Unmarshal(b, &ops)
}
