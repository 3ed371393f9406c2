//go:build unix

package fdtable

import (
	"fmt"
	"math/bits"
	"os"

	"golang.org/x/sys/unix"
)

// Insert adds fd to the table (fd_insert): owner and iocb are stored, the
// conditions last reported ([Info].Ev) are cleared, the state becomes
// READY_R|READY_W ("ready until proven otherwise"), the generation is
// bumped and the fd is handed to the threads in threadMask. iocb is the
// fd's I/O callback (HAProxy: fdtab[].iocb): [Thread.Dispatch] calls it
// with fd and owner when an event arrives for a direction the fd is
// active in. Nothing is registered with any poller until a
// want operation. Polled masks are left as they are: they say which pollers
// still know the fd number from a previous life.
//
// Insert is safe from any goroutine. If iocbs of a previous generation of
// the same fd (inserted, then removed with [Thread.Remove]) are still
// running on other threads, Insert waits for them to return.
func (th *Thread) Insert(fd int, owner any, iocb func(fd int, owner any), threadMask uint64) error {
	t := th.t
	if uint(fd) >= uint(t.max) {
		return t.fdErr("insert", fd)
	}
	if threadMask == 0 {
		return fmt.Errorf("fdtable: insert fd %d: empty thread mask: %w", fd, ErrBadThread)
	}
	e := t.alloc(fd)
	if e.flags.Load() != 0 {
		return fmt.Errorf("fdtable: insert fd %d: %w", fd, ErrInUse)
	}
	e.lock()
	// Any flag means open, or closed but not yet released by the last
	// runner of a deferred Delete (the number is still open then).
	if e.flags.Load() != 0 {
		e.unlock()
		return fmt.Errorf("fdtable: insert fd %d: %w", fd, ErrInUse)
	}
	e.waitRunners(th.bit)
	e.owner = owner
	e.iocb = iocb
	e.ev.Store(0)
	e.thread.Store(threadMask)
	e.gen.Add(1)
	e.state.Store(uint32(readyRW))
	e.flags.Store(fOpen)
	e.unlock()
	return nil
}

// Delete closes fd after removing it from the table (fd_delete): the
// Closing methods of the attached instances ([Updater]) run first, the polled masks, state, owner and thread mask are
// cleared, then the fd is closed. With linger risk set, SO_LINGER {on, 0}
// is applied first so the peer sees a reset. The close error, if any, is
// returned wrapped.
//
// Delete is safe from any goroutine, including from any fd's iocb. Once it
// returns, no iocb of this generation of fd starts, no poller registers it
// again, and every poller that watched it has been told through its
// Closing method. It never waits for iocbs running on other threads: if some are
// running it still removes the fd at once, and the last of them to return
// closes it (HAProxy later added the same deferral); the close error is
// then lost and Delete returns nil.
func (th *Thread) Delete(fd int) error {
	return th.release(fd, false)
}

// Remove is Delete without closing fd (and without SO_LINGER, which would
// affect whoever closes it later). Unlike HAProxy 2.2, whose fd_remove
// leaves the kernel registration in place, the attached instances' Closing is told the fd
// stays open so that registrations are removed explicitly. It gives the
// same guarantees as Delete; iocbs already running on other threads when
// it returns may still be running.
func (th *Thread) Remove(fd int) error {
	return th.release(fd, true)
}

func (th *Thread) release(fd int, keepOpen bool) error {
	t := th.t
	op := "delete"
	if keepOpen {
		op = "remove"
	}
	e := t.open(fd)
	if e == nil {
		return t.fdErr(op, fd)
	}
	e.lock()
	fl := e.flags.Load()
	if fl&fOpen == 0 {
		e.unlock()
		return t.fdErr(op, fd)
	}
	if fl&fLinger != 0 && !keepOpen {
		// Best effort: a non-socket fd cannot linger.
		_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	}
	polled := e.pollRecv.Load() | e.pollSend.Load()
	gen, dereg := e.gen.Load(), keepOpen || fl&fCloned != 0
	for polled != 0 {
		tid := bits.TrailingZeros64(polled)
		polled &^= 1 << tid
		if hb := t.hooks[tid].Load(); hb != nil {
			hb.h.Closing(fd, gen, dereg)
		}
	}
	e.pollRecv.Store(0)
	e.pollSend.Store(0)
	e.state.Store(0)
	e.thread.Store(0)
	others := e.running.Load()&^th.bit != 0
	if !others {
		e.owner = nil
		e.iocb = nil
	}
	deferred := others && !keepOpen
	if deferred {
		e.flags.Store(fCloseDeferred)
	} else {
		e.flags.Store(0)
	}
	e.unlock()
	if deferred {
		// The runners may all have left between the check and the
		// store: then nobody else will close it.
		if e.running.Load()&^th.bit == 0 {
			e.reap(fd)
		}
		return nil
	}
	if !keepOpen {
		if err := unix.Close(fd); err != nil {
			return fmt.Errorf("fdtable: delete fd %d: %w", fd, os.NewSyscallError("close", err))
		}
	}
	return nil
}

// Takeover moves fd to the calling thread (fd_takeover): it succeeds only
// if no other thread is running the fd and its generation is still gen (the
// fd was not closed and reused meanwhile). The thread mask becomes this
// thread's bit and receiving is stopped, in the same locked step, so the
// new owner re-subscribes; if sending is still wanted, an update is queued
// for the new owner's poller. The previous owners' pollers drop the fd at
// their next event or update for it.
func (th *Thread) Takeover(fd int, gen uint32) error {
	t := th.t
	if th.bit == 0 {
		return fmt.Errorf("fdtable: takeover fd %d: external handle has no thread: %w", fd, ErrBadThread)
	}
	e := t.open(fd)
	if e == nil {
		return t.fdErr("takeover", fd)
	}
	e.lock()
	if e.running.Load()&^th.bit != 0 {
		e.unlock()
		return fmt.Errorf("fdtable: takeover fd %d: %w", fd, ErrBusy)
	}
	if e.flags.Load()&fOpen == 0 || e.gen.Load() != gen {
		e.unlock()
		return fmt.Errorf("fdtable: takeover fd %d: generation changed: %w", fd, ErrNotOpen)
	}
	e.thread.Store(th.bit)
	st := State(e.state.And(^uint32(ActiveR)))
	e.unlock()
	if st&ActiveW != 0 {
		// Still wanted for sending: this thread's poller must learn of
		// it, or nothing would register it until the next want.
		th.updatePolling(fd, e)
	}
	return nil
}

// Attach makes u the calling thread's poller instance, the one whose
// Closing method Delete and Remove call, and hands it every fd the thread
// already wants. A backend's constructor calls it: a poller created after
// fds were inserted and wanted (a thread started late, a re-created or
// swapped poller, recovery after a failed fork) then registers them at its
// first cycle with no help from the caller. Polled bits left by a previous
// instance on this thread are cleared first: they describe a kernel object
// the new instance does not share.
//
// The instance calls detach when it terminates: if u is still the
// thread's instance, it is removed and the thread's polled bits are
// cleared. detach reports whether u was still attached; an instance that a
// newer one on the same thread replaced leaves the newer one alone.
func (th *Thread) Attach(u Updater) (detach func() bool, err error) {
	if th.bit == 0 {
		return nil, fmt.Errorf("fdtable: attach: external handle has no thread: %w", ErrBadThread)
	}
	if u == nil {
		return nil, fmt.Errorf("fdtable: attach: nil updater")
	}
	t := th.t
	t.clearPolledBy(th.id)
	hb := &hookBox{u}
	t.hooks[th.id].Store(hb)
	th.requeueOwned()
	return func() bool { return th.detach(hb) }, nil
}

// detach removes hb if it is still the thread's instance.
func (th *Thread) detach(hb *hookBox) bool {
	t := th.t
	if !t.hooks[th.id].CompareAndSwap(hb, nil) {
		return false
	}
	t.clearPolledBy(th.id)
	return true
}

// requeueOwned puts every open, wanted fd of this thread on its local list.
// The update bit may already be set from a change queued before the thread
// existed, so the fd is listed whatever the bit said; the drain is
// idempotent if it is also on the shared list.
func (th *Thread) requeueOwned() {
	th.t.each(func(fd int, e *entry) {
		if e.flags.Load()&fOpen == 0 || e.thread.Load()&th.bit == 0 || e.state.Load()&uint32(ActiveRW) == 0 {
			return
		}
		e.update.Or(th.bit)
		th.updt = append(th.updt, int32(fd))
	})
}
