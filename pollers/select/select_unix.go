//go:build unix

package selectpoll

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sync/atomic"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/internal/closeq"
	"github.com/evpoll/evpoll/internal/pollable"
	"github.com/evpoll/evpoll/poller"
	"golang.org/x/sys/unix"
)

// Poller is one thread's select(2) instance. Poll, Fork and Term belong to
// the thread's goroutine, and so does Registered, which reads the
// goroutine's own sets; Clo (the close hook), Flags, KernelUpdates and
// KernelWaits may be called from any goroutine. A poll cycle takes no lock
// unless close hooks ran since the last one.
type Poller struct {
	ctx *poller.Context
	th  *fdtable.Thread
	tab *fdtable.Table
	tid int
	bit uint64
	max int // ready fds dispatched per cycle at most

	closed  atomic.Bool
	waits   atomic.Uint64 // kernel waits
	updates atomic.Uint64 // changes made to the sets

	// closing holds the fds whose close hook ran (on any goroutine),
	// removed at the start of the next cycle. The fd_sets belongs to
	// the polling goroutine, so a poll cycle takes no lock unless close
	// hooks ran since the last one.
	closing closeq.Queue
	sets    fdSets
	kinds   pollable.Checker

	// Owned by the polling goroutine.
	trd, twr unix.FdSet   // the copies select overwrites
	tv       unix.Timeval // select may overwrite it too
	ready    []ready      // fds reported by the last select
	start    int          // fd the next dispatch starts from
	bad      []int        // fds select found closed (EBADF)
	drop     []int        // fds to drop from the sets after dispatching
	rejected []closedFD   // fds found closed: never re-added
}

// closedFD is an fd with a generation that select found closed: that
// generation of the fd is never watched again.
type closedFD struct {
	fd  int
	gen uint32
}

var (
	_ poller.Poller       = (*Poller)(nil)
	_ poller.Introspector = (*Poller)(nil)
	_ poller.Waiter       = (*Poller)(nil)
	_ fdtable.Updater     = (*Poller)(nil)
	_ fdtable.CloseHook   = (*Poller)(nil)
)

// checkTable fails if tab can hold fds select cannot watch (HAProxy's
// select _do_test and _do_init: maxsock > FD_SETSIZE).
func checkTable(tab *fdtable.Table) error {
	if n := tab.MaxFDs(); n > SetSize {
		return fmt.Errorf("select: fd table of %d fds reaches %w (%d)", n, ErrFDSetSize, SetSize)
	}
	return nil
}

// New creates a select instance for ctx's thread and attaches it to the
// thread in the table (its close hook): every fd the thread already owns
// and wants is registered at the first Poll. It fails, wrapping [ErrFDSetSize], if
// the table can hold fds at or above FD_SETSIZE.
func New(ctx *poller.Context) (*Poller, error) {
	if ctx == nil || ctx.Thread == nil || ctx.Thread.Bit() == 0 {
		return nil, errors.New("select: context without a thread")
	}
	if err := checkTable(ctx.Table); err != nil {
		return nil, err
	}
	return newPoller(ctx)
}

// newPoller is New without the table size check.
func newPoller(ctx *poller.Context) (*Poller, error) {
	p := &Poller{
		ctx: ctx,
		th:  ctx.Thread,
		tab: ctx.Table,
		tid: ctx.Thread.ID(),
		bit: ctx.Thread.Bit(),
		max: ctx.EventsPerPoll(),
	}
	p.ready = make([]ready, 0, min(p.max, SetSize))
	if err := p.th.Attach(p); err != nil {
		return nil, fmt.Errorf("select: %w", err)
	}
	return p, nil
}

// Flags returns 0: select reports neither hangups, errors nor peer
// shutdowns.
func (p *Poller) Flags() poller.Flags { return 0 }

// KernelUpdates returns the number of changes made to the fd_sets
// (registrations added, changed or removed), that is of registration
// changes the kernel sees at the next select(2) call. It implements
// conformance.UpdateCounter.
func (p *Poller) KernelUpdates() uint64 { return p.updates.Load() }

// KernelWaits returns the number of select(2) calls made, not counting calls
// a signal interrupted (they are retried). It implements
// conformance.WaitCounter.
func (p *Poller) KernelWaits() uint64 { return p.waits.Load() }

// desired returns the directions an instance should watch an fd for,
// given its state and whether the fd belongs to the instance's thread
// (HAProxy's ev_select.c): the ACTIVE bits of an fd the thread owns, nothing
// otherwise.
func desired(st fdtable.State, ours bool) (recv, send bool) {
	if !ours {
		return false, false
	}
	return st&fdtable.ActiveR != 0, st&fdtable.ActiveW != 0
}

// translate converts select's verdict for one fd into FD_EV_* event bits,
// as HAProxy's ev_select.c does: in the read set → READY_R, in the write set → READY_W.
func translate(inRead, inWrite bool) fdtable.State {
	var s fdtable.State
	if inRead {
		s |= fdtable.ReadyR
	}
	if inWrite {
		s |= fdtable.ReadyW
	}
	return s
}

// UpdateFD applies fd's desired state to the instance's sets. It is
// called by fdtable.Thread.DrainUpdates on the polling goroutine, with the
// fd locked. An fd at or above FD_SETSIZE, and a regular file or directory
// (refused with EPERM, as epoll refuses it), cannot be watched: the fd's
// owner gets an error event.
func (p *Poller) UpdateFD(u fdtable.Update) {
	fd, gen := u.FD, u.Gen
	recv, send := desired(u.State, u.Ours)
	if len(p.rejected) > 0 && p.isRejected(fd, gen) {
		// Already reported to its owner: watching it again would make
		// select fail cycle after cycle.
		recv, send = false, false
	}
	if !recv && !send {
		if p.sets.remove(fd) {
			p.updates.Add(1)
			if !u.Ours {
				// Migrated to another thread: not ours to watch.
				p.ctx.Activity.PollSkipFD.Add(1)
			}
		}
		p.tab.SetPolled(fd, p.tid, false, false)
		return
	}
	var err error
	if fd >= SetSize {
		err = fmt.Errorf("select: register fd %d: %w (%d)", fd, ErrFDSetSize, SetSize)
	} else if !u.PolledRecv && !u.PolledSend {
		err = p.kinds.Check("select", fd, gen)
	}
	if err != nil {
		p.tab.SetPolled(fd, p.tid, false, false)
		p.ctx.FailFD(fd, gen, err)
		return
	}
	p.tab.SetPolled(fd, p.tid, recv, send)
	if changed, _ := p.sets.set(fd, recv, send, gen); changed {
		p.updates.Add(1)
	}
}

// isRejected reports whether this generation of fd was refused or found
// closed; a record for an older generation is forgotten.
func (p *Poller) isRejected(fd int, gen uint32) bool {
	for i, r := range p.rejected {
		if r.fd == fd {
			if r.gen == gen {
				return true
			}
			p.rejected = slices.Delete(p.rejected, i, i+1)
			return false
		}
	}
	return false
}

// KernelWait waits for events (poller.Waiter). If select fails with EBADF
// because a watched fd was closed behind the table's back, it finds the
// fds select refuses and returns them as the events of the cycle.
func (p *Poller) KernelWait(timeoutMS int) (int, error) {
	s := &p.sets
	nw := s.words()
	copy(p.trd.Bits[:nw], s.rd.Bits[:nw])
	copy(p.twr.Bits[:nw], s.wr.Bits[:nw])
	var rd, wr *unix.FdSet
	if s.nrd > 0 {
		rd = &p.trd
	}
	if s.nwr > 0 {
		wr = &p.twr
	}
	p.tv = unix.NsecToTimeval(int64(timeoutMS) * 1e6)
	n, err := unix.Select(s.maxfd, rd, wr, nil, &p.tv)
	if err != unix.EINTR {
		p.waits.Add(1)
	}
	if err == unix.EBADF {
		return p.findBad()
	}
	if err != nil {
		return 0, os.NewSyscallError("select", err)
	}
	return n, nil
}

// findBad records in p.bad the watched fds select refuses (closed behind
// the table's back, or of a kind select cannot watch) and clears the
// result sets. It probes each watched fd with its own zero-timeout select,
// so the verdict is select's own. If none is refused any more (the fd was
// reopened meanwhile), the cycle simply has no events.
func (p *Poller) findBad() (int, error) {
	s := &p.sets
	nw := s.words()
	clear(p.trd.Bits[:nw])
	clear(p.twr.Bits[:nw])
	p.bad = p.bad[:0]
	var one unix.FdSet
	for fd := 0; fd < s.maxfd; fd++ {
		if !s.rd.IsSet(fd) && !s.wr.IsSet(fd) {
			continue
		}
		one.Zero()
		one.Set(fd)
		var zero unix.Timeval
		if _, err := unix.Select(fd+1, &one, nil, nil, &zero); err == unix.EBADF {
			p.bad = append(p.bad, fd)
		}
	}
	return len(p.bad), nil
}

// Poll runs one poll cycle (HAProxy's _do_poll): it applies pending
// removals and updates, waits until exp (not at all when wake is set) and
// dispatches the events. Busy polling is ignored. It fails only if select
// itself does.
func (p *Poller) Poll(exp poller.Tick, wake bool) error {
	if p.closed.Load() {
		return fmt.Errorf("select: poll: %w", poller.ErrClosed)
	}
	p.forgetClosed()
	dropped := p.th.DrainUpdates(p, true)
	if dropped > 0 {
		p.ctx.Activity.PollDropFD.Add(uint32(dropped))
	}
	n, err := p.ctx.Wait(p, exp, wake, false)
	if err != nil {
		return fmt.Errorf("select: %w", err)
	}
	if n > 0 {
		p.dispatch()
	}
	return nil
}

// forgetClosed removes the fds whose close hook ran since the last cycle.
func (p *Poller) forgetClosed() {
	for _, c := range p.closing.Take() {
		if p.sets.removeGen(c.FD, c.Gen) {
			p.updates.Add(1)
			p.tab.SetPolled(c.FD, p.tid, false, false)
		}
	}
}

// dispatch reports the fds of the last select: first those it found
// closed, then the ready ones, at most p.max of them, starting where the
// previous dispatch stopped so that no fd starves. The rest stay ready in
// the kernel (select is level-triggered) and are reported by the next
// cycle.
func (p *Poller) dispatch() {
	act := &p.ctx.Activity
	for _, fd := range p.bad {
		_, _, regGen, _ := p.sets.lookup(fd)
		// Closed behind the table's back: tell the owner if it is
		// still the one we registered, and stop watching it, or every
		// later select would fail. The error event queues a lazy-stop
		// update; rejected keeps that update from adding the fd back.
		act.PollDeadFD.Add(1)
		p.drop = append(p.drop, fd)
		p.rejected = append(p.rejected, closedFD{fd, regGen})
		p.th.Dispatch(fd, regGen, fdtable.ErrRW)
	}
	p.bad = p.bad[:0]

	p.ready, p.start = collect(p.ready, &p.trd, &p.twr, p.sets.maxfd, p.start, p.max)
	gens := p.sets.gens // an iocb may Term the instance, which resets p.sets
	for _, r := range p.ready {
		fd := r.fd
		switch p.th.Dispatch(fd, gens[fd], translate(r.recv, r.send)) {
		case fdtable.Dead:
			act.PollDeadFD.Add(1)
			p.drop = append(p.drop, fd)
		case fdtable.Stale:
			// The fd number was closed and reused since it was
			// registered: the event was meant for its previous user.
			act.PollStaleFD.Add(1)
			p.drop = append(p.drop, fd)
		case fdtable.Migrated:
			act.PollSkipFD.Add(1)
			p.drop = append(p.drop, fd)
		}
	}

	if len(p.drop) > 0 {
		for _, fd := range p.drop {
			if p.sets.remove(fd) {
				p.updates.Add(1)
			}
			p.tab.SetPolled(fd, p.tid, false, false)
		}
		p.drop = p.drop[:0]
	}
}

// Closing is the close hook. It may run on any goroutine, including from
// an iocb during this instance's dispatch, so it only queues the removal,
// which the next cycle applies before calling the kernel.
func (p *Poller) Closing(fd int, gen uint32, _ bool) {
	p.closing.Push(fd, gen)
}

// Fork does nothing: select keeps no kernel object that a child would
// share.
func (p *Poller) Fork() error {
	if p.closed.Load() {
		return fmt.Errorf("select: fork: %w", poller.ErrClosed)
	}
	return nil
}

// Term forgets every registration and detaches the instance from its
// thread (close hook and polled bits), unless a newer instance replaced it
// there. It is idempotent.
func (p *Poller) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	p.th.Detach(p)
	p.closing.Close()
	p.sets.reset()
	p.kinds.Reset()
	p.ready, p.bad, p.drop, p.rejected = nil, nil, nil, nil
	return nil
}

// Registered returns the instance's registrations, sorted by fd. select(2)
// keeps no state in the kernel between calls, so there is nothing to read
// back: these are the fd_sets the next call passes to the kernel, less the
// fds whose close hook ran since the last cycle (they are removed before
// that call). Call it from the polling goroutine.
func (p *Poller) Registered() ([]poller.Registration, error) {
	if p.closed.Load() {
		return nil, fmt.Errorf("select: registered: %w", poller.ErrClosed)
	}
	var regs []poller.Registration
	for fd := 0; fd < p.sets.maxfd; fd++ {
		recv, send, gen, ok := p.sets.lookup(fd)
		if !ok || p.closing.Contains(fd, gen) {
			continue
		}
		regs = append(regs, poller.Registration{FD: fd, Recv: recv, Send: send, Gen: gen})
	}
	return regs, nil
}
