//go:build linux || freebsd || netbsd || openbsd || dragonfly || illumos || solaris

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

// accept takes one connection, non-blocking and close-on-exec.
func accept(fd int) (int, unix.Sockaddr, error) {
	return unix.Accept4(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
}
