//go:build !linux || noepoll

package resp

import (
	"errors"
	"net"
)

// Elsewhere than Linux, and on Linux when built with -tags noepoll, every
// connection gets a goroutine (serveGoroutine). The tag exists so that
// bench/resp.sh can measure what the event loops are worth against the same
// code without them.
const epollSupported = false

type eventLoop struct{}

func newEventLoop(*Server) (*eventLoop, error) {
	return nil, errors.New("resp: no epoll on this platform")
}

func (*eventLoop) attach(*conn, net.Conn) bool { return false }
func (*eventLoop) wake()                       {}
func (*eventLoop) closeAll()                   {}
func (*eventLoop) terminate(bool)              {}
func (*eventLoop) post(*conn, postKind)        {}

type postKind uint8

const (
	postClose postKind = iota
	postMonitor
)
