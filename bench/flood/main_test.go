package main

import "testing"

// The verification pass recomputes each entry from its index, so the
// generators must not drift: these are the entries the flood wrote before it
// used internal/keyspace.
func TestEntries(t *testing.T) {
	for _, tc := range []struct {
		name, got, want string
	}{
		{"appendKey(7, 40)", string(appendKey(nil, 7, 40)), "00000000000000000007UMOnYj1ySaqGq6YQyx4S"},
		{"appendValue(7, 24)", string(appendValue(nil, 7, 24)), "sHlrVkuyU1cD2jCCC9wg2J8e"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}
