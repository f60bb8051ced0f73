//go:build unix

package sink

import (
	"net"
	"syscall"
)

// peekPeer looks at a stream socket without reading from it or waiting:
// MSG_PEEK on Go's non-blocking socket. (A read with an expired deadline
// cannot do this: Go fails it before it reaches the socket.)
func peekPeer(c net.Conn) peerState {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return peerUnknown
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return peerClosed
	}
	var (
		n    int
		rerr error
	)
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, rerr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
		return true // one look, never wait
	})
	switch {
	case err != nil:
		return peerClosed
	case rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK || rerr == syscall.EINTR:
		return peerQuiet
	case rerr != nil:
		return peerClosed // ECONNRESET and the like
	case n == 0:
		return peerClosed // EOF: the collector hung up
	}
	return peerSent
}
