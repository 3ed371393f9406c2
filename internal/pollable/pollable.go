//go:build unix

// Package pollable tells the backends other than epoll (poll, select,
// kqueue, evports) whether an fd is of a kind epoll refuses to watch, so
// that every backend reports the same per-fd error for it. poll(2),
// select(2), kqueue and event ports accept regular files and directories
// and report them always ready; epoll_ctl fails with EPERM. evpoll's
// contract is one behaviour on every backend, so the others refuse them
// too, with the same errno.
package pollable

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Checker remembers, per fd number, the last generation found pollable, so
// that an fd costs one fstat per generation, not one per registration.
// It belongs to one polling goroutine.
type Checker struct {
	gens []uint32
}

// Check returns nil if fd, of generation gen, can be polled; otherwise an
// error naming the backend and the fd that wraps unix.EPERM, as epoll's.
// An fd fstat cannot inspect is left for the kernel wait to judge.
func (c *Checker) Check(backend string, fd int, gen uint32) error {
	if fd < len(c.gens) && c.gens[fd] == gen && gen != 0 {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err == nil {
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG, unix.S_IFDIR:
			return fmt.Errorf("%s: register fd %d: regular files and directories cannot be polled: %w", backend, fd, unix.EPERM)
		}
	}
	if fd >= len(c.gens) {
		g := make([]uint32, max(2*len(c.gens), fd+1, 64))
		copy(g, c.gens)
		c.gens = g
	}
	c.gens[fd] = gen
	return nil
}

// Reset forgets everything.
func (c *Checker) Reset() { c.gens = nil }
