package keyspace

import "testing"

// The expected strings are what bench/preload, bench/flood and
// bench/sharedload produced before they shared this package: a server
// preloaded by an older build must still read back the same values.
func TestGenerators(t *testing.T) {
	for _, tc := range []struct {
		name, got, want string
	}{
		{"Key(5, 20)", Key(5, 20), "k0000000000000000005"},
		{"Key(1, 20)", Key(1, 20), "k0000000000000000001"},
		{"AppendValue(1, 30)", string(AppendValue(nil, 1, 30)), "BzlAJyeLKEnxujlFajr7eVlM77uoTi"},
		{"AppendValue(0, 24)", string(AppendValue(nil, 0, 24)), "v2cH7lDqgI0XWuhqmn45PVUC"},
		{"AppendValue(99999, 24)", string(AppendValue(nil, 99999, 24)), "mMX_XAkE4CbTNFOLxxU1fLEy"},
		{"AppendRandom appends", string(AppendRandom([]byte("x:"), 0, 3)), "x:v2c"},
		{"AppendRandom(0, 0)", string(AppendRandom(nil, 0, 0)), ""},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}
