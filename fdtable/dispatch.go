//go:build unix

package fdtable

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

// updateEvents reports kernel events for fd (fd_update_events). evts is a
// combination of ReadyR, ReadyW, ShutR, ShutW and ErrRW. The conditions
// last reported ([Info].Ev) are updated (ERR and HUP are sticky), READY bits are set accordingly, the
// iocb is called once if the fd is active in some direction and still
// belongs to this thread, and, if an event arrived for a direction nobody
// wants and still nobody wants it after the callback, the fd is queued on
// the local update list so the backend deregisters it (lazy stop). It
// reports whether the iocb was called. Closed or out-of-range fds are
// ignored.
//
// Backends use [Thread.Dispatch], which also drops events meant for a
// previous user of the fd number.
func (th *Thread) updateEvents(fd int, evts State) bool {
	e := th.t.open(fd)
	if e == nil {
		return false
	}
	_, called := th.deliver(e, fd, e.gen.Load(), evts, true)
	return called
}

// Dispatch is what a backend calls for each kernel event: it checks that
// fd is open, that gen (the generation the backend tagged its registration
// with) is still the fd's, and that the fd still belongs to this thread,
// then applies the event: the conditions last reported ([Info].Ev) are
// updated (ERR and HUP are sticky), READY bits are set accordingly, the iocb is called once if the
// fd is active in some direction, and, if an event arrived for a
// direction nobody wants and still nobody wants it after the callback,
// the fd is queued on the local update list so the backend deregisters it
// (lazy stop; HAProxy: fd_update_events). The outcome tells
// the backend which counter to bump.
//
// The checks are made again once this thread is marked as running the fd,
// which excludes Insert, Delete, Remove and Takeover on every other
// goroutine: an event of one generation never reaches the iocb, the state
// or the conditions of the next one, however the calls interleave.
func (th *Thread) Dispatch(fd int, gen uint32, evts State) Outcome {
	e := th.t.open(fd)
	switch {
	case e == nil:
		return Dead
	case e.gen.Load() != gen:
		return Stale
	}
	if testHookDispatch != nil {
		testHookDispatch(fd)
	}
	o, _ := th.deliver(e, fd, gen, evts, true)
	return o
}

// testHookDispatch, set by tests only, runs between Dispatch's first
// checks and delivery: the window in which another goroutine may remove
// the fd and insert it again.
var testHookDispatch func(fd int)

// DispatchError delivers an error event (ERR_RW) to fd's owner if fd is
// still open with generation gen and belongs to this thread, without the
// lazy-stop update that an event nobody asked for normally queues: the
// poller could not register the fd, and retrying at the next cycle would
// only fail again. The owner learns of the failure and may stop, delete or
// re-want the fd. Backends do not call it directly: they report the
// failure to their poller.Context, which delivers it.
func (th *Thread) DispatchError(fd int, gen uint32) Outcome {
	e := th.t.open(fd)
	switch {
	case e == nil:
		return Dead
	case e.gen.Load() != gen:
		return Stale
	}
	o, _ := th.deliver(e, fd, gen, ErrRW, false)
	return o
}

// deliver applies evts to the fd of entry e, generation gen. With a
// thread bit, it first marks the thread as running the fd, and re-checks
// the fd and its generation: from then on no other goroutine can insert,
// delete, remove or take over the fd until the iocb returns.
func (th *Thread) deliver(e *entry, fd int, gen uint32, evts State, lazyStop bool) (Outcome, bool) {
	bit := th.bit
	if bit != 0 {
		if !e.setRunning(fd, bit) {
			return Migrated, false
		}
		if e.flags.Load()&fOpen == 0 {
			e.leave(fd, bit)
			return Dead, false
		}
		if e.gen.Load() != gen {
			e.leave(fd, bit)
			return Stale, false
		}
	}

	st := State(e.state.Load())
	stop := State(0)
	if lazyStop {
		stop = mustStop(evts, st)
	}
	nev := reported(evts, st)
	ev := State(e.ev.Load())
	for {
		n := ev&evSticky | nev
		if n == ev || e.ev.CompareAndSwap(uint32(ev), uint32(n)) {
			ev = n
			break
		}
		ev = State(e.ev.Load())
	}
	var ready State
	if ev&(ReadyR|ShutR|ErrRW) != 0 {
		ready |= ReadyR
	}
	if ev&(ReadyW|ErrRW) != 0 {
		ready |= ReadyW
	}
	if ready != 0 && State(e.state.Load())&ready != ready {
		e.state.Or(uint32(ready))
	}
	if bit == 0 {
		return Delivered, false
	}

	called := false
	if e.state.Load()&uint32(ActiveRW) != 0 && e.iocb != nil {
		called = true
		e.runIOCB(fd, bit)
	} else {
		e.leave(fd, bit)
	}

	if stop != 0 && e.update.Load()&bit == 0 && e.flags.Load()&fOpen != 0 {
		st = State(e.state.Load())
		if (stop&ActiveR != 0 && st&ActiveR == 0) || (stop&ActiveW != 0 && st&ActiveW == 0) {
			if e.update.Or(bit)&bit == 0 {
				th.updt = append(th.updt, int32(fd))
			}
		}
	}
	return Delivered, called
}

// runIOCB calls the iocb and leaves the running mask even if the iocb
// panics or exits its goroutine (a failing test's Fatalf), so that a later
// Insert or Takeover does not wait forever for it.
func (e *entry) runIOCB(fd int, bit uint64) {
	defer e.leave(fd, bit)
	e.iocb(fd, e.owner)
}
