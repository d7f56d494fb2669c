package resp

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

var testLimits = limits{maxArgs: 100, maxCommand: 1 << 16, maxInline: inlineMaxBytes}

func argStrings(args [][]byte) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = string(a)
	}
	return out
}

func TestParseCommandComplete(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
		n    int // bytes consumed; 0 means all of in
	}{
		{"multibulk", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", []string{"GET", "k"}, 0},
		{"empty bulk", "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", []string{"ECHO", ""}, 0},
		{"binary bulk", "*2\r\n$4\r\nECHO\r\n$4\r\n\r\n\x00\xff\r\n", []string{"ECHO", "\r\n\x00\xff"}, 0},
		{"first of a pipeline", "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n", []string{"PING"}, 14},
		{"empty multibulk is skipped", "*0\r\n", []string{}, 0},
		{"negative multibulk is skipped", "*-1\r\n", []string{}, 0},
		{"inline", "PING\r\n", []string{"PING"}, 0},
		{"inline LF only", "PING\n", []string{"PING"}, 0},
		{"inline words", "SET  name\tvimla \r\n", []string{"SET", "name", "vimla"}, 0},
		{"inline double quotes", `SET name "vimla"` + "\r\n", []string{"SET", "name", "vimla"}, 0},
		{"inline quoted spaces", `SET "a key" "a value"` + "\n", []string{"SET", "a key", "a value"}, 0},
		{"inline escapes", `ECHO "a\nb\tc\\d\"e\x41\x7a"` + "\n", []string{"ECHO", "a\nb\tc\\d\"eAz"}, 0},
		{"inline bad hex is literal", `ECHO "\xZZ"` + "\n", []string{"ECHO", "xZZ"}, 0},
		{"inline single quotes", `ECHO 'it\'s "raw" \n'` + "\n", []string{"ECHO", `it's "raw" \n`}, 0},
		{"inline empty quotes", `ECHO "" ''` + "\n", []string{"ECHO", "", ""}, 0},
		{"inline quote inside a word", `ECHO ab"c d"` + "\n", []string{"ECHO", "abc d"}, 0},
		{"inline UTF-8", "SET name \"Vimlä ✓\"\n", []string{"SET", "name", "Vimlä ✓"}, 0},
		{"blank line is skipped", "   \r\n", []string{}, 0},
		{"empty line is skipped", "\r\n", []string{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args, n, _, err := parseCommand([]byte(tc.in), nil, &testLimits, true)
			if err != nil {
				t.Fatalf("error %v", err)
			}
			want := tc.n
			if want == 0 {
				want = len(tc.in)
			}
			if n != want {
				t.Errorf("consumed %d bytes, want %d", n, want)
			}
			if got := argStrings(args); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("args = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestParseCommandIncomplete cuts valid commands short at every byte: the
// parser must ask for more, and never for fewer bytes than it has.
func TestParseCommandIncomplete(t *testing.T) {
	for _, full := range []string{
		"*3\r\n$3\r\nSET\r\n$4\r\nname\r\n$5\r\nvimla\r\n",
		"*1\r\n$4\r\nPING\r\n",
		"SET name \"vimla\"\r\n",
		"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n",
	} {
		for cut := 0; cut < len(full); cut++ {
			args, n, need, err := parseCommand([]byte(full[:cut]), nil, &testLimits, true)
			if err != nil || n != 0 || len(args) != 0 {
				t.Fatalf("%q cut at %d: args %q, n %d, err %v; want incomplete", full, cut, argStrings(args), n, err)
			}
			if need <= cut || need > len(full) {
				t.Fatalf("%q cut at %d: need %d, want in (%d, %d]", full, cut, need, cut, len(full))
			}
		}
	}
}

// TestParseCommandNeedsDeclaredBulk checks that a declared bulk length is
// reported at once, so the reader waits without re-parsing at every read.
func TestParseCommandNeedsDeclaredBulk(t *testing.T) {
	in := "*2\r\n$4\r\nECHO\r\n$1000\r\nabc"
	_, n, need, err := parseCommand([]byte(in), nil, &testLimits, true)
	if err != nil || n != 0 {
		t.Fatalf("n %d err %v", n, err)
	}
	if want := len("*2\r\n$4\r\nECHO\r\n$1000\r\n") + 1000 + 2; need != want {
		t.Errorf("need = %d, want %d", need, want)
	}
}

func TestParseCommandErrors(t *testing.T) {
	small := limits{maxArgs: 3, maxCommand: 64, maxInline: 16}
	tests := []struct {
		name   string
		in     string
		lim    limits
		authed bool
		want   string
	}{
		{"count not a number", "*x\r\n", testLimits, true, "Protocol error: invalid multibulk length"},
		{"count leading zero", "*01\r\n", testLimits, true, "Protocol error: invalid multibulk length"},
		{"count without CR", "*1\n", testLimits, true, "Protocol error: invalid multibulk length"},
		{"count line endless", "*" + strings.Repeat("1", 40), testLimits, true, "Protocol error: too big mbulk count string"},
		{"too many arguments", "*4\r\n", small, true, "Protocol error: invalid multibulk length"},
		{"count overflows", "*99999999999999999999\r\n", testLimits, true, "Protocol error: invalid multibulk length"},
		{"not a bulk", "*1\r\n:1\r\n", testLimits, true, "Protocol error: expected '$', got ':'"},
		{"bulk length not a number", "*1\r\n$x\r\n", testLimits, true, "Protocol error: invalid bulk length"},
		{"bulk length negative", "*1\r\n$-1\r\n", testLimits, true, "Protocol error: invalid bulk length"},
		{"bulk line endless", "*1\r\n$" + strings.Repeat("9", 40), testLimits, true, "Protocol error: too big bulk count string"},
		{"bulk longer than a command", "*1\r\n$65\r\n", small, true, "Protocol error: invalid bulk length"},
		{"command too large", "*2\r\n$4\r\nECHO\r\n$50\r\n", small, true, "Protocol error: command larger than 64 bytes"},
		{"bulk not terminated", "*1\r\n$4\r\nPINGxx", testLimits, true, "Protocol error: expected CRLF after a bulk string"},
		{"unauthenticated: 11 arguments", "*11\r\n", testLimits, false, "Protocol error: unauthenticated multibulk length"},
		{"unauthenticated: large bulk", "*1\r\n$16385\r\n", limits{maxArgs: 10, maxCommand: 1 << 20, maxInline: 100}, false, "Protocol error: unauthenticated bulk length"},
		{"inline unbalanced", "ECHO \"abc\r\n", testLimits, true, "Protocol error: unbalanced quotes in request"},
		{"inline unbalanced single", "ECHO 'abc\r\n", testLimits, true, "Protocol error: unbalanced quotes in request"},
		{"inline text after a quote", "ECHO \"abc\"def\r\n", testLimits, true, "Protocol error: unbalanced quotes in request"},
		{"inline escaped last quote", "ECHO \"abc\\\"\r\n", testLimits, true, "Protocol error: unbalanced quotes in request"},
		{"inline too long", strings.Repeat("a", 17), small, true, "Protocol error: too big inline request"},
		{"inline control character", "PI\x00NG\r\n", testLimits, true, "Protocol error: inline request contains control characters or invalid UTF-8"},
		{"inline CR inside", "PI\rNG\r\n", testLimits, true, "Protocol error: inline request contains control characters or invalid UTF-8"},
		{"inline invalid UTF-8", "PI\xffNG\r\n", testLimits, true, "Protocol error: inline request contains control characters or invalid UTF-8"},
		{"inline too many words", "a b c d\r\n", small, true, "Protocol error: invalid multibulk length"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := parseCommand([]byte(tc.in), nil, &tc.lim, tc.authed)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			var pe protocolError
			if !errors.As(err, &pe) {
				t.Errorf("error %T is not a protocolError", err)
			}
			if err.Error() != tc.want {
				t.Errorf("error %q, want %q", err, tc.want)
			}
		})
	}
}

func TestParseCommandUnauthenticatedLimitsAreRedis(t *testing.T) {
	// Ten arguments of 16384 bytes pass before AUTH, as in Redis 7.
	lim := limits{maxArgs: 100, maxCommand: 1 << 20, maxInline: inlineMaxBytes}
	args := make([]string, 10)
	for i := range args {
		args[i] = strings.Repeat("a", unauthenticatedMaxBulk)
	}
	in := encode(args...)
	got, n, _, err := parseCommand([]byte(in), nil, &lim, false)
	if err != nil || n != len(in) || len(got) != 10 {
		t.Fatalf("n %d of %d, %d args, err %v", n, len(in), len(got), err)
	}
}

func TestParseInt(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"7", 7, true},
		{"-7", -7, true},
		{"1234567890", 1234567890, true},
		{"9223372036854775807", math.MaxInt64, true},
		{"-9223372036854775808", math.MinInt64, true},
		{"9223372036854775808", 0, false},
		{"-9223372036854775809", 0, false},
		{"99999999999999999999", 0, false},
		{"", 0, false},
		{"-", 0, false},
		{"-0", 0, false},
		{"01", 0, false},
		{"+1", 0, false},
		{" 1", 0, false},
		{"1 ", 0, false},
		{"1.0", 0, false},
		{"1e3", 0, false},
		{"０", 0, false},
	}
	for _, tc := range tests {
		got, ok := parseInt([]byte(tc.in))
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseInt(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestParseArgsAreSlicesOfTheBuffer checks the zero-copy promise: multibulk
// arguments point into the buffer, and cannot grow into the next argument.
func TestParseArgsAreSlicesOfTheBuffer(t *testing.T) {
	buf := []byte("*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n")
	args, _, _, err := parseCommand(buf, nil, &testLimits, true)
	if err != nil {
		t.Fatal(err)
	}
	buf[len(buf)-4] = 'H'
	if string(args[1]) != "Hi" {
		t.Errorf("argument is a copy: %q", args[1])
	}
	if cap(args[0]) != len(args[0]) {
		t.Errorf("argument capacity %d reaches past its %d bytes", cap(args[0]), len(args[0]))
	}
}
