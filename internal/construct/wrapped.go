package construct

import (
	"os"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
)

// Wrapped is New for backends whose instances gain interfaces only on
// some kernels: newP builds the instance, and wrap, called only when newP
// succeeded, returns it as the poller.Poller to hand out (for example
// inside a type that adds poller.Introspector when the kernel object can
// list its registrations).
func Wrapped[P any](newP func(*poller.Context) (P, error), wrap func(P) poller.Poller) func(*poller.Context) (poller.Poller, error) {
	return func(ctx *poller.Context) (poller.Poller, error) {
		p, err := newP(ctx)
		if err != nil {
			return nil, err
		}
		return wrap(p), nil
	}
}

// Closer is a kernel object that can be closed.
type Closer interface{ Close() error }

// OpenClose is a Backend.Test that creates one kernel object with open
// and closes it again: the backend is usable if the kernel gives it one.
// A failure to create is wrapped as the system call syscall.
func OpenClose[C Closer](syscall string, open func() (C, error)) func(*fdtable.Table) error {
	return func(*fdtable.Table) error {
		c, err := open()
		if err != nil {
			return os.NewSyscallError(syscall, err)
		}
		return c.Close()
	}
}
