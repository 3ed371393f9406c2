//go:build darwin || freebsd || netbsd || openbsd || dragonfly || linux

package kqueue

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"syscall"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/internal/closeq"
	"github.com/evpoll/evpoll/internal/instance"
	"github.com/evpoll/evpoll/internal/pollable"
	"github.com/evpoll/evpoll/poller"
)

// Poller is one thread's kqueue instance. Poll, Fork, Close and Registered
// belong to the thread's goroutine; Closing (the close hook), Flags and the
// counters may be called from any goroutine, and so may the Waker's Wake.
type Poller struct {
	// Updates counts fd registrations changed, Waits kevent calls that
	// collected events, RegErrors changes the kernel refused.
	instance.Base

	k   Kernel
	q   Queue
	pid int // process that created q

	changes []Kevent // pending, submitted with the next wait
	sent    []Kevent // the changes the last wait submitted
	events  []Kevent // results of a wait
	results []Kevent // results of changes applied alone
	pending []event  // announced by change results, delivered after the wait

	// closing holds fds removed from the table but kept open (Remove):
	// their filters are deleted by the next kevent call.
	closing  closeq.Queue
	waker    *Waker
	pollable pollable.Checker
}

// event is an event for an fd that a change result announced.
type event struct {
	fd   int
	gen  uint32
	evts fdtable.State
}

// New creates a kqueue instance over kernel k for ctx's thread and attaches
// it to the thread (fdtable.Thread.Attach), which hands it every fd the
// thread already wants. Backend.New calls it with System.
func New(ctx *poller.Context, k Kernel) (*Poller, error) {
	return newPoller(ctx, k, Name)
}

func newPoller(ctx *poller.Context, k Kernel, name string) (*Poller, error) {
	p := &Poller{k: k}
	if err := p.Init(name, ctx); err != nil {
		return nil, err
	}
	q, err := k.Kqueue()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, os.NewSyscallError("kqueue", err))
	}
	n := ctx.EventsPerPoll()
	p.q, p.pid = q, k.Getpid()
	p.changes, p.sent = make([]Kevent, 0, n), make([]Kevent, 0, n)
	p.events, p.results = make([]Kevent, n), make([]Kevent, n)
	if err := p.Attach(p, ""); err != nil {
		q.Close()
		return nil, err
	}
	return p, nil
}

// Flags returns the instance's capabilities (RDHUP, ERRHUP, FORK and
// BUSYPOLL), which never change: kqueue reports peer shutdowns (EV_EOF)
// from the start.
func (p *Poller) Flags() poller.Flags { return staticFlags }

// FD returns the kqueue descriptor, -1 after Close.
func (p *Poller) FD() int {
	if p.Closed() {
		return -1
	}
	return p.q.FD()
}

// KernelUpdates returns the number of fd registrations changed in the
// kernel (conformance.UpdateCounter): an fd whose read and write filters
// change together counts once, as they go to the kernel in one call.
func (p *Poller) KernelUpdates() uint64 { return p.Updates.Load() }

// KernelWaits returns the number of kevent calls that collected events,
// not counting those a signal interrupted (conformance.WaitCounter).
func (p *Poller) KernelWaits() uint64 { return p.Waits.Load() }

// RegistrationErrors returns the number of changes the kernel refused;
// each was delivered to its fd's owner as an error event.
func (p *Poller) RegistrationErrors() uint64 { return p.RegErrors.Load() }

// UpdateFD computes fd's changes for this thread's kqueue; they are
// submitted with the next wait. It is called by fdtable.Thread.DrainUpdates
// with the fd locked.
func (p *Poller) UpdateFD(u fdtable.Update) {
	if u.Ours && u.State&fdtable.ActiveRW != 0 && !u.PolledRecv && !u.PolledSend {
		// kqueue would watch a regular file or a directory (always
		// readable); epoll refuses them, and every backend behaves
		// as epoll does.
		if err := p.pollable.Check(p.Name, u.FD, u.Gen); err != nil {
			p.Ctx.FailFD(u.FD, u.Gen, err)
			return
		}
	}
	n := len(p.changes)
	var recv, send bool
	p.changes, recv, send = Changes(p.changes, u.FD, u.Gen, u.State, u.Ours, u.PolledRecv, u.PolledSend)
	if len(p.changes) == n {
		return
	}
	p.Updates.Add(1)
	// Recorded before the kernel sees it; a refusal clears it again.
	p.Tab.SetPolled(u.FD, p.TID, recv, send)
	if len(p.changes) > len(p.events)-2 {
		// No room to submit them with the wait: every change could
		// fail and need a result slot.
		p.apply()
	}
}

// KernelWait submits the pending changes and waits for events in one
// kevent call (poller.Waiter).
func (p *Poller) KernelWait(timeoutMS int) (int, error) {
	// Removals since the drain: their fds' changes are already listed,
	// so the deletions go after them.
	p.takeClosing()
	p.sent, p.changes = p.changes, p.sent[:0]
	n, err := p.q.Kevent(p.sent, p.events, Timeout(timeoutMS))
	if err != syscall.EINTR {
		p.Waits.Add(1)
	}
	if err != nil {
		return 0, os.NewSyscallError("kevent", err)
	}
	return n, nil
}

// Poll runs one poll cycle: it applies pending updates, submitting them
// with the wait (not at all when wake is set, until exp otherwise), and
// dispatches the events. A change the kernel refuses for one fd does not
// fail the cycle: that fd's owner gets an error event.
func (p *Poller) Poll(exp poller.Tick, wake bool) error {
	if err := p.ErrIfClosed("poll"); err != nil {
		return err
	}
	// Releases the fd of an iocb that panicked or exited its goroutine.
	defer p.Th.EndDispatch()
	p.takeClosing()
	p.Drain(p)
	n, err := p.Ctx.Wait(p, exp, wake, true)
	p.deliverPending()
	if err != nil {
		return fmt.Errorf("%s: %w", p.Name, err)
	}
	for i := 0; i < n; i++ {
		ev := &p.events[i]
		if ev.Flags&EvError != 0 {
			p.sentResult(ev)
			continue
		}
		if p.waker != nil && p.waker.owns(ev) {
			p.waker.Drain()
			continue
		}
		fd := int(ev.Ident)
		if o := p.Th.Dispatch(fd, uint32(ev.Udata), Translate(ev)); !p.Count(o) && o == fdtable.Migrated {
			// Moved to another thread: delete it here at once rather
			// than wait for an update that may never come (HAProxy
			// only counts it).
			in := p.Tab.Info(fd)
			p.changes = Deletes(p.changes, fd, in.PolledRecv&p.Bit != 0, in.PolledSend&p.Bit != 0)
			p.Tab.SetPolled(fd, p.TID, false, false)
			p.Updates.Add(1)
		}
	}
	if len(p.changes) > 0 {
		p.apply()
	}
	p.deliverPending()
	return nil
}

// takeClosing lists the deletions of fds removed from the table but kept
// open (see Closing). A removal may come after this cycle's drain listed
// changes for its fd: for the same generation they were made before the
// removal and the deletions go after them; for another one (the number
// was removed, then inserted and wanted again) the removal came first and
// the deletions go before them.
func (p *Poller) takeClosing() {
	for _, c := range p.closing.Take() {
		at := len(p.changes)
		for i := range p.changes {
			ch := &p.changes[i]
			if ch.Ident == uint64(c.FD) && ch.Flags&EvAdd != 0 && uint32(ch.Udata) != c.Gen {
				at = i
				break
			}
		}
		n := len(p.changes)
		p.changes = Deletes(p.changes, c.FD, true, true)
		if at < n {
			dels := [2]Kevent{p.changes[n], p.changes[n+1]}
			copy(p.changes[at+2:], p.changes[at:n])
			p.changes[at], p.changes[at+1] = dels[0], dels[1]
		}
		p.Updates.Add(1)
	}
}

// sentResult handles the EV_ERROR result of a change the last wait
// submitted: the kernel reports only failures there, and (FreeBSD) with
// the change's flags replaced by EV_ERROR. A deletion and an addition for
// the same filter of one fd may both be listed (a removal, then a new
// generation's registration); ENOENT can only answer a deletion, any
// other errno is taken for the latest change.
func (p *Poller) sentResult(res *Kevent) {
	errno := syscall.Errno(res.Data)
	var match *Kevent
	for i := len(p.sent) - 1; i >= 0; i-- {
		ch := &p.sent[i]
		if ch.Ident != res.Ident || ch.Filter != res.Filter {
			continue
		}
		if match == nil {
			match = ch
		}
		if (errno == syscall.ENOENT) == (ch.Flags&EvDelete != 0) {
			match = ch
			break
		}
	}
	if match == nil {
		// A result for no change of ours: nothing to undo.
		p.RegErrors.Add(1)
		return
	}
	p.result(match, errno)
}

// apply submits the pending changes alone, every one with EV_RECEIPT:
// the kernel then reports one result per change and collects no events,
// so none is consumed here (HAProxy marks the first change only).
func (p *Poller) apply() {
	for len(p.changes) > 0 {
		chunk := p.changes
		if len(chunk) > len(p.results) {
			chunk = chunk[:len(p.results)]
		}
		for i := range chunk {
			chunk[i].Flags |= EvReceipt
		}
		n, err := p.q.Kevent(chunk, p.results[:len(chunk)], 0)
		for err == syscall.EINTR {
			n, err = p.q.Kevent(chunk, p.results[:len(chunk)], 0)
		}
		if err != nil {
			// The call itself failed: every change of the chunk is
			// reported to its fd.
			errno := syscall.EINVAL
			errors.As(err, &errno)
			for i := range chunk {
				p.result(&chunk[i], errno)
			}
		} else {
			for i := 0; i < n && i < len(chunk); i++ {
				p.result(&chunk[i], syscall.Errno(p.results[i].Data))
			}
		}
		p.changes = append(p.changes[:0], p.changes[len(chunk):]...)
	}
}

// result applies the outcome of one change to the polled masks, and
// queues what its fd's owner must be told.
func (p *Poller) result(ch *Kevent, errno syscall.Errno) {
	o := ChangeResult(ch, errno)
	fd := int(ch.Ident)
	switch {
	case o.Failed:
		p.registrationFailed(ch, errno)
	case o.Events != 0:
		p.pending = append(p.pending, event{fd: fd, gen: uint32(ch.Udata), evts: o.Events})
	}
}

// registrationFailed is the one place a change refused for one fd goes.
// A refused deletion leaves nothing to undo. A refused addition leaves the
// fd watched in no direction (the other filter, if any, is deleted too),
// and the fd's owner gets an error event through the context.
func (p *Poller) registrationFailed(ch *Kevent, errno syscall.Errno) {
	p.RegErrors.Add(1)
	if ch.Flags&EvAdd == 0 {
		return
	}
	fd := int(ch.Ident)
	in := p.Tab.Info(fd)
	other := ch.Filter == FilterRead && in.PolledSend&p.Bit != 0 || ch.Filter == FilterWrite && in.PolledRecv&p.Bit != 0
	if other {
		p.changes = Deletes(p.changes, fd, ch.Filter == FilterWrite, ch.Filter == FilterRead)
	}
	p.Tab.SetPolled(fd, p.TID, false, false)
	p.Ctx.FailFD(fd, uint32(ch.Udata), fmt.Errorf("%s: add fd %d filter %d: %w", p.Name, fd, ch.Filter, os.NewSyscallError("kevent", errno)))
}

// deliverPending delivers the events that change results announced
// (EPIPE on macOS).
func (p *Poller) deliverPending() {
	if len(p.pending) == 0 {
		return
	}
	act := &p.Ctx.Activity
	for i := 0; i < len(p.pending); i++ {
		e := p.pending[i]
		switch p.Th.Dispatch(e.fd, e.gen, e.evts) {
		case fdtable.Dead:
			act.PollDeadFD.Add(1)
		case fdtable.Stale:
			act.PollStaleFD.Add(1)
		}
	}
	p.pending = p.pending[:0]
}

// Closing is the close hook. Closing an fd removes its filters from every
// kqueue, so a close needs nothing; when told to deregister (an fd removed
// from the table but kept open keeps them; a cloned one is removed by the
// close all the same, and the extra deletion fails harmlessly), the
// deletion is queued for the next kevent call, which applies it before
// collecting events. It may run on any goroutine.
func (p *Poller) Closing(fd int, gen uint32, deregister bool) {
	if deregister {
		p.closing.Push(fd, gen)
	}
}

// Fork replaces the kqueue by a new one and registers every fd the thread
// wants on it before returning. A kqueue is not inherited by a child
// process: in a child the old number is not closed, as it may already name
// another file (libuv #1583). Called in the process that created the
// queue, Fork closes it.
func (p *Poller) Fork() error {
	if err := p.ErrIfClosed("fork"); err != nil {
		return err
	}
	q, err := p.k.Kqueue()
	if err != nil {
		return fmt.Errorf("%s: fork: %w", p.Name, os.NewSyscallError("kqueue", err))
	}
	old := p.q
	pid := p.k.Getpid()
	if pid == p.pid {
		old.Close()
	} else {
		old.Release()
	}
	p.q, p.pid = q, pid
	p.changes = p.changes[:0]
	p.pending = p.pending[:0]
	p.closing.Take()
	if err := p.Reattach(p, "fork"); err != nil {
		return err
	}
	p.apply()
	if p.waker != nil {
		if err := p.waker.rearm(); err != nil {
			return fmt.Errorf("%s: fork: %w", p.Name, err)
		}
	}
	return nil
}

// Close closes the kqueue (and the waker), detaches it from its thread and
// clears this thread's polled bits. It is idempotent.
func (p *Poller) Close() error {
	if !p.Release() {
		return nil
	}
	p.closing.Close()
	if p.waker != nil {
		p.waker.close()
	}
	if err := p.q.Close(); err != nil {
		return fmt.Errorf("%s: close: %w", p.Name, os.NewSyscallError("close", err))
	}
	return nil
}

// registered implements poller.Introspector for queues that can list
// their filters (see Lister).
func (p *Poller) registered(l Lister) ([]poller.Registration, error) {
	if err := p.ErrIfClosed("registered"); err != nil {
		return nil, err
	}
	byFD := map[int]*poller.Registration{}
	for _, kn := range l.Knotes() {
		if kn.Filter != FilterRead && kn.Filter != FilterWrite {
			continue
		}
		fd := int(kn.Ident)
		if p.waker != nil && p.waker.owns(&kn) {
			continue
		}
		if p.closing.Contains(fd, uint32(kn.Udata)) {
			continue // deleted by the next kevent call, before any wait
		}
		r := byFD[fd]
		if r == nil {
			r = &poller.Registration{FD: fd, Gen: uint32(kn.Udata)}
			byFD[fd] = r
		}
		if kn.Filter == FilterRead {
			r.Recv = true
		} else {
			r.Send = true
		}
	}
	regs := make([]poller.Registration, 0, len(byFD))
	for _, r := range byFD {
		regs = append(regs, *r)
	}
	sort.Slice(regs, func(i, j int) bool { return regs[i].FD < regs[j].FD })
	return regs, nil
}

// introspected is a Poller whose queue can list its registrations.
type introspected struct{ *Poller }

// Registered lists the filters the kernel (here: the queue) holds,
// grouped by fd.
func (p introspected) Registered() ([]poller.Registration, error) {
	return p.Poller.registered(p.q.(Lister))
}
