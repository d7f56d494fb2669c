package resp

import (
	"math/big"
	"strings"
)

// INCRBYFLOAT computes in C's long double, as Redis does: on x86-64 the
// 80-bit extended format, a 64-bit mantissa with exponents up to 16383. A Go
// float64 would answer differently (0.1 + 0 is "0.10000000000000001" in
// float64 with 17 decimals, "0.1" in Redis) and overflow at 1e308 where Redis
// goes on to 1e4932. A big.Float of 64 bits rounded to nearest-even computes
// each step as the x87 unit does, and formats as glibc's "%.17Lf" does.

// longDoublePrec is the mantissa of x86's extended precision.
const longDoublePrec = 64

// Exponent bounds of the extended format, in big.Float's convention
// (x = mant × 2^exp, 0.5 <= |mant| < 1): the largest finite value is just
// below 2^16384, and values below the smallest subnormal, 2^-16445, round to
// zero.
const (
	longDoubleMaxExp = 16384
	longDoubleMinExp = -16444
)

// maxLongDoubleChars is Redis's MAX_LONG_DOUBLE_CHARS: longer text is not a
// number to it.
const maxLongDoubleChars = 5 * 1024

const (
	msgNotFloat      = "ERR value is not a valid float"
	msgNaNOrInfinity = "ERR increment would produce NaN or Infinity"
)

var (
	errNotFloat      error = commandError(msgNotFloat)
	errNaNOrInfinity error = commandError(msgNaNOrInfinity)
)

// parseLongDouble reads text as Redis's string2ld does: what strtold reads,
// all of it, no leading space, no NaN, nothing that overflows or underflows
// to zero. Infinity is a number here; adding it fails later.
func parseLongDouble(s string) (*big.Float, bool) {
	if len(s) == 0 || len(s) >= maxLongDoubleChars {
		return nil, false
	}
	// strtold reads a C string: it stops at a NUL byte.
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return nil, false
	}
	body := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	if len(body) != len(s) && len(s)-len(body) > 1 {
		return nil, false
	}
	if strings.EqualFold(body, "inf") || strings.EqualFold(body, "infinity") {
		return new(big.Float).SetInf(s[0] == '-'), true
	}
	if !strtoldNumber(body) {
		return nil, false
	}
	f, _, err := big.ParseFloat(s, 0, longDoublePrec, big.ToNearestEven)
	if err != nil {
		return nil, false
	}
	return f, inLongDoubleRange(f)
}

// strtoldNumber reports whether s, without its sign, is a whole number as
// strtold reads one: decimal digits with an optional point and "e"
// exponent, or "0x" hexadecimal digits with an optional point and "p"
// exponent; at least one mantissa digit.
func strtoldNumber(s string) bool {
	digit, exp := isDigit, byte('e')
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		s, digit, exp = s[2:], isHex, 'p'
	}
	i, mantissa := 0, 0
	for ; i < len(s) && digit(s[i]); i++ {
		mantissa++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && digit(s[i]); i++ {
			mantissa++
		}
	}
	if mantissa == 0 {
		return false
	}
	if i == len(s) {
		return true
	}
	if s[i]|0x20 != exp {
		return false
	}
	i++
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	start := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i > start && i == len(s)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// inLongDoubleRange reports whether a finite f is neither too large for the
// extended format nor so small it would round to zero.
func inLongDoubleRange(f *big.Float) bool {
	if f.IsInf() || f.Sign() == 0 {
		return true
	}
	exp := f.MantExp(nil)
	return exp <= longDoubleMaxExp && exp >= longDoubleMinExp
}

// addLongDouble adds as the x87 unit does, failing where Redis answers that
// the result would be NaN or infinite.
func addLongDouble(a, b *big.Float) (*big.Float, error) {
	if a.IsInf() || b.IsInf() {
		return nil, errNaNOrInfinity
	}
	sum := new(big.Float).SetPrec(longDoublePrec).SetMode(big.ToNearestEven).Add(a, b)
	if sum.Sign() != 0 && sum.MantExp(nil) > longDoubleMaxExp {
		return nil, errNaNOrInfinity
	}
	return sum, nil
}

// formatLongDouble writes f as Redis's ld2string in LD_STR_HUMAN mode does:
// "%.17Lf", then trailing zeros and a trailing point removed, and "-0" as "0".
// The longest result, near 1.19e4932, has under 5,000 characters.
func formatLongDouble(f *big.Float) string {
	s := f.Text('f', 17)
	s = strings.TrimRight(s, "0")
	s = strings.TrimSuffix(s, ".")
	if s == "-0" {
		return "0"
	}
	return s
}
