package server

import (
	"context"
	"errors"
	"log/slog"
)

// comfortableOpenFiles is the open-file limit below which startup warns: every
// client connection is a file descriptor, and warmkv is meant to hold 10,000
// idle keep-alive connections next to its active clients, its listeners and
// its snapshot file.
const comfortableOpenFiles = 10_240

// logFileLimit raises the open-file limit and logs it, as a warning when it is
// too low for the connections warmkv is built to hold.
func logFileLimit(logger *slog.Logger) {
	fds := raiseFileLimit()
	logger.Log(context.Background(), fds.LogLevel(), "open file limit", "nofile", fds)
}

// fileLimit is what raiseFileLimit found and left: the soft RLIMIT_NOFILE
// before and after, and the hard limit it may not exceed.
type fileLimit struct {
	Before, After, Hard uint64
	Err                 error // why the limit could not be read or raised
}

// raiseFileLimit raises the soft limit on open files to the hard limit. The
// soft limit is the one that fails accept() with EMFILE, and it is often far
// below the hard one (1024 against 524288 in a Docker container), while only
// the hard limit needs privileges to raise; so the process may and should take
// all of it.
//
// Since Go 1.19 the runtime already raises the soft limit to the hard limit
// minus one while it initialises (go.dev/issue/46279), so Before is usually
// that raised value, not the one the process was started with. Doing it here
// anyway does not rely on that, and the result gives the startup log the
// number of connections the server can really hold.
func raiseFileLimit() fileLimit {
	return raiseFileLimitWith(getNofile, setNofile)
}

// raiseFileLimitWith is raiseFileLimit with the system calls passed in, so the
// failure paths can be tested.
func raiseFileLimitWith(get func() (soft, hard uint64, err error), set func(soft, hard uint64) error) fileLimit {
	soft, hard, err := get()
	if err != nil {
		return fileLimit{Err: err}
	}
	fl := fileLimit{Before: soft, After: soft, Hard: hard}
	if soft >= hard {
		return fl
	}
	if err := set(hard, hard); err != nil {
		fl.Err = err
		return fl
	}
	// Read it back: a kernel may clamp the value rather than fail.
	if soft, _, err = get(); err != nil {
		fl.Err = err
		return fl
	}
	fl.After = soft
	return fl
}

// LogLevel is Warn when the limit could not be raised or is too low for the
// connection counts warmkv is built for, so an operator sees it in the startup
// log before clients see refused connections. Where the limit is not managed
// (not Linux) there is nothing to act on: Debug.
func (l fileLimit) LogLevel() slog.Level {
	switch {
	case errors.Is(l.Err, errors.ErrUnsupported):
		return slog.LevelDebug
	case l.Err != nil || l.After < comfortableOpenFiles:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// LogValue makes a fileLimit one group in a log record.
func (l fileLimit) LogValue() slog.Value {
	if l.Err != nil && l.Hard == 0 {
		return slog.GroupValue(slog.String("err", l.Err.Error()))
	}
	attrs := []slog.Attr{
		slog.Uint64("soft_before", l.Before),
		slog.Uint64("soft", l.After),
		slog.Uint64("hard", l.Hard),
	}
	if l.Err != nil {
		attrs = append(attrs, slog.String("err", l.Err.Error()))
	}
	if l.After < comfortableOpenFiles {
		attrs = append(attrs, slog.String("hint", "each connection takes one; raise the hard limit, e.g. docker run --ulimit nofile=65536:65536"))
	}
	return slog.GroupValue(attrs...)
}
