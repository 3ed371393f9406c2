package fdtable

import (
	"fmt"
	"unsafe"
)

// Internal sizes, for the memory tests in package fdtable_test.
const (
	ChunkEntries = chunkSize
	ChunkBytes   = unsafe.Sizeof(chunk{})
)

// SetDispatchHook sets the hook run inside Dispatch between its first
// checks and the delivery, and returns a function restoring it.
func SetDispatchHook(f func(fd int)) (restore func()) {
	old := testHookDispatch
	testHookDispatch = f
	return func() { testHookDispatch = old }
}

// Accessors for the package's own tests; other packages read Table.Info.

// IsOpen reports whether fd is in the table.
func (t *Table) IsOpen(fd int) bool { return t.open(fd) != nil }

// IsCloned reports whether fd is open and marked cloned.
func (t *Table) IsCloned(fd int) bool {
	e := t.open(fd)
	return e != nil && e.flags.Load()&fCloned != 0
}

// LingerRisk reports whether fd is open and marked with linger risk.
func (t *Table) LingerRisk(fd int) bool {
	e := t.open(fd)
	return e != nil && e.flags.Load()&fLinger != 0
}

// Gen returns fd's generation, bumped by every Insert (0 if never
// inserted or out of range).
func (t *Table) Gen(fd int) uint32 {
	e := t.lookup(fd)
	if e == nil {
		return 0
	}
	return e.gen.Load()
}

// OpenGen returns fd's generation and whether it is open, in one lookup:
// the test a backend makes for every kernel event.
func (t *Table) OpenGen(fd int) (gen uint32, open bool) {
	e := t.lookup(fd)
	if e == nil {
		return 0, false
	}
	return e.gen.Load(), e.flags.Load()&fOpen != 0
}

// Ev returns the conditions last reported for fd.
func (t *Table) Ev(fd int) State {
	e := t.lookup(fd)
	if e == nil {
		return 0
	}
	return State(e.ev.Load())
}

// ThreadMask returns the threads allowed to process fd.
func (t *Table) ThreadMask(fd int) uint64 {
	e := t.lookup(fd)
	if e == nil {
		return 0
	}
	return e.thread.Load()
}

// UpdateMask returns the threads that still have to apply a polling update
// for fd.
func (t *Table) UpdateMask(fd int) uint64 {
	e := t.lookup(fd)
	if e == nil {
		return 0
	}
	return e.update.Load()
}

// RunningMask returns the threads currently running fd's iocb.
func (t *Table) RunningMask(fd int) uint64 {
	e := t.lookup(fd)
	if e == nil {
		return 0
	}
	return e.running.Load()
}

// Polled returns the threads whose kernel pollers watch fd for receiving
// and for sending.
func (t *Table) Polled(fd int) (recv, send uint64) {
	e := t.lookup(fd)
	if e == nil {
		return 0, 0
	}
	return e.pollRecv.Load(), e.pollSend.Load()
}

// ClearPolled clears every thread's polled bits for fd.
func (t *Table) ClearPolled(fd int) {
	e := t.lookup(fd)
	if e == nil {
		return
	}
	e.pollRecv.Store(0)
	e.pollSend.Store(0)
}

// SetCloseHook installs thread tid's poller instance without requeueing
// anything (nil removes it). Delete and Remove call the Closing method of
// every thread whose bit is in the fd's polled masks before the fd is
// released.
func (t *Table) SetCloseHook(tid int, h Updater) error {
	if tid < 0 || tid >= MaxThreads {
		return fmt.Errorf("fdtable: close hook for thread %d: %w", tid, ErrBadThread)
	}
	if h == nil {
		t.hooks[tid].Store(nil)
	} else {
		t.hooks[tid].Store(&hookBox{h})
	}
	return nil
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

// LocalUpdates returns the thread's local update list. The slice is only
// valid until the next call on th.
func (th *Thread) LocalUpdates() []int32 { return th.updt }

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

// ListLinks describes one fd's links in the shared update list, in
// HAProxy's encoding: Next >= 0 is the next fd, -1 ends the list, and
// Next <= -3 means the fd is not listed (-Next-4 was its successor when it
// was removed, -1 meaning none).
type ListLinks struct {
	Next, Prev int32
}

// ClearPolledBy exposes clearPolledBy to the package's tests.
func (t *Table) ClearPolledBy(tid int) int { return t.clearPolledBy(tid) }

// UpdateEvents is Dispatch without the generation check, for the
// package's tests.
func (th *Thread) UpdateEvents(fd int, evts State) bool { return th.updateEvents(fd, evts) }

// AppendOpen appends the fds in the table to dst.
func (t *Table) AppendOpen(dst []int) []int {
	t.each(func(fd int, e *entry) {
		if e.flags.Load()&fOpen != 0 {
			dst = append(dst, fd)
		}
	})
	return dst
}

// AppendPolledBy appends the fds whose polled masks contain thread tid.
func (t *Table) AppendPolledBy(dst []int, tid int) []int {
	if uint(tid) >= MaxThreads {
		return dst
	}
	bit := uint64(1) << tid
	t.each(func(fd int, e *entry) {
		if (e.pollRecv.Load()|e.pollSend.Load())&bit != 0 {
			dst = append(dst, fd)
		}
	})
	return dst
}

// DefaultMaxFDs is the cap on a table sized from RLIMIT_NOFILE.
const DefaultMaxFDs = defaultMaxFDs

// Owner returns fd's owner, or nil.
func (t *Table) Owner(fd int) any {
	e := t.open(fd)
	if e == nil {
		return nil
	}
	return e.owner
}

// Used returns the number of fds in the table (inserted and not yet
// deleted or removed).
func (t *Table) Used() int {
	n := 0
	for i := range t.chunks {
		c := t.chunks[i].Load()
		if c == nil {
			continue
		}
		for j := range c {
			if c[j].flags.Load()&fOpen != 0 {
				n++
			}
		}
	}
	return n
}

// Threads returns the mask of threads created with NewThread.
func (t *Table) Threads() uint64 { return t.threads.Load() }
