//go:build !darwin

package evnet

import "golang.org/x/sys/unix"

// newSocket opens a non-blocking, close-on-exec stream socket.
func newSocket(family int) (int, error) {
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, sysErr("socket", "socket", err)
	}
	return fd, nil
}
