//go:build !linux

package server

import "errors"

// Elsewhere the limit is left to the runtime: on macOS Go raises it itself,
// within kern.maxfilesperproc, and Windows has no such limit on sockets.
func getNofile() (soft, hard uint64, err error) { return 0, 0, errors.ErrUnsupported }
