//go:build unix

// Package userset is the skeleton shared by the backends that keep their
// registrations in user space and hand them to the kernel whole at every
// wait (poll's pollfd array, select's fd_sets): applying updates, the
// close-hook queue, the fds the kernel reported closed, dropping fds after
// dispatch, and the instance's life cycle. Each backend keeps only its
// set, its kernel wait and its event translation.
package userset

import (
	"slices"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/internal/closeq"
	"github.com/evpoll/evpoll/internal/instance"
	"github.com/evpoll/evpoll/internal/pollable"
	"github.com/evpoll/evpoll/poller"
)

// Set is a backend's registration set. It belongs to the polling
// goroutine.
type Set interface {
	// Put registers fd for the given directions (at least one) with
	// generation gen and reports whether the set changed.
	Put(fd int, recv, send bool, gen uint32) bool
	// Remove unregisters fd and reports whether it was registered.
	Remove(fd int) bool
	// RemoveGen unregisters fd only if registered with generation gen.
	RemoveGen(fd int, gen uint32) bool
	// Reset forgets everything.
	Reset()
}

// Base is the shared part of a user-space backend's instance. The backend
// embeds it, calls Init from its constructor and Begin at the start of its
// Poll, and reports each event's outcome with Outcome. Its exported
// methods implement fdtable.Updater and the counters of
// the conformance suite, and Fork and Close of poller.Poller.
type Base[S Set] struct {
	instance.Base
	Max int // ready fds dispatched per cycle at most
	Set S

	limit func(fd int) error // refuses fds the set cannot hold

	// closing holds the fds whose close hook ran (on any goroutine),
	// removed at the start of the next cycle. The set belongs to the
	// polling goroutine, so a cycle takes no lock unless close hooks ran
	// since the last one.
	closing closeq.Queue
	kinds   pollable.Checker

	drop     []int      // fds to drop from the set after dispatching
	rejected []rejected // fds the kernel reported closed: never re-added
}

// rejected is an fd with a generation that the kernel reported closed:
// that generation of the fd is never watched again.
type rejected struct {
	fd  int
	gen uint32
}

// Init sets b up for ctx's thread and attaches self (the embedding
// instance) to the thread. limit, if not nil, refuses the fds the set
// cannot hold; the refusal is reported to the fd's owner.
func (b *Base[S]) Init(name string, self fdtable.Updater, ctx *poller.Context, set S, limit func(fd int) error) error {
	if err := b.Base.Init(name, ctx); err != nil {
		return err
	}
	b.Max, b.Set, b.limit = ctx.EventsPerPoll(), set, limit
	return b.Attach(self, "")
}

// KernelUpdates returns the number of changes made to the set (entries
// added, changed or removed), that is of registration changes the kernel
// sees at its next wait (conformance.UpdateCounter).
func (b *Base[S]) KernelUpdates() uint64 { return b.Updates.Load() }

// KernelWaits returns the number of kernel waits made, not counting those
// a signal interrupted (conformance.WaitCounter).
func (b *Base[S]) KernelWaits() uint64 { return b.Waits.Load() }

// CountWait counts a kernel wait that was not interrupted.
func (b *Base[S]) CountWait() { b.Waits.Add(1) }

// CountUpdate counts a change to the set made by the backend itself.
func (b *Base[S]) CountUpdate() { b.Updates.Add(1) }

// UpdateFD applies fd's desired state to the set: the ACTIVE bits of an fd
// the thread owns (these backends have no sticky-read rule). A regular
// file or directory is refused with EPERM, as epoll refuses it, and so is
// an fd the set cannot hold; the fd's owner gets an error event. It is
// called by fdtable.Thread.DrainUpdates on the polling goroutine, with the
// fd locked.
func (b *Base[S]) UpdateFD(u fdtable.Update) {
	fd, gen := u.FD, u.Gen
	recv, send := Desired(u.State, u.Ours)
	if len(b.rejected) > 0 && b.isRejected(fd, gen) {
		// Already reported closed: watching it again would only make
		// the kernel refuse it again, cycle after cycle.
		recv, send = false, false
	}
	if !recv && !send {
		if b.Set.Remove(fd) {
			b.Updates.Add(1)
			if !u.Ours {
				// Migrated to another thread: not ours to watch.
				b.Ctx.Activity.PollSkipFD.Add(1)
			}
		}
		b.Tab.SetPolled(fd, b.TID, false, false)
		return
	}
	var err error
	if b.limit != nil {
		err = b.limit(fd)
	}
	if err == nil && !u.PolledRecv && !u.PolledSend {
		err = b.kinds.Check(b.Name, fd, gen)
	}
	if err != nil {
		b.Tab.SetPolled(fd, b.TID, false, false)
		b.Ctx.FailFD(fd, gen, err)
		return
	}
	b.Tab.SetPolled(fd, b.TID, recv, send)
	if b.Set.Put(fd, recv, send, gen) {
		b.Updates.Add(1)
	}
}

// Desired returns the directions to watch an fd for, given its state and
// whether it belongs to the instance's thread (HAProxy's ev_poll.c and
// ev_select.c): the ACTIVE bits of an fd the thread owns, nothing
// otherwise. There is no sticky-read rule: wanting only to send watches
// only for sending.
func Desired(st fdtable.State, ours bool) (recv, send bool) {
	if !ours {
		return false, false
	}
	return st&fdtable.ActiveR != 0, st&fdtable.ActiveW != 0
}

// isRejected reports whether this generation of fd was reported closed; a
// record for an older generation is forgotten.
func (b *Base[S]) isRejected(fd int, gen uint32) bool {
	for i, r := range b.rejected {
		if r.fd == fd {
			if r.gen == gen {
				return true
			}
			b.rejected = slices.Delete(b.rejected, i, i+1)
			return false
		}
	}
	return false
}

// Begin starts a cycle: it fails after Close, removes the fds whose close
// hook ran since the last cycle and applies the pending updates.
func (b *Base[S]) Begin() error {
	if err := b.ErrIfClosed("poll"); err != nil {
		return err
	}
	for _, c := range b.closing.Take() {
		if b.Set.RemoveGen(c.FD, c.Gen) {
			b.Updates.Add(1)
			b.Tab.SetPolled(c.FD, b.TID, false, false)
		}
	}
	b.Drain(b)
	return nil
}

// Outcome counts what Dispatch did with an event for fd and, unless it was
// delivered, drops the fd after the dispatch.
func (b *Base[S]) Outcome(fd int, o fdtable.Outcome) {
	if !b.Count(o) {
		b.drop = append(b.drop, fd)
	}
}

// Reject records that the kernel reported fd, of generation gen, closed
// behind the table's back: it is counted in poll_dead_fd, dropped after
// the dispatch and never watched again (the error event its owner got
// queues a lazy-stop update, which must not add it back).
func (b *Base[S]) Reject(fd int, gen uint32) {
	b.Ctx.Activity.PollDeadFD.Add(1)
	b.drop = append(b.drop, fd)
	b.rejected = append(b.rejected, rejected{fd, gen})
}

// End finishes a dispatch: the fds to drop leave the set.
func (b *Base[S]) End() {
	for _, fd := range b.drop {
		if b.Set.Remove(fd) {
			b.Updates.Add(1)
		}
		b.Tab.SetPolled(fd, b.TID, false, false)
	}
	b.drop = b.drop[:0]
}

// Closing is the close hook. It may run on any goroutine, including from
// an iocb during this instance's dispatch, so it only queues the removal,
// which the next cycle applies before calling the kernel.
func (b *Base[S]) Closing(fd int, gen uint32, _ bool) { b.closing.Push(fd, gen) }

// Queued reports whether fd, of generation gen, waits in the close-hook
// queue: it leaves the set before the next kernel wait.
func (b *Base[S]) Queued(fd int, gen uint32) bool { return b.closing.Contains(fd, gen) }

// Fork does nothing: there is no kernel object a child would share, and
// the set already holds every wanted fd.
func (b *Base[S]) Fork() error {
	if err := b.ErrIfClosed("fork"); err != nil {
		return err
	}
	return nil
}

// Close forgets every registration and detaches the instance from its
// thread (close hook and polled bits), unless a newer instance replaced it
// there. It is idempotent.
func (b *Base[S]) Close() error {
	if !b.Release() {
		return nil
	}
	b.closing.Close()
	b.Set.Reset()
	b.kinds.Reset()
	b.drop, b.rejected = nil, nil
	return nil
}
