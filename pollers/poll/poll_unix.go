//go:build unix

package poll

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

// Poller is one thread's poll(2) instance. Poll, Fork and Term belong to
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

	flags   atomic.Uint32
	closed  atomic.Bool
	waits   atomic.Uint64 // kernel waits
	updates atomic.Uint64 // changes made to the array

	// closing holds the fds whose close hook ran (on any goroutine),
	// removed at the start of the next cycle. The pollfd array belongs to
	// the polling goroutine, so a poll cycle takes no lock unless close
	// hooks ran since the last one.
	closing closeq.Queue
	arr     fdArray
	kinds   pollable.Checker

	// Owned by the polling goroutine.
	drop     []int      // fds to drop from the array after dispatching
	rejected []closedFD // fds reported closed by POLLNVAL: never re-added
	start    int        // array index the next dispatch starts from
}

// closedFD is an fd with a generation that the kernel reported closed:
// that generation of the fd is never polled again.
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

// New creates a poll instance for ctx's thread and attaches it to the
// thread in the table (its close hook): every fd the thread already owns
// and wants is registered at the first Poll. There is no kernel object: it cannot
// fail for lack of resources.
func New(ctx *poller.Context) (*Poller, error) {
	if ctx == nil || ctx.Thread == nil || ctx.Thread.Bit() == 0 {
		return nil, errors.New("poll: context without a thread")
	}
	p := &Poller{
		ctx: ctx,
		th:  ctx.Thread,
		tab: ctx.Table,
		tid: ctx.Thread.ID(),
		bit: ctx.Thread.Bit(),
		max: ctx.EventsPerPoll(),
	}
	p.flags.Store(uint32(staticFlags))
	if err := p.th.Attach(p); err != nil {
		return nil, fmt.Errorf("poll: %w", err)
	}
	return p, nil
}

// Flags returns the instance's capabilities: ERRHUP always, RDHUP once the
// kernel has been seen reporting POLLRDHUP.
func (p *Poller) Flags() poller.Flags { return poller.Flags(p.flags.Load()) }

// KernelUpdates returns the number of changes made to the pollfd array
// (entries added, changed or removed), that is of registration changes the
// kernel sees at the next poll(2) call. It implements
// conformance.UpdateCounter.
func (p *Poller) KernelUpdates() uint64 { return p.updates.Load() }

// KernelWaits returns the number of poll(2) calls made, not counting calls
// a signal interrupted (they are retried). It implements
// conformance.WaitCounter.
func (p *Poller) KernelWaits() uint64 { return p.waits.Load() }

// desired returns the directions an instance should poll an fd for, given
// its state and whether the fd belongs to the instance's thread (HAProxy's
// ev_poll.c): the ACTIVE bits of an fd the thread owns, nothing otherwise. poll
// has no sticky-read rule.
func desired(st fdtable.State, ours bool) (recv, send bool) {
	if !ours {
		return false, false
	}
	return st&fdtable.ActiveR != 0, st&fdtable.ActiveW != 0
}

// eventMask returns the pollfd events registered for the given directions.
func eventMask(recv, send bool) int16 {
	var m int16
	if recv {
		m |= unix.POLLIN | pollRDHUP
	}
	if send {
		m |= unix.POLLOUT
	}
	return m
}

// translate converts poll revents into FD_EV_* event bits as HAProxy's
// ev_poll.c does: IN → READY_R, OUT → READY_W, RDHUP → SHUT_R, HUP →
// SHUT_R|SHUT_W, ERR → ERR_RW. POLLNVAL (the fd is not open) is an error; the poller also drops
// such an fd.
func translate(revents int16) fdtable.State {
	var s fdtable.State
	if revents&unix.POLLIN != 0 {
		s |= fdtable.ReadyR
	}
	if revents&unix.POLLOUT != 0 {
		s |= fdtable.ReadyW
	}
	if revents&pollRDHUP != 0 {
		s |= fdtable.ShutR
	}
	if revents&unix.POLLHUP != 0 {
		s |= fdtable.ShutRW
	}
	if revents&(unix.POLLERR|unix.POLLNVAL) != 0 {
		s |= fdtable.ErrRW
	}
	return s
}

// UpdateFD applies fd's desired state to the instance's array. It is
// called by fdtable.Thread.DrainUpdates on the polling goroutine, with the
// fd locked. A regular file or directory is refused with EPERM, as epoll
// refuses it, and its owner gets an error event.
func (p *Poller) UpdateFD(u fdtable.Update) {
	fd, gen := u.FD, u.Gen
	recv, send := desired(u.State, u.Ours)
	if len(p.rejected) > 0 && p.isRejected(fd, gen) {
		// Already reported closed: polling it again would only make
		// poll return at once with POLLNVAL, cycle after cycle.
		recv, send = false, false
	}
	if !recv && !send {
		if p.arr.remove(fd) {
			p.updates.Add(1)
			if !u.Ours {
				// Migrated to another thread: not ours to poll.
				p.ctx.Activity.PollSkipFD.Add(1)
			}
		}
		p.tab.SetPolled(fd, p.tid, false, false)
		return
	}
	if !u.PolledRecv && !u.PolledSend {
		if err := p.kinds.Check("poll", fd, gen); err != nil {
			p.tab.SetPolled(fd, p.tid, false, false)
			p.ctx.FailFD(fd, gen, err)
			return
		}
	}
	p.tab.SetPolled(fd, p.tid, recv, send)
	if p.arr.set(fd, eventMask(recv, send), gen) {
		p.updates.Add(1)
	}
}

// isRejected reports whether this generation of fd was reported closed by
// the kernel; a record for an older generation is forgotten.
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

// KernelWait waits for events (poller.Waiter).
func (p *Poller) KernelWait(timeoutMS int) (int, error) {
	n, err := unix.Poll(p.arr.pfds, timeoutMS)
	if err != unix.EINTR {
		p.waits.Add(1)
	}
	if err != nil {
		return 0, os.NewSyscallError("poll", err)
	}
	return n, nil
}

// Poll runs one poll cycle (HAProxy's _do_poll): it applies pending removals
// and updates, waits until exp (not at all when wake is set) and
// dispatches the events. Busy polling is ignored.
func (p *Poller) Poll(exp poller.Tick, wake bool) error {
	if p.closed.Load() {
		return fmt.Errorf("poll: poll: %w", poller.ErrClosed)
	}
	p.forgetClosed()
	dropped := p.th.DrainUpdates(p, true)
	if dropped > 0 {
		p.ctx.Activity.PollDropFD.Add(uint32(dropped))
	}
	n, err := p.ctx.Wait(p, exp, wake, false)
	if err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	if n > 0 {
		p.dispatch(n)
	}
	return nil
}

// forgetClosed removes the fds whose close hook ran since the last cycle.
func (p *Poller) forgetClosed() {
	for _, c := range p.closing.Take() {
		if p.arr.removeGen(c.FD, c.Gen) {
			p.updates.Add(1)
			p.tab.SetPolled(c.FD, p.tid, false, false)
		}
	}
}

// dispatch reports the n ready entries of the array, at most p.max of
// them, starting where the previous dispatch stopped so that no fd
// starves. The rest stay ready in the kernel (poll is level-triggered)
// and are reported by the next cycle.
func (p *Poller) dispatch(n int) {
	pfds, gens := p.arr.pfds, p.arr.gens
	size := len(pfds)
	i := p.start
	if i >= size {
		i = 0
	}
	done := 0
	for k := 0; k < size && n > 0; k++ {
		if done == p.max {
			p.start = i
			break
		}
		if re := pfds[i].Revents; re != 0 {
			n--
			done++
			p.event(int(pfds[i].Fd), gens[i], re)
		}
		if i++; i == size {
			i = 0
		}
	}
	if len(p.drop) > 0 {
		for _, fd := range p.drop {
			if p.arr.remove(fd) {
				p.updates.Add(1)
			}
			p.tab.SetPolled(fd, p.tid, false, false)
		}
		p.drop = p.drop[:0]
	}
}

// event handles the revents of fd, registered with generation regGen.
func (p *Poller) event(fd int, regGen uint32, re int16) {
	act := &p.ctx.Activity
	nval := re&unix.POLLNVAL != 0
	evts := translate(re)
	if nval {
		evts = fdtable.ErrRW
	} else if re&pollRDHUP != 0 && p.flags.Load()&uint32(poller.FlagRDHUP) == 0 {
		// Set before the callback runs: it may read the flags.
		p.flags.Or(uint32(poller.FlagRDHUP))
	}
	switch p.th.Dispatch(fd, regGen, evts) {
	case fdtable.Dead:
		act.PollDeadFD.Add(1)
		p.drop = append(p.drop, fd)
	case fdtable.Stale:
		// The fd number was closed and reused since it was registered:
		// the event was meant for its previous user.
		act.PollStaleFD.Add(1)
		p.drop = append(p.drop, fd)
	case fdtable.Migrated:
		act.PollSkipFD.Add(1)
		p.drop = append(p.drop, fd)
	case fdtable.Delivered:
		if nval {
			// Closed behind the table's back: the owner was told
			// (ERR_RW); stop polling it, or every later poll would
			// return at once. The error event queued a lazy-stop
			// update (nobody wants writes); rejected keeps that update
			// from adding the fd back.
			act.PollDeadFD.Add(1)
			p.drop = append(p.drop, fd)
			p.rejected = append(p.rejected, closedFD{fd, regGen})
		}
	}
}

// Closing is the close hook. It may run on any goroutine, including from
// an iocb during this instance's dispatch, so it only queues the removal,
// which the next cycle applies before calling the kernel.
func (p *Poller) Closing(fd int, gen uint32, _ bool) {
	p.closing.Push(fd, gen)
}

// Fork does nothing: poll keeps no kernel object that a child would share.
func (p *Poller) Fork() error {
	if p.closed.Load() {
		return fmt.Errorf("poll: fork: %w", poller.ErrClosed)
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
	p.arr.reset()
	p.kinds.Reset()
	p.drop, p.rejected = nil, nil
	return nil
}

// Registered returns the instance's registrations, sorted by fd. poll(2)
// keeps no state in the kernel between calls, so there is nothing to read
// back: this is the pollfd array the next call passes to the kernel, less
// the fds whose close hook ran since the last cycle (they are removed
// before that call). Call it from the polling goroutine.
func (p *Poller) Registered() ([]poller.Registration, error) {
	if p.closed.Load() {
		return nil, fmt.Errorf("poll: registered: %w", poller.ErrClosed)
	}
	regs := make([]poller.Registration, 0, p.arr.len())
	for i, pf := range p.arr.pfds {
		fd, gen := int(pf.Fd), p.arr.gens[i]
		if p.closing.Contains(fd, gen) {
			continue
		}
		regs = append(regs, poller.Registration{
			FD:   fd,
			Recv: pf.Events&unix.POLLIN != 0,
			Send: pf.Events&unix.POLLOUT != 0,
			Gen:  gen,
		})
	}
	slices.SortFunc(regs, func(a, b poller.Registration) int { return a.FD - b.FD })
	return regs, nil
}
