//go:build unix

package fdtable

import "runtime"

// Outcome is what [Thread.Dispatch] did with a kernel event.
type Outcome uint8

const (
	// Delivered: the event was applied to the fd (the iocb ran if the fd was active).
	Delivered Outcome = iota
	// Dead: the fd is not in the table (count it in poll_dead_fd).
	Dead
	// Stale: the fd is open but its generation is not the one the
	// registration was made for: the event belongs to a previous user of
	// the fd number and was dropped (count it in poll_stale_fd).
	Stale
	// Migrated: the fd belongs to other threads now; the event was
	// dropped, and the backend should remove its own registration (count
	// it in poll_skip_fd).
	Migrated
)

// updateEvents reports kernel events for fd (fd_update_events) as
// [Thread.Dispatch] does, for the fd's current generation: closed or
// out-of-range fds are ignored. It reports whether the iocb was called.
// Backends use Dispatch, which also drops events meant for a previous user
// of the fd number.
func (th *Thread) updateEvents(fd int, evts State) bool {
	e := th.t.open(fd)
	if e == nil {
		return false
	}
	_, called := th.dispatch(fd, e.gen.Load(), evts, true)
	return called
}

// Dispatch is what a backend calls for each kernel event: it checks that
// fd is open, that gen (the generation the backend tagged its registration
// with) is still the fd's, and that the fd still belongs to this thread,
// then applies the event: the conditions last reported ([Info].Ev) are
// updated (ERR and HUP are sticky), READY bits are set accordingly, the
// iocb is called once if the fd is active in some direction, and, if an
// event arrived for a direction nobody wants and still nobody wants it
// after the callback, the fd is queued on the local update list so the
// backend deregisters it (lazy stop; HAProxy: fd_update_events). The
// outcome tells the backend which counter to bump.
//
// The checks are made once this thread is marked as running the fd, which
// excludes Insert, Delete, Remove and Takeover on every other
// goroutine: an event of one generation never reaches the iocb, the state
// or the conditions of the next one, however the calls interleave.
//
// Dispatch defers nothing, to keep the per-event path short: while the
// iocb runs, the thread remembers the fd, and if the iocb panics or calls
// runtime.Goexit, the fd stays marked as running on this thread until
// [Thread.EndDispatch] releases it. A backend therefore defers EndDispatch
// once in its poll function, before it dispatches (or reports failures
// with poller.Context.FailFD). Dispatch must not be called from an iocb
// of the same thread.
func (th *Thread) Dispatch(fd int, gen uint32, evts State) Outcome {
	o, _ := th.dispatch(fd, gen, evts, true)
	return o
}

// EndDispatch ends a cycle of [Thread.Dispatch] calls. Deferred by the
// function that dispatches, it releases the fd whose iocb panicked or
// exited its goroutine (runtime.Goexit, a failing test's Fatalf), so that
// Insert, Delete, Remove or Takeover on another goroutine does not wait
// forever for that iocb; it does nothing when the iocbs returned. It is
// cheap: one load when there is nothing to release.
func (th *Thread) EndDispatch() {
	if th.running != 0 {
		th.endFailed()
	}
}

// endFailed leaves the running mask of the fd whose iocb did not return.
func (th *Thread) endFailed() {
	fd := th.running - 1
	th.running = 0
	if e := th.t.lookup(fd); e != nil {
		e.leave(fd, th.bit)
	}
}

// testHookDispatch, set by tests only, runs when a dispatch starts, before
// the thread enters the fd's running mask: the window in which another
// goroutine may remove the fd and insert it again.
var testHookDispatch func(fd int)

// dispatchHooked runs testHookDispatch, then the dispatch.
func (th *Thread) dispatchHooked(fd int, gen uint32, evts State, lazyStop bool) (Outcome, bool) {
	th.inHook = true
	defer func() { th.inHook = false }()
	testHookDispatch(fd)
	return th.dispatch(fd, gen, evts, lazyStop)
}

// DispatchError delivers an error event (ERR_RW) to fd's owner if fd is
// still open with generation gen and belongs to this thread, without the
// lazy-stop update that an event nobody asked for normally queues: the
// poller could not register the fd, and retrying at the next cycle would
// only fail again. The owner learns of the failure and may stop, delete or
// re-want the fd. Backends do not call it directly: they report the
// failure to their poller.Context, which delivers it. A panicking iocb is
// released by [Thread.EndDispatch], as for Dispatch.
func (th *Thread) DispatchError(fd int, gen uint32) Outcome {
	o, _ := th.dispatch(fd, gen, ErrRW, false)
	return o
}

// dispatch is Dispatch, with the lazy stop optional; it also reports
// whether the iocb was called. It is the per-event path of every backend,
// written so that its only call is the iocb's (a call on any path makes
// the compiler save every live value first): one dependent chain of loads
// from the thread to the entry, one locked OR to enter the running mask
// and one locked AND to leave it. The fd is checked only once the thread
// is in the running mask, when no other goroutine can change it: a
// check before would only spare the two locked operations for events
// that are dropped anyway.
func (th *Thread) dispatch(fd int, gen uint32, evts State, lazyStop bool) (Outcome, bool) {
	if testHookDispatch != nil && !th.inHook {
		return th.dispatchHooked(fd, gen, evts, lazyStop)
	}
	// The thread's copy of the chunk array: one load less than through
	// the table. An fd beyond the table's size but inside its last chunk
	// finds an entry that was never inserted.
	ci := uint(fd) >> chunkShift
	if ci >= uint(len(th.chunks)) {
		return Dead, false
	}
	c := th.chunks[ci].Load()
	if c == nil {
		return Dead, false
	}
	e := &c[fd&chunkMask]
	bit := th.bit
	if bit != 0 {
		// Enter the running mask, then check that no lock holder
		// started meanwhile (it either sees our bit or has already
		// changed what we check) and that the fd is still the one the
		// event is for.
		e.running.Or(bit)
		if e.excl.Load() != 0 || e.flags.Load()&fOpen == 0 || e.gen.Load() != gen || e.thread.Load()&bit == 0 {
			return th.dispatchMiss(e, fd, gen, evts, lazyStop)
		}
	} else if e.flags.Load()&fOpen == 0 || e.gen.Load() != gen {
		return th.dispatchMiss(e, fd, gen, evts, lazyStop)
	}

	st := State(e.state.Load())
	var stop State
	if lazyStop {
		stop = mustStop(evts, st)
	}
	// Record the conditions reported (a compare-and-swap only when they
	// change) and set the READY bits they imply.
	nev := reported(evts, st)
	ev := State(e.ev.Load())
	if ev&evSticky|nev != ev {
		ev = e.report(nev)
	}
	var ready State
	if ev&(ReadyR|ShutR|ErrRW) != 0 {
		ready |= ReadyR
	}
	if ev&(ReadyW|ErrRW) != 0 {
		ready |= ReadyW
	}
	if st&ready != ready {
		e.state.Or(uint32(ready))
		st |= ready
	}
	if bit == 0 {
		// A handle with no thread bit records events and never calls
		// the iocb.
		return Delivered, false
	}
	if st&ActiveRW == 0 || e.iocb == nil {
		e.leave(fd, bit)
		if stop != 0 {
			th.lazyStop(e, fd, stop)
		}
		return Delivered, false
	}
	th.running = fd + 1
	e.iocb(fd, e.owner)
	th.running = 0
	e.leave(fd, bit)
	if stop != 0 {
		th.lazyStop(e, fd, stop)
	}
	return Delivered, true
}

// dispatchMiss finishes a dispatch whose checks failed (once the thread
// was in the running mask, if it has a bit): it leaves the mask and
// reports why, or, if a lock holder was at work, waits until it is done
// and dispatches again.
func (th *Thread) dispatchMiss(e *entry, fd int, gen uint32, evts State, lazyStop bool) (Outcome, bool) {
	bit := th.bit
	if bit == 0 {
		if e.flags.Load()&fOpen == 0 {
			return Dead, false
		}
		return Stale, false
	}
	busy := e.excl.Load() != 0
	var o Outcome
	switch {
	case busy:
	case e.flags.Load()&fOpen == 0:
		o = Dead
	case e.gen.Load() != gen:
		o = Stale
	case e.thread.Load()&bit == 0:
		o = Migrated
	default:
		busy = true // the lock was released meanwhile
	}
	e.leave(fd, bit)
	if !busy {
		return o, false
	}
	for e.excl.Load() != 0 {
		runtime.Gosched()
	}
	return th.dispatch(fd, gen, evts, lazyStop)
}

// report replaces the conditions last reported by nev, keeping the sticky
// ones, and returns the result.
func (e *entry) report(nev State) State {
	for {
		ev := State(e.ev.Load())
		n := ev&evSticky | nev
		if n == ev || e.ev.CompareAndSwap(uint32(ev), uint32(n)) {
			return n
		}
	}
}

// lazyStop queues fd on the local update list if an event arrived for a
// direction nobody wanted (stop, from mustStop) and still nobody wants it
// after the callback.
func (th *Thread) lazyStop(e *entry, fd int, stop State) {
	bit := th.bit
	if e.update.Load()&bit != 0 || e.flags.Load()&fOpen == 0 {
		return
	}
	st := State(e.state.Load())
	if (stop&ActiveR != 0 && st&ActiveR == 0) || (stop&ActiveW != 0 && st&ActiveW == 0) {
		if e.update.Or(bit)&bit == 0 {
			th.updt = append(th.updt, int32(fd))
		}
	}
}
