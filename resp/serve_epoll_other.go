//go:build !linux

package resp

import (
	"errors"
	"net"
)

// Elsewhere than Linux every connection gets a goroutine (serveGoroutine).
const epollSupported = false

type eventLoop struct{}

func newEventLoop(*Server) (*eventLoop, error) {
	return nil, errors.New("resp: no epoll on this platform")
}

func (*eventLoop) attach(*conn, net.Conn) bool { return false }
func (*eventLoop) wake()                       {}
func (*eventLoop) closeAll()                   {}
func (*eventLoop) terminate(bool)              {}
