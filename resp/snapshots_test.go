package resp

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fakeSnapshots records snapshots; block, when set, holds each one until
// closed.
type fakeSnapshots struct {
	mu      sync.Mutex
	taken   int
	last    time.Time
	running bool
	fail    error
	started chan struct{}
	block   chan struct{}
}

func (f *fakeSnapshots) Snapshot() error {
	f.mu.Lock()
	f.running = true
	block, started := f.block, f.started
	f.mu.Unlock()
	if started != nil {
		started <- struct{}{}
	}
	if block != nil {
		<-block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running = false
	if f.fail != nil {
		return f.fail
	}
	f.taken++
	f.last = time.Unix(1_700_000_123, 0)
	return nil
}

func (f *fakeSnapshots) LastSave() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func (f *fakeSnapshots) InProgress() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running
}

func TestSnapshotCommands(t *testing.T) {
	snaps := &fakeSnapshots{}
	ts := startServer(t, defaultDriver(), func(o *Options) { o.Snapshots = snaps })
	r := ts.raw(t)
	runScript(t, r, []step{
		{cmd("LASTSAVE"), ":0\r\n"},
		{cmd("SAVE"), "+OK\r\n"},
		{cmd("LASTSAVE"), ":1700000123\r\n"},
		{cmd("SAVE", "x"), "-ERR wrong number of arguments for 'save' command\r\n"},
		{cmd("BGSAVE", "x"), "-ERR syntax error\r\n"},
	})

	// BGSAVE answers at once; a second one meanwhile is refused unless
	// SCHEDULE asks for another after it.
	snaps.mu.Lock()
	snaps.started, snaps.block = make(chan struct{}, 2), make(chan struct{})
	snaps.mu.Unlock()
	runScript(t, r, []step{{cmd("BGSAVE"), "+Background saving started\r\n"}})
	<-snaps.started
	runScript(t, r, []step{
		{cmd("BGSAVE"), "-ERR Background save already in progress\r\n"},
		{cmd("BGSAVE", "SCHEDULE"), "+Background saving scheduled\r\n"},
		{cmd("PING"), "+PONG\r\n"}, // the connection is not held up
	})
	close(snaps.block)
	<-snaps.started
	for deadline := time.Now().Add(5 * time.Second); snaps.InProgress() || snapsTaken(snaps) < 3; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d snapshots taken, want 3", snapsTaken(snaps))
		}
	}

	snaps.mu.Lock()
	snaps.started, snaps.block, snaps.fail = nil, nil, errors.New("disk full")
	snaps.mu.Unlock()
	runScript(t, r, []step{{cmd("SAVE"), "-ERR snapshot failed: disk full\r\n"}})
}

func snapsTaken(f *fakeSnapshots) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.taken
}

func TestSnapshotCommandsWhenOff(t *testing.T) {
	ts := startServer(t, defaultDriver())
	r := ts.raw(t)
	const off = "-ERR snapshots are off: set SNAPSHOT_PATH to enable them\r\n"
	runScript(t, r, []step{
		{cmd("SAVE"), off},
		{cmd("BGSAVE"), off},
		{cmd("LASTSAVE"), ":" + strconv.Itoa(0) + "\r\n"},
	})
}
