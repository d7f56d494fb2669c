package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// reportMain prints the steps of one or more attack runs as a table, draws the
// curve and gives the verdict (see verdict).
func reportMain(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	pngPath := fs.String("png", "", "write the throughput-latency plot here")
	title := fs.String("title", "warmkv under open-loop load (vegeta)", "the plot's title")
	shedLabel := fs.String("shed", "shed", "label of the run with shedding on")
	baseLabel := fs.String("baseline", "baseline", "label of the run with shedding off")
	factor := fs.Float64("factor", 10, "above capacity, shed 2xx p99 must stay within this factor of its p99 at half load")
	floorMs := fs.Float64("floor-ms", 5, "latency bound never tighter than this, in ms (p99 at half load can be tiny)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var steps []step
	for _, path := range fs.Args() {
		s, err := readSteps(path)
		if err != nil {
			return err
		}
		steps = append(steps, s...)
	}
	if len(steps) == 0 {
		return errors.New("report: no steps (give the TSV files the attack runs wrote)")
	}
	printTable(os.Stdout, steps)
	runs := byLabel(steps)
	if *pngPath != "" {
		if err := writePlot(*pngPath, *title, runs, []string{*shedLabel, *baseLabel}); err != nil {
			return err
		}
		fmt.Printf("\nplot: %s\n", *pngPath)
	}
	fmt.Println()
	for _, line := range verdict(runs[*shedLabel], runs[*baseLabel], *factor, *floorMs) {
		fmt.Println(line)
	}
	return nil
}

func readSteps(path string) ([]step, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var steps []step
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Split(sc.Text(), "\t")
		if line == 1 && len(fields) > 0 && fields[0] == stepHeader[0] {
			continue
		}
		st, err := parseStep(fields)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		steps = append(steps, st)
	}
	return steps, sc.Err()
}

func byLabel(steps []step) map[string][]step {
	runs := make(map[string][]step)
	for _, s := range steps {
		runs[s.Label] = append(runs[s.Label], s)
	}
	return runs
}

func printTable(w io.Writer, steps []step) {
	fmt.Fprintf(w, "%-9s %8s %8s | %8s %8s %8s %8s %8s | %8s %8s %8s | %8s %8s %8s | %4s %4s %4s\n",
		"run", "offered", "sent", "2xx/s", "503/s", "refused", "other/s", "timeouts",
		"2xx p50", "2xx p99", "2xx max", "503 p50", "503 p99", "503 max", "gen%", "srv%", "oth%")
	fmt.Fprintf(w, "%-9s %8s %8s | %8s %8s %8s %8s %8s | %8s %8s %8s | %8s %8s %8s |\n",
		"", "req/s", "req/s", "", "", "(of 503)", "", "", "ms", "ms", "ms", "ms", "ms", "ms")
	last := ""
	for _, s := range steps {
		if last != "" && s.Label != last {
			fmt.Fprintln(w)
		}
		last = s.Label
		fmt.Fprintf(w, "%-9s %8.0f %8.0f | %8.0f %8.0f %8.0f %8.0f %8d | %8s %8s %8s | %8s %8s %8s | %4.0f %4.0f %4.0f\n",
			s.Label, s.Offered, s.Sent, s.OK, s.Shed, s.Refused, s.Other, s.Timeouts,
			ms(s.OKP50), ms(s.OKP99), ms(s.OKMax), ms(s.ShedP50), ms(s.ShedP99), ms(s.ShedMax),
			s.GenCPU, s.SrvCPU, s.OthersCPU)
		switch {
		case s.BadShed > 0:
			fmt.Fprintf(w, "%-9s !!! %d 503s without Retry-After or the JSON envelope: %.160s\n", "", s.BadShed, s.FirstError)
		case s.Other > 0:
			fmt.Fprintf(w, "%-9s     failed at the client (other/s), first: %.160s\n", "", s.FirstError)
		}
	}
}

func ms(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// verdict compares the runs. The latency bound is factor x the shed run's 2xx
// p99 at about half load (half the baseline's best 2xx/s), never tighter than
// floorMs. The baseline is overloaded at a step when its 2xx p99 went past the
// bound or more than 1% of what was offered failed. PASS needs at least one
// such step, and at every one of them the shed run's 2xx p99 within the bound,
// its 503s at least as fast, and every 503 with Retry-After and the JSON
// envelope. How many 2xx/s shedding kept is reported, not judged: refusing
// trades answers for latency, and the bound sets the rate.
func verdict(shed, base []step, factor, floorMs float64) []string {
	if len(shed) == 0 || len(base) == 0 {
		return []string{"verdict: INCONCLUSIVE (need both a shed and a baseline run)"}
	}
	best := 0.0
	for _, s := range base {
		best = math.Max(best, s.OK)
	}
	half := shed[0]
	for _, s := range shed {
		if math.Abs(s.Offered-best/2) < math.Abs(half.Offered-best/2) {
			half = s
		}
	}
	baseAt := make(map[float64]step)
	for _, s := range base {
		baseAt[s.Offered] = s
	}
	// Both runs are the same server below capacity: the lower of their p99s
	// there is the reference, so that one run disturbed by another process
	// does not loosen the bound.
	ref := half.OKP99
	if b, ok := baseAt[half.Offered]; ok && b.OKP99 > 0 {
		ref = math.Min(ref, b.OKP99)
	}
	bound := math.Max(factor*ref, floorMs)
	lines := []string{fmt.Sprintf("bound: %gx the 2xx p99 at %.0f req/s (about half the baseline's best, %.0f 2xx/s; the lower of the two runs) = %gx %sms, at least %gms: %sms",
		factor, half.Offered, best, factor, ms(ref), floorMs, ms(bound))}
	noisy := false
	pass, overloaded := true, 0
	for _, s := range shed {
		b, ok := baseAt[s.Offered]
		if !ok || !(b.OKP99 > bound || b.Other > 0.01*b.Offered) {
			continue
		}
		overloaded++
		okBounded := s.OKP99 > 0 && s.OKP99 <= bound
		shedFast := s.Shed == 0 || s.ShedP99 <= bound
		pass = pass && okBounded && shedFast && s.BadShed == 0 && s.Other <= 0.01*s.Offered
		note := ""
		// Only the shed run's step counts: a deeply overloaded baseline makes
		// kernel threads busy itself (thousands of connections), and noise there
		// could only make the baseline look worse, which the verdict does not
		// need beyond the bound.
		if s.OthersCPU > noisyPercent {
			noisy = true
			note = " [NOISY: other processes took over 15% of a core]"
		}
		lines = append(lines, fmt.Sprintf("  @ %6.0f req/s: baseline 2xx p99 %sms, %.0f/s failed | shed 2xx p99 %sms (%s), 503 p99 %sms (%s), %.0f/s failed, %d bad 503s; 2xx/s kept %.0f%% of the baseline's%s",
			s.Offered, ms(b.OKP99), b.Other, ms(s.OKP99), okWord(okBounded, "bounded", "OVER BOUND"),
			ms(s.ShedP99), okWord(shedFast, "fast", "SLOW"), s.Other, s.BadShed, 100*s.OK/math.Max(b.OK, 1), note))
	}
	if b, ok := baseAt[half.Offered]; ok && (half.OthersCPU > noisyPercent || b.OthersCPU > noisyPercent) {
		noisy = true
		lines = append(lines, "  [NOISY: other processes took over 15% of a core at the reference step]")
	}
	suffix := ""
	if noisy {
		suffix = ", NOISY: rerun on an idle box"
	}
	switch {
	case overloaded == 0:
		lines = append(lines, "verdict: INCONCLUSIVE (the baseline never went past the bound: not overloaded; raise the rates)")
	case pass:
		lines = append(lines, fmt.Sprintf("verdict: PASS (%d overloaded steps%s)", overloaded, suffix))
	default:
		lines = append(lines, fmt.Sprintf("verdict: FAIL (%d overloaded steps%s)", overloaded, suffix))
	}
	return lines
}

// noisyPercent is how much of a core other processes may take during a step
// before its figures are flagged.
const noisyPercent = 15

func okWord(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}
