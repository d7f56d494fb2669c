package resp

// SAVE, BGSAVE and LASTSAVE, over the snapshots of the standalone server.

const msgSnapshotsOff = "ERR snapshots are off: set SNAPSHOT_PATH to enable them"

// cmdSave writes a snapshot and answers once it is on disk. Like Redis's
// SAVE, it holds up the other clients of its event loop meanwhile; BGSAVE
// does not.
func cmdSave(c *conn, _ [][]byte) {
	if c.srv.snaps == nil {
		c.out.err(msgSnapshotsOff)
		return
	}
	if err := c.srv.snaps.Snapshot(); err != nil {
		c.out.err("ERR snapshot failed: " + err.Error())
		return
	}
	c.out.ok()
}

// cmdBgsave starts a snapshot in the background. With one already being
// written it refuses, as Redis does, unless SCHEDULE asks for another after it.
func cmdBgsave(c *conn, args [][]byte) {
	if len(args) > 2 || len(args) == 2 && !equalFold(args[1], "schedule") {
		c.out.err(msgSyntax)
		return
	}
	if c.srv.snaps == nil {
		c.out.err(msgSnapshotsOff)
		return
	}
	running := c.srv.snaps.InProgress()
	if running && len(args) == 1 {
		c.out.err("ERR Background save already in progress")
		return
	}
	// The snapshotter logs failures; the client asks LASTSAVE whether it
	// succeeded, as with Redis.
	snaps := c.srv.snaps
	go func() { _ = snaps.Snapshot() }()
	if running {
		c.out.simple("Background saving scheduled")
	} else {
		c.out.simple("Background saving started")
	}
}

// cmdLastsave answers the Unix time of the last successful snapshot, 0 if none.
func cmdLastsave(c *conn, _ [][]byte) {
	var t int64
	if c.srv.snaps != nil {
		if last := c.srv.snaps.LastSave(); !last.IsZero() {
			t = last.Unix()
		}
	}
	c.out.int(t)
}
