//go:build unix

package poll

import (
	"fmt"
	"os"
	"slices"
	"sync/atomic"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/internal/userset"
	"github.com/evpoll/evpoll/poller"
	"golang.org/x/sys/unix"
)

// Poller is one thread's poll(2) instance. Poll, Fork and Close belong to
// the thread's goroutine, and so does Registered, which reads the
// goroutine's own array; Closing (the close hook), Flags, KernelUpdates
// and KernelWaits may be called from any goroutine. A poll cycle takes no
// lock unless close hooks ran since the last one.
type Poller struct {
	userset.Base[*fdArray]
	flags atomic.Uint32
	arr   fdArray
	start int // array index the next dispatch starts from
}

var (
	_ poller.Poller       = (*Poller)(nil)
	_ poller.Introspector = (*Poller)(nil)
	_ poller.Waiter       = (*Poller)(nil)
	_ fdtable.Updater     = (*Poller)(nil)
)

// New creates a poll instance for ctx's thread and attaches it to the
// thread in the table (its close hook): every fd the thread already owns
// and wants is registered at the first Poll. There is no kernel object: it
// cannot fail for lack of resources.
func New(ctx *poller.Context) (*Poller, error) {
	p := &Poller{}
	p.flags.Store(uint32(staticFlags))
	if err := p.Init("poll", p, ctx, &p.arr, nil); err != nil {
		return nil, err
	}
	return p, nil
}

// Flags returns the instance's capabilities: ERRHUP always, RDHUP once the
// kernel has been seen reporting POLLRDHUP.
func (p *Poller) Flags() poller.Flags { return poller.Flags(p.flags.Load()) }

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
	switch revents {
	case unix.POLLIN: // the common cases first
		return fdtable.ReadyR
	case unix.POLLOUT:
		return fdtable.ReadyW
	}
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
		s |= fdtable.ShutR | fdtable.ShutW
	}
	if revents&(unix.POLLERR|unix.POLLNVAL) != 0 {
		s |= fdtable.ErrRW
	}
	return s
}

// KernelWait waits for events (poller.Waiter).
func (p *Poller) KernelWait(timeoutMS int) (int, error) {
	n, err := unix.Poll(p.arr.pfds, timeoutMS)
	if err != unix.EINTR {
		p.CountWait()
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
	if err := p.Begin(); err != nil {
		return err
	}
	// Releases the fd of an iocb that panicked or exited its goroutine.
	defer p.Th.EndDispatch()
	n, err := p.Ctx.Wait(p, exp, wake, false)
	if err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	if n > 0 {
		p.dispatch(n)
	}
	return nil
}

// dispatch reports the n ready entries of the array, at most p.max of
// them, starting where the previous dispatch stopped so that no fd
// starves. The rest stay ready in the kernel (poll is level-triggered)
// and are reported by the next cycle.
func (p *Poller) dispatch(n int) {
	// An iocb may Close the instance, which resets the array: scan the
	// one the kernel filled.
	pfds, gens := p.arr.pfds, p.arr.gens
	size := len(pfds)
	from := p.start
	if from >= size {
		from = 0
	}
	done := 0
	// Two straight scans, from..size then 0..from, instead of one that
	// wraps around: the per-entry work is one load and one test, as in a
	// hand-written poll loop.
	if n, done = p.scan(pfds, gens, from, n, done); n > 0 && done < p.Max {
		p.scan(pfds[:from], gens[:from], 0, n, done)
	}
	p.End()
}

// scan dispatches the ready entries of pfds (with their generations in
// gens) from index from on, n of which at most remain, done of at most
// p.Max already dispatched this cycle. When the limit is reached with
// ready entries left, the next dispatch starts at the first of them. The
// common case (plain readiness, delivered) stays in this loop; the rest
// is handled by p.event.
func (p *Poller) scan(pfds []unix.PollFd, gens []uint32, from, n, done int) (int, int) {
	th, limit := p.Th, p.Max
	for i := from; i < len(pfds) && n > 0; i++ {
		re := pfds[i].Revents
		if re == 0 {
			continue
		}
		if done == limit {
			p.start = i
			return 0, done
		}
		n--
		done++
		fd := int(pfds[i].Fd)
		if re&^(unix.POLLIN|unix.POLLOUT) != 0 {
			p.event(fd, gens[i], re)
		} else if o := th.Dispatch(fd, gens[i], translate(re)); o != fdtable.Delivered {
			p.Outcome(fd, o)
		}
	}
	return n, done
}

// event handles revents of fd, registered with generation regGen, that
// hold more than IN and OUT: RDHUP, HUP, ERR or NVAL.
func (p *Poller) event(fd int, regGen uint32, re int16) {
	nval := re&unix.POLLNVAL != 0
	evts := translate(re)
	if nval {
		evts = fdtable.ErrRW
	} else if re&pollRDHUP != 0 && p.flags.Load()&uint32(poller.FlagRDHUP) == 0 {
		// Set before the callback runs: it may read the flags.
		p.flags.Or(uint32(poller.FlagRDHUP))
	}
	o := p.Th.Dispatch(fd, regGen, evts)
	if o == fdtable.Delivered && nval {
		// Closed behind the table's back: the owner was told (ERR_RW);
		// stop polling it, or every later poll would return at once.
		p.Reject(fd, regGen)
	}
	p.Outcome(fd, o)
}

// Registered returns the instance's registrations, sorted by fd. poll(2)
// keeps no state in the kernel between calls, so there is nothing to read
// back: this is the pollfd array the next call passes to the kernel, less
// the fds whose close hook ran since the last cycle (they are removed
// before that call). Call it from the polling goroutine.
func (p *Poller) Registered() ([]poller.Registration, error) {
	if err := p.ErrIfClosed("registered"); err != nil {
		return nil, err
	}
	regs := make([]poller.Registration, 0, p.arr.len())
	for i, pf := range p.arr.pfds {
		fd, gen := int(pf.Fd), p.arr.gens[i]
		if p.Queued(fd, gen) {
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
