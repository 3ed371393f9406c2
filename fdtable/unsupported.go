//go:build !unix

package fdtable

// evpoll drives the polling mechanisms of unix systems (epoll, kqueue,
// event ports, poll, select) on raw file descriptors. Windows, Plan 9, js
// and WASI have none of them, so the build stops here with one line that
// says so, rather than with a screen of undefined x/sys/unix names.
var _ int = "evpoll needs a unix system: linux, darwin, freebsd, netbsd, openbsd, dragonfly, illumos or solaris"
