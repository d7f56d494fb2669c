package resp

import "testing"

// TestReplyEncodings checks each reply type in both protocols, byte for byte
// as Redis writes them.
func TestReplyEncodings(t *testing.T) {
	tests := []struct {
		name         string
		write        func(r *reply)
		resp2, resp3 string
	}{
		{"ok", func(r *reply) { r.ok() }, "+OK\r\n", "+OK\r\n"},
		{"simple", func(r *reply) { r.simple("PONG") }, "+PONG\r\n", "+PONG\r\n"},
		{"error", func(r *reply) { r.err("ERR no") }, "-ERR no\r\n", "-ERR no\r\n"},
		{"error with line breaks", func(r *reply) { r.err("ERR a\r\nb\nc") }, "-ERR a  b c\r\n", "-ERR a  b c\r\n"},
		{"int", func(r *reply) { r.int(-42) }, ":-42\r\n", ":-42\r\n"},
		{"bulk", func(r *reply) { r.bulk("héllo") }, "$6\r\nhéllo\r\n", "$6\r\nhéllo\r\n"},
		{"empty bulk", func(r *reply) { r.bulkBytes(nil) }, "$0\r\n\r\n", "$0\r\n\r\n"},
		{"null", func(r *reply) { r.null() }, "$-1\r\n", "_\r\n"},
		{"array", func(r *reply) { r.bulks([]string{"a", "b"}) }, "*2\r\n$1\r\na\r\n$1\r\nb\r\n", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"},
		{"set", func(r *reply) { r.simpleSet([]string{"fast"}) }, "*1\r\n+fast\r\n", "~1\r\n+fast\r\n"},
		{"map", func(r *reply) { r.mapOf(1); r.bulk("k"); r.int(1) }, "*2\r\n$1\r\nk\r\n:1\r\n", "%1\r\n$1\r\nk\r\n:1\r\n"},
		{"verbatim", func(r *reply) { r.verbatim("a:1\r\n") }, "$5\r\na:1\r\n\r\n", "=9\r\ntxt:a:1\r\n\r\n"},
	}
	for _, tc := range tests {
		for _, resp3 := range []bool{false, true} {
			r := reply{resp3: resp3}
			tc.write(&r)
			want := tc.resp2
			if resp3 {
				want = tc.resp3
			}
			if string(r.b) != want {
				t.Errorf("%s (resp3=%v): %q, want %q", tc.name, resp3, r.b, want)
			}
		}
	}
}
