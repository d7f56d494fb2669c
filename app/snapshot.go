package app

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/warmkv/warmkv/cache"
	"github.com/warmkv/warmkv/config"
	"github.com/warmkv/warmkv/snapshot"
)

// snapshots builds the Saver for SNAPSHOT_PATH and the function POST /snapshot
// calls, or nils when snapshots are off. Only the standalone server takes them:
// Lambda and Vercel instances have no disk that outlives them, and no shutdown
// to write a last snapshot in.
func snapshots(cfg config.Config, store *cache.Cache, logger *slog.Logger) (*snapshot.Saver, func() (int, error)) {
	if cfg.SnapshotPath == "" {
		return nil, nil
	}
	if cfg.Deployment != config.Standalone {
		logger.Warn("SNAPSHOT_PATH is ignored: snapshots need the standalone server's persistent disk",
			"deployment", cfg.Deployment, "snapshot_path", cfg.SnapshotPath)
		return nil, nil
	}
	saver := snapshot.NewSaver(cfg.SnapshotPath, store, logger)
	return saver, func() (int, error) {
		info, err := saver.Save()
		return info.Keys, err
	}
}

// RestoreSnapshot fills the cache from the snapshot file; the standalone server
// calls it before it accepts traffic. It logs what it restored and how long
// that took. A file that is not a valid snapshot is moved aside and the server
// starts empty. The error is for what must stop the server: a snapshot
// directory it cannot write to, or a file it cannot read (starting empty would
// let the next snapshot replace it).
func (a *App) RestoreSnapshot() error {
	if a.Snapshots == nil {
		return nil
	}
	path := a.Snapshots.Path()
	if err := snapshot.CheckWritable(path); err != nil {
		a.Logger.Error("SNAPSHOT_PATH is not usable", "snapshot_path", path, "err", err)
		return err
	}
	info, err := a.Snapshots.Restore(time.Now())
	var corrupt *snapshot.CorruptError
	switch {
	case err == nil && !info.Found:
		a.Logger.Info("no snapshot to restore; starting empty", "snapshot_path", path)
	case err == nil:
		a.Logger.Info("snapshot restored", "snapshot_path", path, "keys", info.Keys,
			"expired_while_down", info.Expired, "dropped_over_budget", info.Dropped,
			"bytes", info.Bytes, "duration", info.Duration, "taken_at", info.TakenAt)
	case errors.As(err, &corrupt) && corrupt.MovedTo != "":
		a.Logger.Error("snapshot unusable; moved it aside and starting empty",
			"snapshot_path", path, "problem", corrupt.Problem, "moved_to", corrupt.MovedTo)
	default:
		a.Logger.Error("cannot restore the snapshot; not starting, so that the next snapshot cannot replace it",
			"snapshot_path", path, "err", err)
		return err
	}
	return nil
}

// StartSnapshots writes a snapshot every SNAPSHOT_INTERVAL until ctx is done.
func (a *App) StartSnapshots(ctx context.Context) {
	if a.Snapshots != nil {
		go a.Snapshots.Run(ctx, a.Config.SnapshotInterval)
	}
}

// FinalSnapshot writes the last snapshot, once the doors have stopped taking
// writes. The Saver logs the outcome.
func (a *App) FinalSnapshot() error {
	if a.Snapshots == nil {
		return nil
	}
	_, err := a.Snapshots.Save()
	return err
}
