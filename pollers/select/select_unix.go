//go:build unix

package selectpoll

import (
	"fmt"
	"os"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/internal/userset"
	"github.com/evpoll/evpoll/poller"
	"golang.org/x/sys/unix"
)

// Poller is one thread's select(2) instance. Poll, Fork and Close belong
// to the thread's goroutine, and so does Registered, which reads the
// goroutine's own sets; Closing (the close hook), Flags, KernelUpdates and
// KernelWaits may be called from any goroutine. A poll cycle takes no lock
// unless close hooks ran since the last one.
type Poller struct {
	userset.Base[*fdSets]
	sets fdSets

	// Owned by the polling goroutine.
	trd, twr unix.FdSet   // the copies select overwrites
	tv       unix.Timeval // select may overwrite it too
	ready    []ready      // fds reported by the last select
	start    int          // fd the next dispatch starts from
	bad      []int        // fds select found closed (EBADF)
}

var (
	_ poller.Poller       = (*Poller)(nil)
	_ poller.Introspector = (*Poller)(nil)
	_ poller.Waiter       = (*Poller)(nil)
	_ fdtable.Updater     = (*Poller)(nil)
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
	if ctx != nil && ctx.Table != nil {
		if err := checkTable(ctx.Table); err != nil {
			return nil, err
		}
	}
	return newPoller(ctx)
}

// newPoller is New without the table size check.
func newPoller(ctx *poller.Context) (*Poller, error) {
	p := &Poller{}
	if err := p.Init("select", p, ctx, &p.sets, refuseBeyondSetSize); err != nil {
		return nil, err
	}
	p.ready = make([]ready, 0, min(p.Max, SetSize))
	return p, nil
}

// refuseBeyondSetSize refuses the fds an fd_set cannot hold.
func refuseBeyondSetSize(fd int) error {
	if fd >= SetSize {
		return fmt.Errorf("select: register fd %d: %w (%d)", fd, ErrFDSetSize, SetSize)
	}
	return nil
}

// Flags returns 0: select reports neither hangups, errors nor peer
// shutdowns.
func (p *Poller) Flags() poller.Flags { return 0 }

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
		p.CountWait()
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
	if err := p.Begin(); err != nil {
		return err
	}
	// Releases the fd of an iocb that panicked or exited its goroutine.
	defer p.Th.EndDispatch()
	n, err := p.Ctx.Wait(p, exp, wake, false)
	if err != nil {
		return fmt.Errorf("select: %w", err)
	}
	if n > 0 {
		p.dispatch()
	}
	return nil
}

// dispatch reports the fds of the last select: first those it found
// closed, then the ready ones, at most p.max of them, starting where the
// previous dispatch stopped so that no fd starves. The rest stay ready in
// the kernel (select is level-triggered) and are reported by the next
// cycle.
func (p *Poller) dispatch() {
	for _, fd := range p.bad {
		_, _, regGen, _ := p.sets.lookup(fd)
		// Closed behind the table's back: tell the owner if it is
		// still the one we registered, and stop watching it, or every
		// later select would fail.
		p.Reject(fd, regGen)
		p.Th.Dispatch(fd, regGen, fdtable.ErrRW)
	}
	p.bad = p.bad[:0]

	p.ready, p.start = collect(p.ready, &p.trd, &p.twr, p.sets.maxfd, p.start, p.Max)
	gens := p.sets.gens // an iocb may Close the instance, which resets p.sets
	for _, r := range p.ready {
		p.Outcome(r.fd, p.Th.Dispatch(r.fd, gens[r.fd], translate(r.recv, r.send)))
	}
	p.End()
}

// Registered returns the instance's registrations, sorted by fd. select(2)
// keeps no state in the kernel between calls, so there is nothing to read
// back: these are the fd_sets the next call passes to the kernel, less the
// fds whose close hook ran since the last cycle (they are removed before
// that call). Call it from the polling goroutine.
func (p *Poller) Registered() ([]poller.Registration, error) {
	if err := p.ErrIfClosed("registered"); err != nil {
		return nil, err
	}
	var regs []poller.Registration
	for fd := 0; fd < p.sets.maxfd; fd++ {
		recv, send, gen, ok := p.sets.lookup(fd)
		if !ok || p.Queued(fd, gen) {
			continue
		}
		regs = append(regs, poller.Registration{FD: fd, Recv: recv, Send: send, Gen: gen})
	}
	return regs, nil
}
