package config

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	valid := []struct {
		in   string
		want int64
	}{
		{"1", 1},
		{"1073741824", 1 << 30},
		{"100B", 100},
		{"100b", 100},
		{"1KB", 1000},
		{"1kb", 1000},
		{"1kB", 1000},
		{"2MB", 2_000_000},
		{"3GB", 3_000_000_000},
		{"1TB", 1_000_000_000_000},
		{"1KiB", 1 << 10},
		{"1kib", 1 << 10},
		{"1KIB", 1 << 10},
		{"512MiB", 512 << 20},
		{"2GiB", 2 << 30},
		{"1TiB", 1 << 40},
		{"1.5KiB", 1536},
		{"1.5GB", 1_500_000_000},
		{"0.5MiB", 512 << 10},
		{"1.1KiB", 1126}, // 1126.4 rounded down
		{"512 MiB", 512 << 20},
		{"  64MiB\n", 64 << 20},
		{"007KB", 7000},
		{"9223372036854775807", 1<<63 - 1},
		{"8388607TiB", 8388607 << 40},
	}
	for _, tc := range valid {
		got, err := ParseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}

	invalid := []struct {
		in, reason string
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"0", "more than 0"},
		{"0KiB", "more than 0"},
		{"0.0001KB", "more than 0"}, // 0.1 bytes
		{"-1", "negative"},
		{"-1MiB", "negative"},
		{"lots", "not a number"},
		{"MiB", "not a number"},
		{".5MiB", "not a number"},
		{"1.MiB", "not a number"},
		{"1.2.3MiB", "not a number"},
		{"1e6", "unknown unit"},
		{"1,000", "unknown unit"},
		{"512M", "unknown unit"}, // M alone is ambiguous (10^6 or 2^20)
		{"512Mi", "unknown unit"},
		{"512 MiB extra", "unknown unit"},
		{"1PB", "unknown unit"},
		{"0x10", "unknown unit"},
		{"1.5", "fraction of a byte"},
		{"1.5B", "fraction of a byte"},
		{"9223372036854775808", "too large"},
		{"8388608TiB", "too large"},
		{"99999999999999999999999999GB", "too large"},
	}
	for _, tc := range invalid {
		got, err := ParseSize(tc.in)
		if err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", tc.in, got)
			continue
		}
		if !strings.Contains(err.Error(), tc.reason) || !strings.Contains(err.Error(), "\""+tc.in+"\"") {
			t.Errorf("ParseSize(%q) error = %q, want it to quote the input and say %q", tc.in, err, tc.reason)
		}
	}
}

func TestParseGoMemLimit(t *testing.T) {
	valid := []struct {
		in   string
		want int64
	}{
		{"1073741824", 1 << 30},
		{"1024B", 1024},
		{"512KiB", 512 << 10},
		{"512MiB", 512 << 20},
		{"2GiB", 2 << 30},
		{"1TiB", 1 << 40},
	}
	for _, tc := range valid {
		got, err := parseGoMemLimit(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseGoMemLimit(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}

	for _, off := range []string{"off", "9223372036854775807"} {
		if _, err := parseGoMemLimit(off); !errors.Is(err, errNoGoMemLimit) {
			t.Errorf("parseGoMemLimit(%q) error = %v, want errNoGoMemLimit", off, err)
		}
	}

	// The runtime's syntax is stricter than ParseSize's: no decimal units,
	// no fractions, case-sensitive suffixes.
	for _, in := range []string{"", "0", "512MB", "512mib", "512Mi", "512M", "1.5GiB", "-1", "GiB", "iB", "B", " 1GiB", "Off", "99999999TiB"} {
		if got, err := parseGoMemLimit(in); err == nil || errors.Is(err, errNoGoMemLimit) {
			t.Errorf("parseGoMemLimit(%q) = %d, %v; want a parse error", in, got, err)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{512, "512 bytes"},
		{1 << 10, "1KiB"},
		{512 << 20, "512MiB"},
		{3 << 30, "3GiB"},
		{1536 << 20, "1536MiB"},
		{1<<30 + 1, "1.0GiB (1073741825 bytes)"},
	}
	for _, tc := range tests {
		if got := formatBytes(tc.in); got != tc.want {
			t.Errorf("formatBytes(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
