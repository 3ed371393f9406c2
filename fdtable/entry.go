//go:build unix

package fdtable

import (
	"runtime"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Per-entry flag bits.
const (
	fOpen uint32 = 1 << iota
	fLinger
	fCloned
	// fCloseDeferred: Delete ran while other threads were inside the fd's
	// iocb; the last of them to leave closes the fd.
	fCloseDeferred
	// fReaping: the deferred close is being carried out.
	fReaping
)

// Shared-list link encoding (HAProxy's fd_add_to_fd_list): next >= 0 is
// the next fd, -1 ends the list, next <= -3 means "not in the list" with
// the successor the entry had when removed encoded as -next-4.
const (
	listEnd     int32 = -1
	notInList   int32 = -3
	linkUnknown int32 = -1
)

// entry is one fd's slot.
//
// Locking: excl is a per-fd spin lock held by Insert, Delete, Remove and
// Takeover and, around each Updater.UpdateFD call, by DrainUpdates. A
// thread entering the iocb publishes its bit in running and backs off while
// excl is held, so once excl is held the set of running threads can only
// shrink. owner and iocb are written only with excl held and no other
// thread running; runners read them after re-checking, with their running
// bit published, that the fd and its generation are still the ones they
// came for.
type entry struct {
	running  atomic.Uint64 // threads running the iocb
	thread   atomic.Uint64 // threads allowed to process the fd
	update   atomic.Uint64 // threads with a pending polling update
	pollRecv atomic.Uint64 // threads whose kernel poller watches reads
	pollSend atomic.Uint64 // threads whose kernel poller watches writes
	state    atomic.Uint32 // State
	ev       atomic.Uint32 // State: conditions last reported, see evSticky
	flags    atomic.Uint32 // fOpen, fLinger, fCloned, fCloseDeferred
	gen      atomic.Uint32 // bumped on every Insert
	excl     atomic.Uint32 // the per-fd lock, see above

	// shared update list links, guarded by Table.mu
	next, prev int32

	owner any
	iocb  func(fd int, owner any)
}

type chunk [chunkSize]entry

// lock takes the per-fd lock. It is held for short, non-blocking work only
// (a few stores, one epoll_ctl), so waiters yield rather than sleep.
func (e *entry) lock() {
	for !e.excl.CompareAndSwap(0, 1) {
		runtime.Gosched()
	}
}

func (e *entry) unlock() { e.excl.Store(0) }

// waitRunners waits, with the lock held, until no thread other than self
// runs the fd's iocb. No new runner can start meanwhile.
func (e *entry) waitRunners(self uint64) {
	for e.running.Load()&^self != 0 {
		runtime.Gosched()
	}
}

// leave clears bit from the running mask. The last thread to leave an fd
// whose Delete was deferred closes it. Clearing is idempotent (a locked
// AND whose result is not needed, no compare-and-swap loop); whoever finds
// the mask empty once the close is deferred may reap, and reap runs once.
// Delete checks the mask again after deferring, so a runner that left
// before the flag was set is not missed.
func (e *entry) leave(fd int, bit uint64) {
	e.running.And(^bit)
	if e.flags.Load() == fCloseDeferred {
		e.reapIdle(fd)
	}
}

// reapIdle reaps the fd if no thread runs it any more. It is kept out of
// line so that leave, on every event's path, is inlined.
//
//go:noinline
func (e *entry) reapIdle(fd int) {
	if e.running.Load() == 0 {
		e.reap(fd)
	}
}

// reap carries out a deferred close, once, whoever calls it.
func (e *entry) reap(fd int) {
	if !e.flags.CompareAndSwap(fCloseDeferred, fReaping) {
		return
	}
	e.owner, e.iocb = nil, nil
	// Nobody can learn of a failure here: Delete has returned.
	_ = unix.Close(fd)
	e.flags.Store(0)
}
