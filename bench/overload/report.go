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
		if err := writePlot(*pngPath, runs, []string{*shedLabel, *baseLabel}); err != nil {
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
		if len(fields) != len(stepHeader) {
			return nil, fmt.Errorf("%s:%d: %d fields, want %d", path, line, len(fields), len(stepHeader))
		}
		var nums [15]float64
		for i := range nums {
			v, err := strconv.ParseFloat(fields[i+1], 64)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: column %s: %w", path, line, stepHeader[i+1], err)
			}
			nums[i] = v
		}
		steps = append(steps, step{
			Label: fields[0], Offered: nums[0], Sent: nums[1], OK: nums[2], Shed: nums[3], Other: nums[4],
			Timeouts: int(nums[5]), OKP50: nums[6], OKP99: nums[7], OKMax: nums[8],
			ShedP50: nums[9], ShedP99: nums[10], ShedMax: nums[11], BadShed: int(nums[12]),
			GenCPU: nums[13], SrvCPU: nums[14], OthersCPU: 0, FirstError: fields[len(fields)-1],
		})
		if v, err := strconv.ParseFloat(fields[16], 64); err == nil {
			steps[len(steps)-1].OthersCPU = v
		}
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
	fmt.Fprintf(w, "%-9s %8s %8s | %8s %8s %8s %8s | %8s %8s %8s | %8s %8s %8s | %4s %4s %4s\n",
		"run", "offered", "sent", "2xx/s", "503/s", "other/s", "timeouts",
		"2xx p50", "2xx p99", "2xx max", "503 p50", "503 p99", "503 max", "gen%", "srv%", "oth%")
	fmt.Fprintf(w, "%-9s %8s %8s | %8s %8s %8s %8s | %8s %8s %8s | %8s %8s %8s |\n",
		"", "req/s", "req/s", "", "", "", "", "ms", "ms", "ms", "ms", "ms", "ms")
	last := ""
	for _, s := range steps {
		if last != "" && s.Label != last {
			fmt.Fprintln(w)
		}
		last = s.Label
		fmt.Fprintf(w, "%-9s %8.0f %8.0f | %8.0f %8.0f %8.0f %8d | %8s %8s %8s | %8s %8s %8s | %4.0f %4.0f %4.0f\n",
			s.Label, s.Offered, s.Sent, s.OK, s.Shed, s.Other, s.Timeouts,
			ms(s.OKP50), ms(s.OKP99), ms(s.OKMax), ms(s.ShedP50), ms(s.ShedP99), ms(s.ShedMax),
			s.GenCPU, s.SrvCPU, s.OthersCPU)
		if s.BadShed > 0 || (s.FirstError != "" && s.Other > 0) {
			fmt.Fprintf(w, "%-9s !!! %d 503s without Retry-After or the JSON envelope; first problem: %.160s\n", "", s.BadShed, s.FirstError)
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

// verdict compares the runs. Capacity is the most 2xx/s the baseline achieved;
// a step is above capacity when it offered at least 1.2x that. PASS needs, at
// every such step of the shed run: 2xx p99 within factor x the shed run's p99
// at about half load (never tighter than floorMs), 503s at least as fast as that
// bound, and every 503 with Retry-After and the JSON envelope; and the baseline's
// p99 at its top step beyond the same bound, which shows the run really
// overloaded the server (else the comparison proves nothing).
func verdict(shed, base []step, factor, floorMs float64) []string {
	if len(shed) == 0 || len(base) == 0 {
		return []string{"verdict: INCONCLUSIVE (need both a shed and a baseline run)"}
	}
	capacity := 0.0
	for _, s := range base {
		capacity = math.Max(capacity, s.OK)
	}
	half := shed[0]
	for _, s := range shed {
		if math.Abs(s.Offered-capacity/2) < math.Abs(half.Offered-capacity/2) {
			half = s
		}
	}
	bound := math.Max(factor*half.OKP99, floorMs)
	lines := []string{
		fmt.Sprintf("capacity (most 2xx/s of the baseline): %.0f req/s; steps offering >= %.0f req/s (1.2x) count as above capacity", capacity, 1.2*capacity),
		fmt.Sprintf("reference: shed run's 2xx p99 at %.0f req/s (about half load) = %sms; bound = max(%gx that, %gms) = %sms",
			half.Offered, ms(half.OKP99), factor, floorMs, ms(bound)),
	}
	pass, above := true, 0
	for _, s := range shed {
		if s.Offered < 1.2*capacity {
			continue
		}
		above++
		okBounded := s.OKP99 <= bound
		shedFast := s.Shed == 0 || s.ShedP99 <= bound
		pass = pass && okBounded && shedFast && s.BadShed == 0
		lines = append(lines, fmt.Sprintf("  shed @ %6.0f req/s: 2xx p99 %sms (%s), 503 p99 %sms (%s), 503s lacking Retry-After/envelope: %d",
			s.Offered, ms(s.OKP99), okWord(okBounded, "bounded", "OVER BOUND"), ms(s.ShedP99), okWord(shedFast, "fast", "SLOW"), s.BadShed))
	}
	top := base[len(base)-1]
	grew := top.OKP99 > bound || top.Other > 0.01*top.Offered
	lines = append(lines, fmt.Sprintf("  baseline @ %6.0f req/s: 2xx p99 %sms, failed/timed out %.0f/s (%s)",
		top.Offered, ms(top.OKP99), top.Other, okWord(grew, "latency grew past the bound: the run did overload", "NO GROWTH: not overloaded, raise RATES")))
	switch {
	case above == 0:
		lines = append(lines, "verdict: INCONCLUSIVE (no step offered 1.2x capacity; raise RATES)")
	case !grew:
		lines = append(lines, "verdict: INCONCLUSIVE (the baseline did not degrade; raise RATES)")
	case pass:
		lines = append(lines, "verdict: PASS")
	default:
		lines = append(lines, "verdict: FAIL")
	}
	return lines
}

func okWord(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}
