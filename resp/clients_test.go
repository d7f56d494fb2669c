package resp

import (
	"strings"
	"testing"
)

// TestClientListAndKill: CLIENT LIST shows the other connections, their
// names and last commands; CLIENT KILL closes them, whichever driver or
// event loop serves them, and the caller only when asked.
func TestClientListAndKill(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ts := startServer(t, d)
		admin, a, b := ts.raw(t), ts.raw(t), ts.raw(t)
		a.do("CLIENT", "SETNAME", "worker-a")
		a.do("GET", "k")
		b.do("CLIENT", "SETNAME", "worker-b")
		aID := strings.Trim(a.do("CLIENT", "ID"), ":\r\n")

		list := admin.do("CLIENT", "LIST")
		for _, want := range []string{"id=" + aID + " ", "name=worker-a ", "name=worker-b ", "cmd=client|list "} {
			if !strings.Contains(list, want) {
				t.Errorf("CLIENT LIST lacks %q:\n%s", want, list)
			}
		}
		if n := strings.Count(list, "id="); n != 3 {
			t.Errorf("CLIENT LIST has %d lines, want 3:\n%s", n, list)
		}
		if got := admin.do("CLIENT", "LIST", "ID", aID); !strings.Contains(got, "name=worker-a ") || strings.Contains(got, "worker-b") {
			t.Errorf("CLIENT LIST ID %s = %q", aID, got)
		}

		if got := admin.do("CLIENT", "KILL", "ID", aID); got != ":1\r\n" {
			t.Errorf("CLIENT KILL ID: %q", got)
		}
		a.expectClosed()
		bAddr := clientField(t, b.do("CLIENT", "INFO"), "addr")
		if got := admin.do("CLIENT", "KILL", bAddr); got != "+OK\r\n" {
			t.Errorf("CLIENT KILL addr: %q", got)
		}
		b.expectClosed()

		// The new form skips the caller unless SKIPME no.
		if got := admin.do("CLIENT", "KILL", "TYPE", "normal"); got != ":0\r\n" {
			t.Errorf("CLIENT KILL TYPE normal, alone: %q", got)
		}
		if got := admin.do("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no"); got != ":1\r\n" {
			t.Errorf("CLIENT KILL SKIPME no: %q", got)
		}
		admin.expectClosed()
	})
}

// clientField reads one key=value field of a CLIENT INFO reply.
func clientField(t *testing.T, reply, name string) string {
	t.Helper()
	for _, f := range strings.Fields(reply) {
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			return v
		}
	}
	t.Fatalf("no %s in %q", name, reply)
	return ""
}
