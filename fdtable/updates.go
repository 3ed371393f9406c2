//go:build unix

package fdtable

// Update is one fd's pending polling update, as [Thread.DrainUpdates] hands
// it to an [Updater]. It is a consistent view: it is taken, and UpdateFD
// runs, with the fd locked against Insert, Delete, Remove and Takeover, so
// the generation, the thread mask and the polled bits cannot change under
// the backend, and a Delete or Remove on another goroutine waits until the
// backend has recorded what it registered, then tells it through its close
// hook. Only the ACTIVE and READY bits of State may move meanwhile (the
// want, stop, cant and may operations take no lock); any change that needs
// a new registration queues another update.
type Update struct {
	FD  int
	Gen uint32 // the fd's generation: tag the kernel registration with it
	// State is the fd's FD_EV_* state when the update was taken.
	State State
	// Ours reports whether the fd's thread mask holds the draining thread;
	// if not, the backend must drop any registration it has.
	Ours bool
	// PolledRecv and PolledSend are the draining thread's polled bits:
	// what its poller watches now, as recorded with [Table.SetPolled].
	PolledRecv, PolledSend bool
}

// Updater is a poller instance as the table sees it: the two calls through
// which the table keeps the instance's kernel object in step with the fds.
type Updater interface {
	// UpdateFD applies one fd's desired state to the kernel object
	// (HAProxy: _update_fd). DrainUpdates calls it only for fds that are
	// open, with the fd locked (see [Update]): UpdateFD must record what
	// it registered with [Table.SetPolled] before returning, must not
	// block, and must not call Insert, Delete, Remove or Takeover.
	UpdateFD(u Update)

	// Closing tells the instance attached to a thread (see
	// [Thread.Attach]) to forget an fd before it is closed or removed
	// (HAProxy: the poller's clo). gen is the generation being
	// released. deregister is true when closing the fd will not remove
	// a kernel registration by itself: the fd stays open
	// ([Thread.Remove]), or its open file is shared with another process
	// (cloned by fork); the instance must then remove it explicitly.
	// Closing runs on the goroutine that called Delete or Remove, with
	// the fd locked against updates, so it must not call back into the
	// table for that fd.
	Closing(fd int, gen uint32, deregister bool)
}

// update calls u.UpdateFD for the fd of entry e, under its lock, if it is
// open. It reports whether it was.
func (th *Thread) update(u Updater, fd int, e *entry) bool {
	e.lock()
	if e.flags.Load()&fOpen == 0 {
		e.unlock()
		return false
	}
	bit := th.bit
	u.UpdateFD(Update{
		FD:         fd,
		Gen:        e.gen.Load(),
		State:      State(e.state.Load()),
		Ours:       e.thread.Load()&bit != 0,
		PolledRecv: e.pollRecv.Load()&bit != 0,
		PolledSend: e.pollSend.Load()&bit != 0,
	})
	e.unlock()
	return true
}

// DrainUpdates consumes the thread's local update list, then the shared
// list, calling u.UpdateFD for every open fd with a
// pending update for this thread. Local entries for closed fds are dropped
// and counted in the result (poll_drop_fd); shared entries for closed fds
// are acknowledged without counting.
//
// With perThread true (backends with one kernel object per thread, such as
// epoll) the thread acknowledges only its own bit and the entry leaves the
// shared list when the last owner has acknowledged it. With perThread false
// (backends whose state is shared by all threads) the first owner to see the
// entry acknowledges it for every thread. Any drain also takes off the list
// an entry whose update mask is empty (HAProxy leaves it there until the
// fd's next update), which the races described in the walk can leave.
//
// Draining allocates nothing once the scratch space has grown to the
// largest batch seen.
func (th *Thread) DrainUpdates(u Updater, perThread bool) (dropped int) {
	if th.bit == 0 {
		// The external handle has no local list and no bit to
		// acknowledge; returning early also keeps it free of writes, as
		// it is shared by every goroutine.
		return 0
	}
	t := th.t
	// UpdateFD may queue new local updates on this thread (the slice can
	// grow and move meanwhile): only the entries present at the start are
	// consumed; later ones keep their update bit and stay for the next
	// drain instead of being truncated away.
	n := len(th.updt)
	for i := 0; i < n; i++ {
		fd := th.updt[i]
		e := t.lookup(int(fd))
		if e == nil {
			continue
		}
		e.update.And(^th.bit)
		if !th.update(u, int(fd), e) {
			dropped++
		}
	}
	th.updt = append(th.updt[:0], th.updt[n:]...)
	if t.listed.Load() == 0 {
		// Nothing shared is pending: skip the lock. An entry added
		// meanwhile is seen by the next cycle, as in HAProxy, where each
		// cycle reads the lists once at its start.
		return dropped
	}
	th.glob = th.glob[:0]
	t.mu.Lock()
	if t.first != listEnd {
		all := t.threads.Load()
		for fd := t.first; fd >= 0; {
			e := t.lookup(int(fd))
			next := e.next
			if m := e.update.Load(); m&th.bit != 0 {
				if perThread {
					e.update.And(^th.bit)
				} else {
					e.update.And(^all)
				}
				if e.update.Load()&all == 0 {
					t.listRemoveLocked(int(fd), e)
					// Bits of threads that do not exist (yet) would
					// make the next change to this fd look queued
					// already; a thread created later requeues what it
					// owns when its poller attaches.
					e.update.And(all)
				}
				th.glob = append(th.glob, fd)
			} else if m == 0 {
				// Nothing pending for anyone, and nobody else would ever
				// take the entry off the list. This happens when a stray
				// bit (a non-owner's lazy stop) kept it listed while the
				// owners acknowledged it and that thread's local drain
				// then cleared the bit, or when every owner acknowledged
				// an update between its updatePolling's mask change and
				// its listAdd, which re-adds the entry.
				t.listRemoveLocked(int(fd), e)
			}
			fd = next
		}
	}
	t.mu.Unlock()
	for _, fd := range th.glob {
		if e := t.lookup(int(fd)); e != nil {
			th.update(u, int(fd), e)
		}
	}
	return dropped
}

// listAdd appends fd to the shared update list unless it is already there
// (fd_add_to_fd_list).
func (t *Table) listAdd(fd int, e *entry) {
	t.mu.Lock()
	if e.next >= listEnd {
		t.mu.Unlock()
		return
	}
	if t.last == listEnd {
		t.first = int32(fd)
		e.prev = listEnd
	} else {
		t.lookup(int(t.last)).next = int32(fd)
		e.prev = t.last
	}
	e.next = listEnd
	t.last = int32(fd)
	t.listed.Add(1)
	t.mu.Unlock()
}

// listRemoveLocked unlinks fd from the shared update list
// (fd_rm_from_fd_list). t.mu must be held.
func (t *Table) listRemoveLocked(fd int, e *entry) {
	if e.next < listEnd {
		return
	}
	next, prev := e.next, e.prev
	if prev >= 0 {
		t.lookup(int(prev)).next = next
	} else {
		t.first = next
	}
	if next >= 0 {
		t.lookup(int(next)).prev = prev
	} else {
		t.last = prev
	}
	e.next = -(next + 4)
	t.listed.Add(-1)
}
