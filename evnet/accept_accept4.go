//go:build linux || freebsd || dragonfly || illumos

package evnet

import "golang.org/x/sys/unix"

// accept takes one connection, non-blocking and close-on-exec.
func accept(fd int) (int, unix.Sockaddr, error) {
	return unix.Accept4(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
}
