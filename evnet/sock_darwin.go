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
	// No SIGPIPE on writes to a closed peer.
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NOSIGPIPE, 1)
	return fd, nil
}

// accept takes one connection, non-blocking and close-on-exec (Darwin
// has no accept4).
func accept(fd int) (int, unix.Sockaddr, error) {
	cfd, sa, err := unix.Accept(fd)
	if err != nil {
		return -1, nil, err
	}
	unix.CloseOnExec(cfd)
	if err := unix.SetNonblock(cfd, true); err != nil {
		unix.Close(cfd)
		return -1, nil, err
	}
	unix.SetsockoptInt(cfd, unix.SOL_SOCKET, unix.SO_NOSIGPIPE, 1)
	return cfd, sa, nil
}
