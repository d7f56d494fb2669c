package config

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// sizeUnits maps a lower-cased unit to its multiplier. KB, MB, ... are powers
// of 10 as in SI; only the explicit KiB, MiB, ... forms are powers of 2, so a
// value never means something other than what it says.
var sizeUnits = map[string]int64{
	"":    1,
	"b":   1,
	"kb":  1e3,
	"mb":  1e6,
	"gb":  1e9,
	"tb":  1e12,
	"kib": 1 << 10,
	"mib": 1 << 20,
	"gib": 1 << 30,
	"tib": 1 << 40,
}

// ParseSize parses a byte count: plain bytes ("1073741824") or a whole or
// decimal number with a unit ("512MiB", "1.5 GB"). Units are B, KB, MB, GB,
// TB (powers of 10) and KiB, MiB, GiB, TiB (powers of 2), in any letter case.
// A fractional result is rounded down to whole bytes; it must stay above zero.
func ParseSize(s string) (int64, error) {
	n, reason := parseSize(s)
	if reason != "" {
		return 0, fmt.Errorf("size %q: %s", s, reason)
	}
	return n, nil
}

// parseSize returns the size or, instead of an error, the reason it is not
// one, so Load can put that reason into its own NAME="value" message.
func parseSize(s string) (n int64, reason string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, "empty"
	}
	if s[0] == '-' {
		return 0, "must not be negative"
	}
	end := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if end < 0 {
		end = len(s)
	}
	number, unit := s[:end], strings.TrimSpace(s[end:])
	if !isDecimal(number) {
		return 0, "not a number"
	}
	multiplier, ok := sizeUnits[strings.ToLower(unit)]
	if !ok {
		return 0, fmt.Sprintf("unknown unit %q, want B, KB, MB, GB, TB, KiB, MiB, GiB or TiB", unit)
	}
	if multiplier == 1 && strings.Contains(number, ".") {
		return 0, "a fraction of a byte; use a larger unit such as 1.5KiB"
	}
	// Exact rational arithmetic: no float rounding and no silent overflow,
	// however many digits the number has.
	value, _ := new(big.Rat).SetString(number) // isDecimal guarantees the syntax
	value.Mul(value, new(big.Rat).SetInt64(multiplier))
	bytes := new(big.Int).Quo(value.Num(), value.Denom())
	switch {
	case !bytes.IsInt64():
		return 0, "too large"
	case bytes.Sign() == 0:
		return 0, "must be more than 0 bytes"
	}
	return bytes.Int64(), ""
}

// isDecimal reports whether s is digits, optionally followed by a dot and more
// digits: "512" or "1.5", but not "", ".5", "1." or "1.2.3".
func isDecimal(s string) bool {
	whole, fraction, hasDot := strings.Cut(s, ".")
	return allDigits(whole) && (!hasDot || allDigits(fraction))
}

// allDigits reports whether s is one or more ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// errNoGoMemLimit says GOMEMLIMIT is "off" (or the runtime's "no limit" value).
var errNoGoMemLimit = errors.New("no limit")

// parseGoMemLimit parses GOMEMLIMIT the way the Go runtime does: a whole
// number of bytes with an optional B, KiB, MiB, GiB or TiB suffix (case
// sensitive, no decimal units), or "off".
func parseGoMemLimit(s string) (int64, error) {
	if s == "off" {
		return 0, errNoGoMemLimit
	}
	digits, multiplier := s, int64(1)
	if withoutB, ok := strings.CutSuffix(s, "B"); ok {
		digits = withoutB
		if prefix, ok := strings.CutSuffix(withoutB, "i"); ok && prefix != "" {
			binaryPrefixes := map[byte]int64{'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40}
			if multiplier, ok = binaryPrefixes[prefix[len(prefix)-1]]; !ok {
				return 0, errors.New("not a byte count")
			}
			digits = prefix[:len(prefix)-1]
		}
	}
	if !allDigits(digits) {
		return 0, errors.New("not a byte count")
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	switch {
	case err != nil || n > math.MaxInt64/multiplier:
		return 0, errors.New("too large")
	case n*multiplier == math.MaxInt64:
		// The runtime's own default, the same as GOMEMLIMIT=off.
		return 0, errNoGoMemLimit
	case n == 0:
		return 0, errors.New("a limit of 0 bytes leaves nothing for the cache")
	}
	return n * multiplier, nil
}

// formatBytes renders n for messages: exact in the largest binary unit that
// divides it ("512MiB"), else rounded to one decimal ("1.4GiB") with the
// exact count alongside.
func formatBytes(n int64) string {
	units := []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}
	for _, u := range units {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d%s", n/u.size, u.name)
		}
	}
	for _, u := range units {
		if n >= u.size {
			return fmt.Sprintf("%.1f%s (%d bytes)", float64(n)/float64(u.size), u.name, n)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}
