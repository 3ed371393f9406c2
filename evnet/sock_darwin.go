package evnet

import "golang.org/x/sys/unix"

// newSocket opens a non-blocking, close-on-exec stream socket. Darwin
// has no SOCK_NONBLOCK or SOCK_CLOEXEC, so both are set afterwards; a
// fork in between could leak the fd into the child.
func newSocket(family int) (int, error) {
	fd, err := unix.Socket(family, unix.SOCK_STREAM, 0)
	if err != nil {
		return -1, sysErr("socket", "socket", err)
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, sysErr("socket", "fcntl", err)
	}
	noSigpipe(fd)
	return fd, nil
}

// noSigpipe makes writes to a closed peer fail with EPIPE without
// raising SIGPIPE.
func noSigpipe(fd int) {
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NOSIGPIPE, 1)
}
