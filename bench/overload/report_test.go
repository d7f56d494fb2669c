package main

import (
	"strings"
	"testing"
)

func TestStepFieldsRoundTrip(t *testing.T) {
	in := step{Label: "shed", Offered: 8000, Sent: 7999.5, OK: 7000, Shed: 900, Refused: 850, Other: 12,
		Timeouts: 3, OKP50: 1.5, OKP99: 20.25, OKMax: 31, ShedP50: 0.2, ShedP99: 4, ShedMax: 9,
		BadShed: 2, GenCPU: 40, SrvCPU: 45, OthersCPU: 1, FirstError: "no\tfree\nconnections"}
	fields := in.fields()
	if len(fields) != len(stepHeader) {
		t.Fatalf("%d fields, header has %d", len(fields), len(stepHeader))
	}
	out, err := parseStep(fields)
	if err != nil {
		t.Fatal(err)
	}
	in.FirstError = "no free connections" // tabs and newlines would break the TSV
	if out != in {
		t.Errorf("round trip:\n got %+v\nwant %+v", out, in)
	}
}

func TestVerdict(t *testing.T) {
	// The baseline's p99 at half load (4000) is 2 ms, so the bound is 20 ms;
	// 8000 and 12000 are overloaded steps (p99 past it, or failures).
	base := []step{
		{Offered: 4000, OK: 4000, OKP99: 2},
		{Offered: 8000, OK: 7000, OKP99: 500},
		{Offered: 12000, OK: 7500, OKP99: 15, Other: 2000},
	}
	good := []step{
		{Offered: 4000, OK: 4000, OKP99: 3},
		{Offered: 8000, OK: 6000, OKP99: 15, Shed: 2000, ShedP99: 1},
		{Offered: 12000, OK: 6000, OKP99: 18, Shed: 6000, ShedP99: 2},
	}
	for _, tc := range []struct {
		name string
		shed func([]step)
		base func([]step)
		want string
	}{
		{"bounded, fast refusals", nil, nil, "verdict: PASS (2 overloaded steps)"},
		{"2xx p99 past the bound", func(s []step) { s[2].OKP99 = 25 }, nil, "verdict: FAIL"},
		{"slow 503s", func(s []step) { s[1].ShedP99 = 30 }, nil, "verdict: FAIL"},
		{"503 without Retry-After", func(s []step) { s[1].BadShed = 1 }, nil, "verdict: FAIL"},
		{"failures at the client", func(s []step) { s[2].Other = 500 }, nil, "verdict: FAIL"},
		{"baseline never overloaded", nil, func(b []step) { b[1].OKP99, b[2].OKP99, b[2].Other = 10, 10, 0 }, "verdict: INCONCLUSIVE"},
		{"noise is flagged", func(s []step) { s[1].OthersCPU = 40 }, nil, "NOISY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shed, b := append([]step(nil), good...), append([]step(nil), base...)
			if tc.shed != nil {
				tc.shed(shed)
			}
			if tc.base != nil {
				tc.base(b)
			}
			lines := verdict(shed, b, 10, 5)
			last := lines[len(lines)-1]
			if !strings.Contains(last, tc.want) {
				t.Errorf("got %q, want it to contain %q\n%s", last, tc.want, strings.Join(lines, "\n"))
			}
		})
	}
}
