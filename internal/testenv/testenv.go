package testenv

import (
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	"golang.org/x/sys/unix"
)

// Env is one thread's fixture around a poller of type P.
type Env[P poller.Poller] struct {
	T   testing.TB
	Tab *fdtable.Table
	Th  *fdtable.Thread
	Ctx *poller.Context
	P   P
}

// New builds a table of size fds with thread 0, runs setup on its context
// and creates the poller with newP. The poller is terminated at cleanup.
func New[P poller.Poller](t testing.TB, size int, newP func(*poller.Context) (P, error), setup ...func(*poller.Context)) *Env[P] {
	t.Helper()
	tab := fdtable.New(size)
	th, err := tab.NewThread(0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := poller.NewContext(th)
	for _, f := range setup {
		f(ctx)
	}
	p, err := newP(ctx)
	if err != nil {
		t.Fatalf("creating the poller: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return &Env[P]{T: t, Tab: tab, Th: th, Ctx: ctx, P: p}
}

// Pair returns a non-blocking, close-on-exec AF_UNIX stream socket pair,
// closed at cleanup (and removed from the table if it is still there).
func (e *Env[P]) Pair() (a, b int) {
	e.T.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		e.T.Fatalf("socketpair: %v", err)
	}
	for _, fd := range fds {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			e.T.Fatalf("set non-blocking: %v", err)
		}
	}
	e.T.Cleanup(func() {
		for _, fd := range fds {
			if e.Tab.Info(fd).Open {
				e.Th.Remove(fd)
			}
			unix.Close(fd)
		}
	})
	return fds[0], fds[1]
}

// Insert puts fd in the table for thread 0 with iocb and no owner.
func (e *Env[P]) Insert(fd int, iocb func(fd int, owner any)) {
	e.T.Helper()
	if err := e.Th.Insert(fd, nil, iocb, e.Th.Bit()); err != nil {
		e.T.Fatalf("Insert(%d): %v", fd, err)
	}
}

// Poll runs one cycle and fails the test on error.
func (e *Env[P]) Poll(exp poller.Tick, wake bool) {
	e.T.Helper()
	if err := e.P.Poll(exp, wake); err != nil {
		e.T.Fatalf("Poll: %v", err)
	}
}

// Polled reports what thread 0's poller watches fd for, per the table.
func (e *Env[P]) Polled(fd int) (recv, send bool) {
	in := e.Tab.Info(fd)
	return in.PolledRecv&e.Th.Bit() != 0, in.PolledSend&e.Th.Bit() != 0
}
