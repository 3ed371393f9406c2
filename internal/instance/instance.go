package instance

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
)

// Base is the shared part of a backend instance. Its fields are set by
// Init and then only read; the counters and the closed flag are safe from
// any goroutine.
type Base struct {
	Ctx  *poller.Context
	Th   *fdtable.Thread
	Tab  *fdtable.Table
	TID  int
	Bit  uint64
	Name string // the backend's registered name, the prefix of its errors

	// Counters for the conformance suite: registration changes made in
	// the kernel, kernel waits that collected events, and registrations
	// the kernel refused.
	Updates, Waits, RegErrors atomic.Uint64

	closed atomic.Bool
	detach atomic.Pointer[func() bool]
}

// Init sets b up for ctx's thread. It fails if ctx has no thread of its
// own (a nil context, or the table's external handle).
func (b *Base) Init(name string, ctx *poller.Context) error {
	if ctx == nil || ctx.Thread == nil || ctx.Thread.Bit() == 0 {
		return errors.New(name + ": context without a thread")
	}
	b.Ctx, b.Th, b.Tab = ctx, ctx.Thread, ctx.Table
	b.TID, b.Bit, b.Name = ctx.Thread.ID(), ctx.Thread.Bit(), name
	return nil
}

// Attach makes self (the embedding instance) the thread's instance in the
// table, which queues every fd the thread already wants, and keeps the
// detach function for Release. A fork calls it again on the new kernel
// object. op names the operation in the error ("" for the constructor).
func (b *Base) Attach(self fdtable.Updater, op string) error {
	detach, err := b.Th.Attach(self)
	if err != nil {
		if op != "" {
			return fmt.Errorf("%s: %s: %w", b.Name, op, err)
		}
		return fmt.Errorf("%s: %w", b.Name, err)
	}
	b.detach.Store(&detach)
	return nil
}

// Reattach attaches self again after op (a fork, a rebuild) replaced its
// kernel object, and registers at once every fd the thread wants: Fork
// runs on the polling goroutine, and its caller expects a working instance
// when it returns. Local updates for fds closed meanwhile count in
// poll_drop_fd.
func (b *Base) Reattach(self fdtable.Updater, op string) error {
	if err := b.Attach(self, op); err != nil {
		return err
	}
	b.Drain(self)
	return nil
}

// Drain hands self the thread's pending updates, each thread
// acknowledging its own (see fdtable.Thread.DrainUpdates), and counts the
// local ones dropped for closed fds in poll_drop_fd.
func (b *Base) Drain(self fdtable.Updater) {
	if d := b.Th.DrainUpdates(self, true); d > 0 {
		b.Ctx.Activity.PollDropFD.Add(uint32(d))
	}
}

// Count counts in the thread's activity what fdtable.Thread.Dispatch did
// with an event that was not delivered: poll_dead_fd for a closed fd,
// poll_stale_fd for an event meant for a previous user of the fd number,
// poll_skip_fd for an fd that moved to another thread. It reports whether
// the event was delivered.
func (b *Base) Count(o fdtable.Outcome) (delivered bool) {
	act := &b.Ctx.Activity
	switch o {
	case fdtable.Dead:
		act.PollDeadFD.Add(1)
	case fdtable.Stale:
		act.PollStaleFD.Add(1)
	case fdtable.Migrated:
		act.PollSkipFD.Add(1)
	default:
		return true
	}
	return false
}

// ErrIfClosed returns poller.ErrClosed, wrapped with the backend's name
// and op, once Release ran, and nil before.
func (b *Base) ErrIfClosed(op string) error {
	if b.Closed() {
		return fmt.Errorf("%s: %s: %w", b.Name, op, poller.ErrClosed)
	}
	return nil
}

// Release marks the instance closed and detaches it from its thread,
// unless a newer instance replaced it there. It reports whether this call
// closed it: only the first call does, so Close stays idempotent.
func (b *Base) Release() bool {
	if b.closed.Swap(true) {
		return false
	}
	if d := b.detach.Load(); d != nil {
		(*d)()
	}
	return true
}

// Closed reports whether Release ran.
func (b *Base) Closed() bool { return b.closed.Load() }
