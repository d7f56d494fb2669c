package resp

import "testing"

// TestLongDouble: INCRBYFLOAT's arithmetic and formatting, with the answers
// redis-server 7.0 gives on x86-64 (TestExtraCommandsAgainstRedis compares
// more cases with a live server).
func TestLongDouble(t *testing.T) {
	tests := []struct {
		current, incr string
		want          string // the new value, or the error
	}{
		{"0", "0.1", "0.1"},
		{"0.1", "0.2", "0.3"}, // float64 would say 0.30000000000000004
		{"0.3", "-0.3", "0"},
		{"10", "1.5", "11.5"},
		{"0", "5.0e3", "5000"},
		{"0", "1.5e-7", "0.00000015"},
		{"0", "0x10", "16"},
		{"0", "0x1.8p1", "3"},
		{"0", "+1.5", "1.5"},
		{"0", ".5", "0.5"},
		{"0", "5.", "5"},
		{"0", "-0", "0"},
		// Past float64's range, within the extended format's, exactly as Redis prints it.
		{"1.7976931348623157e308", "1.7976931348623157e308", "359538626972463139991842093548208868096772893888658356970628841530353257046248792709403737216774171128857586838851041378617416726902272110715794556052955234146997955372576789671236326588091188869859074894581254961338834769297758245552436667197907705664206565009503223382416235440319971852753604933726679072768"},
		{"0", "1e4932", ""}, // in range: checked below by length only
		{"1e4932", "1e4932", msgNaNOrInfinity},
		{"0", "inf", msgNaNOrInfinity},
		{"0", "-INFINITY", msgNaNOrInfinity},
		{"0", "nan", msgNotFloat},
		{"0", "x", msgNotFloat},
		{"0", " 1", msgNotFloat},
		{"0", "1 ", msgNotFloat},
		{"0", "", msgNotFloat},
		{"0", "1e", msgNotFloat},
		{"0", "0x", msgNotFloat},
		{"0", "1_0", msgNotFloat},
		{"0", "--1", msgNotFloat},
		{"0", "1e5000", msgNotFloat},
		{"0", "1e-5000", msgNotFloat},
		{"abc", "1", msgNotFloat},
		{"1\x00junk", "1", "2"}, // strtold stops at a NUL byte, as in Redis
	}
	for _, tt := range tests {
		got := incrLongDouble(tt.current, tt.incr)
		if tt.want == "" {
			if len(got) < 4933 || got[0] != '1' {
				t.Errorf("%q + %q = %.20q…, want the 4933-digit 1e4932", tt.current, tt.incr, got)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("%q + %q = %q, want %q", tt.current, tt.incr, got, tt.want)
		}
	}
}

// incrLongDouble is INCRBYFLOAT's computation: the new value, or the error.
func incrLongDouble(current, incr string) string {
	a, ok1 := parseLongDouble(current)
	b, ok2 := parseLongDouble(incr)
	if !ok1 || !ok2 {
		return msgNotFloat
	}
	sum, err := addLongDouble(a, b)
	if err != nil {
		return err.Error()
	}
	return formatLongDouble(sum)
}
