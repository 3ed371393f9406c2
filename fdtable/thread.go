package fdtable

import (
	"fmt"
)

// Thread is one polling thread's handle on a table: its id, its bit in the
// thread masks and its local update list. A Thread with an id is not safe
// for concurrent use: it belongs to the goroutine that polls for it. The
// Thread returned by [Table.External] has no bit and no local list and is
// safe for concurrent use.
type Thread struct {
	t    *Table
	id   int
	bit  uint64
	updt []int32 // local update list (fd_updt)
	glob []int32 // scratch for DrainUpdates
}

// NewThread returns the handle of thread id (0..MaxThreads-1) and adds its
// bit to the table's thread mask. Each id may be taken once until
// [Thread.Close].
func (t *Table) NewThread(id int) (*Thread, error) {
	if id < 0 || id >= MaxThreads {
		return nil, fmt.Errorf("fdtable: new thread %d: %w", id, ErrBadThread)
	}
	bit := uint64(1) << id
	for {
		m := t.threads.Load()
		if m&bit != 0 {
			return nil, fmt.Errorf("fdtable: new thread %d: %w", id, ErrThreadUsed)
		}
		if t.threads.CompareAndSwap(m, m|bit) {
			break
		}
	}
	return &Thread{t: t, id: id, bit: bit, updt: make([]int32, 0, 64)}, nil
}

// External returns the table's thread-less handle: changes made through it
// always go to the shared update list. It is safe for concurrent use. It
// has no bit in the running mask, so Delete, Remove or Insert through it
// from inside an fd's iocb wait for that iocb to return: an iocb must
// delete its own fd through its thread's handle.
func (t *Table) External() *Thread { return &t.external }

// Close releases the thread's id. Pending updates for the thread are
// dropped: its bit is cleared from the update masks of the fds on its local
// list and of those on the shared list (an entry no remaining thread has to
// apply leaves the list), so that a thread later created with the same id
// starts with no stale pending bit that would stop it from queueing.
func (th *Thread) Close() {
	if th.bit == 0 {
		return
	}
	t := th.t
	all := t.threads.And(^th.bit) &^ th.bit
	for _, fd := range th.updt {
		if e := t.lookup(int(fd)); e != nil {
			e.update.And(^th.bit)
		}
	}
	th.updt = th.updt[:0]
	t.mu.Lock()
	for fd := t.first; fd >= 0; {
		e := t.lookup(int(fd))
		next := e.next
		if e.update.Load()&th.bit != 0 {
			e.update.And(^th.bit)
			if e.update.Load()&all == 0 {
				t.listRemoveLocked(int(fd), e)
			}
		}
		fd = next
	}
	t.mu.Unlock()
}

// Table returns the thread's table.
func (th *Thread) Table() *Table { return th.t }

// ID returns the thread's id (-1 for the external handle).
func (th *Thread) ID() int { return th.id }

// Bit returns the thread's bit in thread masks (0 for the external handle).
func (th *Thread) Bit() uint64 { return th.bit }

// LocalUpdates returns the thread's local update list. The slice is only
// valid until the next call on th.
func (th *Thread) LocalUpdates() []int32 { return th.updt }

// updatePolling queues a polling update for fd (updt_fd_polling).
func (th *Thread) updatePolling(fd int, e *entry) {
	tm := e.thread.Load()
	if th.bit != 0 && tm&th.t.threads.Load() == th.bit {
		if e.update.Or(th.bit)&th.bit != 0 {
			return
		}
		th.updt = append(th.updt, int32(fd))
		return
	}
	for {
		old := e.update.Load()
		if old == tm {
			return
		}
		if e.update.CompareAndSwap(old, tm) {
			break
		}
	}
	th.t.listAdd(fd, e)
	if w := th.t.wake.Load(); w != nil && tm&^th.bit != 0 && e.state.Load()&uint32(ActiveRW) != 0 {
		(*w)(tm)
	}
}

// set sets bits in fd's state and reports whether any was newly set.
func (th *Thread) set(op string, fd int, bits State) (*entry, bool, error) {
	e := th.t.open(fd)
	if e == nil {
		return nil, false, th.t.fdErr(op, fd)
	}
	old := e.state.Load()
	if old&uint32(bits) == uint32(bits) {
		return e, false, nil
	}
	old = e.state.Or(uint32(bits))
	return e, old&uint32(bits) != uint32(bits), nil
}

func (th *Thread) clear(op string, fd int, bits State) error {
	e := th.t.open(fd)
	if e == nil {
		return th.t.fdErr(op, fd)
	}
	if e.state.Load()&uint32(bits) != 0 {
		e.state.And(^uint32(bits))
	}
	return nil
}

// WantRecv sets ACTIVE_R and, if it changed, queues a polling update.
func (th *Thread) WantRecv(fd int) error {
	e, changed, err := th.set("want recv", fd, ActiveR)
	if changed {
		th.updatePolling(fd, e)
	}
	return err
}

// WantSend sets ACTIVE_W and, if it changed, queues a polling update.
func (th *Thread) WantSend(fd int) error {
	e, changed, err := th.set("want send", fd, ActiveW)
	if changed {
		th.updatePolling(fd, e)
	}
	return err
}

// StopRecv clears ACTIVE_R. As in HAProxy 2.2 no update is queued: the
// registration is removed lazily, once the kernel reports an event nobody
// wants (see [Thread.UpdateEvents]).
func (th *Thread) StopRecv(fd int) error { return th.clear("stop recv", fd, ActiveR) }

// StopSend clears ACTIVE_W, lazily like [Thread.StopRecv].
func (th *Thread) StopSend(fd int) error { return th.clear("stop send", fd, ActiveW) }

// StopBoth clears ACTIVE_R and ACTIVE_W, lazily like [Thread.StopRecv].
func (th *Thread) StopBoth(fd int) error { return th.clear("stop both", fd, ActiveRW) }

// CantRecv clears READY_R (receiving returned EAGAIN).
func (th *Thread) CantRecv(fd int) error { return th.clear("cant recv", fd, ReadyR) }

// CantSend clears READY_W (sending returned EAGAIN).
func (th *Thread) CantSend(fd int) error { return th.clear("cant send", fd, ReadyW) }

// MayRecv sets READY_R.
func (th *Thread) MayRecv(fd int) error { _, _, err := th.set("may recv", fd, ReadyR); return err }

// MaySend sets READY_W.
func (th *Thread) MaySend(fd int) error { _, _, err := th.set("may send", fd, ReadyW); return err }

// MayBoth sets READY_R and READY_W.
func (th *Thread) MayBoth(fd int) error { _, _, err := th.set("may both", fd, ReadyRW); return err }

// CondRecv sets READY_R only if neither ACTIVE_R nor READY_R is set.
func (th *Thread) CondRecv(fd int) error { return th.cond("cond recv", fd, ActiveR, ReadyR) }

// CondSend sets READY_W only if neither ACTIVE_W nor READY_W is set.
func (th *Thread) CondSend(fd int) error { return th.cond("cond send", fd, ActiveW, ReadyW) }

func (th *Thread) cond(op string, fd int, active, ready State) error {
	e := th.t.open(fd)
	if e == nil {
		return th.t.fdErr(op, fd)
	}
	for {
		old := e.state.Load()
		if old&uint32(active|ready) != 0 {
			return nil
		}
		if e.state.CompareAndSwap(old, old|uint32(ready)) {
			return nil
		}
	}
}

// DoneRecv clears READY_R only if both ACTIVE_R and READY_R are set (after
// a short read).
func (th *Thread) DoneRecv(fd int) error {
	e := th.t.open(fd)
	if e == nil {
		return th.t.fdErr("done recv", fd)
	}
	for {
		old := e.state.Load()
		if old&uint32(ActiveR|ReadyR) != uint32(ActiveR|ReadyR) {
			return nil
		}
		if e.state.CompareAndSwap(old, old&^uint32(ReadyR)) {
			return nil
		}
	}
}

// RecvActive reports whether fd is open and ACTIVE_R is set.
func (t *Table) RecvActive(fd int) bool { return t.has(fd, ActiveR) }

// SendActive reports whether fd is open and ACTIVE_W is set.
func (t *Table) SendActive(fd int) bool { return t.has(fd, ActiveW) }

// RecvReady reports whether fd is open and READY_R is set.
func (t *Table) RecvReady(fd int) bool { return t.has(fd, ReadyR) }

// SendReady reports whether fd is open and READY_W is set.
func (t *Table) SendReady(fd int) bool { return t.has(fd, ReadyW) }

// Active reports whether fd is open and active in some direction.
func (t *Table) Active(fd int) bool { return t.has(fd, ActiveRW) }

func (t *Table) has(fd int, b State) bool {
	e := t.open(fd)
	return e != nil && e.state.Load()&uint32(b) != 0
}

// UpdateEvents reports kernel events for fd (fd_update_events). evts is a
// combination of ReadyR, ReadyW, ShutR, ShutW and ErrRW. The event byte is
// updated (ERR and HUP are sticky), READY bits are set accordingly, the
// iocb is called once if the fd is active in some direction and still
// belongs to this thread, and, if an event arrived for a direction nobody
// wants and still nobody wants it after the callback, the fd is queued on
// the local update list so the backend deregisters it (lazy stop). It
// reports whether the iocb was called. Closed or out-of-range fds are
// ignored.
func (th *Thread) UpdateEvents(fd int, evts State) bool {
	e := th.t.open(fd)
	if e == nil {
		return false
	}
	return th.updateEvents(e, fd, evts)
}

// Outcome is what [Thread.Dispatch] did with a kernel event.
type Outcome uint8

const (
	// Delivered: the event was applied to the fd (UpdateEvents ran).
	Delivered Outcome = iota
	// Dead: the fd is not in the table (count it in poll_dead_fd).
	Dead
	// Stale: the fd is open but its generation is not the one the
	// registration was made for: the event belongs to a previous user of
	// the fd number and was dropped (count it in poll_stale_fd).
	Stale
	// Migrated: the fd belongs to other threads now; the backend should
	// forget it (count it in poll_skip_fd).
	Migrated
)

// Dispatch is what a backend calls for each kernel event: in one lookup it
// checks that fd is open, that gen (the generation the backend tagged its
// registration with) is still the fd's, and that the fd still belongs to
// this thread, then applies the event as [Thread.UpdateEvents] does. The
// outcome tells the backend which counter to bump and whether to forget
// the registration.
func (th *Thread) Dispatch(fd int, gen uint32, evts State) Outcome {
	e := th.t.open(fd)
	switch {
	case e == nil:
		return Dead
	case e.gen.Load() != gen:
		return Stale
	case e.thread.Load()&th.bit == 0:
		return Migrated
	}
	th.updateEvents(e, fd, evts)
	return Delivered
}

func (th *Thread) updateEvents(e *entry, fd int, evts State) bool {
	st := State(e.state.Load())
	nev := legacy(evts, st)
	stop := mustStop(evts, st)

	ev := PollEv(e.ev.Load())
	for {
		n := ev&PollSticky | nev
		if n == ev || e.ev.CompareAndSwap(uint32(ev), uint32(n)) {
			ev = n
			break
		}
		ev = PollEv(e.ev.Load())
	}
	var ready State
	if ev&(PollIn|PollHup|PollErr) != 0 {
		ready |= ReadyR
	}
	if ev&(PollOut|PollErr) != 0 {
		ready |= ReadyW
	}
	if ready != 0 && State(e.state.Load())&ready != ready {
		e.state.Or(uint32(ready))
	}

	called := false
	if e.state.Load()&uint32(ActiveRW) != 0 && th.bit != 0 {
		if !e.setRunning(th.bit) {
			return false
		}
		// Re-read under the running bit: Delete may have run between the
		// open check and setRunning.
		if e.flags.Load()&fOpen != 0 && e.iocb != nil {
			called = true
			e.runIOCB(fd, th.bit)
		} else {
			e.running.And(^th.bit)
		}
	}

	if stop != 0 && th.bit != 0 && e.update.Load()&th.bit == 0 && e.flags.Load()&fOpen != 0 {
		st = State(e.state.Load())
		if (stop&ActiveR != 0 && st&ActiveR == 0) || (stop&ActiveW != 0 && st&ActiveW == 0) {
			if e.update.Or(th.bit)&th.bit == 0 {
				th.updt = append(th.updt, int32(fd))
			}
		}
	}
	return called
}

// runIOCB calls the iocb and releases the running bit even if the iocb
// panics or exits its goroutine (a failing test's Fatalf), so that a later
// Delete or Takeover does not wait forever for it.
func (e *entry) runIOCB(fd int, bit uint64) {
	defer e.running.And(^bit)
	e.iocb(fd, e.owner)
}

// Updater applies one fd's desired state to a backend's kernel object
// (HAProxy's _update_fd). It is called by [Thread.DrainUpdates] only for
// fds that are open.
type Updater interface {
	UpdateFD(fd int)
}

// DrainUpdates consumes the thread's local update list, then the shared
// list (reference §5.6), calling u.UpdateFD for every open fd with a
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
		if e.flags.Load()&fOpen == 0 {
			dropped++
			continue
		}
		u.UpdateFD(int(fd))
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
		if t.open(int(fd)) != nil {
			u.UpdateFD(int(fd))
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

// ListLinks describes one fd's links in the shared update list, in
// HAProxy's encoding: Next >= 0 is the next fd, -1 ends the list, and
// Next <= -3 means the fd is not listed (-Next-4 was its successor when it
// was removed, -1 meaning none).
type ListLinks struct {
	Next, Prev int32
}

// SharedList returns the fds on the shared update list in order, and the
// head's first and last fds (-1 when empty). It takes the list lock and
// allocates; it is meant for tests and debugging.
func (t *Table) SharedList() (fds []int, first, last int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for fd := t.first; fd >= 0; fd = t.lookup(int(fd)).next {
		fds = append(fds, int(fd))
	}
	return fds, t.first, t.last
}

// Links returns fd's shared-list links. Out-of-range or never-used fds
// read as not listed ({-3, -1}).
func (t *Table) Links(fd int) ListLinks {
	e := t.lookup(fd)
	if e == nil {
		return ListLinks{Next: notInList, Prev: linkUnknown}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return ListLinks{Next: e.next, Prev: e.prev}
}

// Listed reports whether fd is on the shared update list.
func (t *Table) Listed(fd int) bool { return t.Links(fd).Next >= listEnd }

// AddToSharedList puts fd on the shared update list without touching its
// update mask (fd_add_to_fd_list). Normal code never needs it: the want
// operations do it. It exists for tests of the list itself.
func (t *Table) AddToSharedList(fd int) error {
	if uint(fd) >= uint(t.max) {
		return t.fdErr("list add", fd)
	}
	t.listAdd(fd, t.alloc(fd))
	return nil
}

// RemoveFromSharedList takes fd off the shared update list
// (fd_rm_from_fd_list); a no-op if it is not listed.
func (t *Table) RemoveFromSharedList(fd int) error {
	e := t.lookup(fd)
	if e == nil {
		if uint(fd) >= uint(t.max) {
			return t.fdErr("list remove", fd)
		}
		return nil
	}
	t.mu.Lock()
	t.listRemoveLocked(fd, e)
	t.mu.Unlock()
	return nil
}
