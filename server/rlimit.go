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

// logFileLimit logs the open-file limit the server runs with, as a warning
// when it is too low for the connections warmkv is built to hold, so that an
// operator sees it in the startup log before clients see refused connections.
//
// There is nothing to raise: since Go 1.19 the runtime raises the soft
// RLIMIT_NOFILE to the hard limit (minus one) as it initialises
// (go.dev/issue/46279), so the soft limit the process was started with (1024
// in a Docker container) is gone by now. Only the hard limit counts, and only
// whoever starts the process can raise it.
func logFileLimit(logger *slog.Logger) {
	l := readFileLimit()
	logger.Log(context.Background(), l.LogLevel(), "open file limit", "nofile", l)
}

// fileLimit is the process's RLIMIT_NOFILE.
type fileLimit struct {
	Soft, Hard uint64
	Err        error // why it could not be read
}

// readFileLimit reads the process's open-file limit.
func readFileLimit() fileLimit {
	soft, hard, err := getNofile()
	return fileLimit{Soft: soft, Hard: hard, Err: err}
}

// LogLevel is Warn when the limit could not be read or is too low. Where the
// limit is not read (not Linux) there is nothing to act on: Debug.
func (l fileLimit) LogLevel() slog.Level {
	switch {
	case errors.Is(l.Err, errors.ErrUnsupported):
		return slog.LevelDebug
	case l.Err != nil || l.Soft < comfortableOpenFiles:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// LogValue makes a fileLimit one group in a log record.
func (l fileLimit) LogValue() slog.Value {
	if l.Err != nil {
		return slog.GroupValue(slog.String("err", l.Err.Error()))
	}
	attrs := []slog.Attr{slog.Uint64("soft", l.Soft), slog.Uint64("hard", l.Hard)}
	if l.Soft < comfortableOpenFiles {
		attrs = append(attrs, slog.String("hint", "each connection takes one; raise the hard limit, e.g. docker run --ulimit nofile=65536:65536"))
	}
	return slog.GroupValue(attrs...)
}
