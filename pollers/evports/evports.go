//go:build solaris || linux

package evports

import (
	"fmt"
	"os"
	"sort"
	"sync/atomic"
	"syscall"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/internal/closeq"
	"github.com/evpoll/evpoll/internal/instance"
	"github.com/evpoll/evpoll/internal/pollable"
	"github.com/evpoll/evpoll/poller"
)

// Poller is one thread's event-port instance. Poll, Fork, Close and
// Registered belong to the thread's goroutine; Closing (the close hook),
// Flags, the counters and the Waker's Wake may be called from any
// goroutine.
type Poller struct {
	// Updates counts associations changed or removed, Waits port_getn
	// calls, RegErrors associations the kernel refused.
	instance.Base

	k      Kernel
	port   atomic.Pointer[portBox]
	rearms atomic.Uint64 // associations restored after an event

	events   []PortEvent
	waker    *Waker
	pollable pollable.Checker
	// removed records the fds whose close hook ran (Delete or Remove on
	// any goroutine) since the cycle's wait: re-arming one of them after
	// its event is undone (see rearm).
	removed closeq.Queue
}

// portBox lets Closing, on another goroutine, read the port Fork replaces.
type portBox struct{ p Port }

// New creates an event-port instance over kernel k for ctx's thread and
// attaches it to the thread (fdtable.Thread.Attach), which hands it every
// fd the thread already wants. Backend.New calls it with System.
func New(ctx *poller.Context, k Kernel) (*Poller, error) {
	return newPoller(ctx, k, Name)
}

func newPoller(ctx *poller.Context, k Kernel, name string) (*Poller, error) {
	p := &Poller{k: k}
	if err := p.Init(name, ctx); err != nil {
		return nil, err
	}
	port, err := k.PortCreate()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, os.NewSyscallError("port_create", err))
	}
	p.events = make([]PortEvent, ctx.EventsPerPoll())
	p.port.Store(&portBox{port})
	if err := p.Attach(p, ""); err != nil {
		port.Close()
		return nil, err
	}
	return p, nil
}

func (p *Poller) cur() Port { return p.port.Load().p }

// Flags returns the instance's capabilities: ERRHUP, FORK and BUSYPOLL.
// Event ports report no half-close, so never RDHUP.
func (p *Poller) Flags() poller.Flags { return staticFlags }

// KernelUpdates returns the number of port_associate and port_dissociate
// calls that changed what the port watches for table fds
// (conformance.UpdateCounter). Re-associating an fd after its event with
// the directions it had (the event consumed the one-shot association) is
// not a change; Rearms counts those calls.
func (p *Poller) KernelUpdates() uint64 { return p.Updates.Load() }

// Rearms returns the number of associations restored after an event.
func (p *Poller) Rearms() uint64 { return p.rearms.Load() }

// KernelWaits returns the number of port_getn calls, not counting those a
// signal interrupted (conformance.WaitCounter).
func (p *Poller) KernelWaits() uint64 { return p.Waits.Load() }

// RegistrationErrors returns the number of associations the kernel
// refused; each was delivered to its fd's owner as an error event.
func (p *Poller) RegistrationErrors() uint64 { return p.RegErrors.Load() }

// UpdateFD applies fd's desired state to this thread's port. It is called
// by fdtable.Thread.DrainUpdates with the fd locked.
func (p *Poller) UpdateFD(u fdtable.Update) {
	op, recv, send := Resync(u.State, u.Ours, u.PolledRecv, u.PolledSend)
	switch op {
	case OpDissociate:
		p.Tab.SetPolled(u.FD, p.TID, false, false)
		p.Updates.Add(1)
		// ENOENT: already consumed by an event or removed by a close.
		p.cur().Dissociate(u.FD)
	case OpAssociate:
		if !u.PolledRecv && !u.PolledSend {
			// Event ports would watch a regular file (always ready);
			// epoll refuses them, and every backend behaves as epoll
			// does.
			if err := p.pollable.Check(p.Name, u.FD, u.Gen); err != nil {
				p.Ctx.FailFD(u.FD, u.Gen, err)
				return
			}
		}
		p.Updates.Add(1)
		p.associate(u.FD, u.Gen, recv, send)
	}
}

// associate associates fd and records it in the polled masks.
func (p *Poller) associate(fd int, gen uint32, recv, send bool) {
	if err := p.cur().Associate(fd, EventMask(recv, send), uint64(gen)); err != nil {
		p.registrationFailed(fd, gen, err)
		return
	}
	p.Tab.SetPolled(fd, p.TID, recv, send)
}

// registrationFailed is the one place an association the kernel refused
// for one fd goes: the fd is recorded as watched in no direction and its
// owner gets an error event through the context.
func (p *Poller) registrationFailed(fd int, gen uint32, err error) {
	p.RegErrors.Add(1)
	p.Tab.SetPolled(fd, p.TID, false, false)
	p.Ctx.FailFD(fd, gen, fmt.Errorf("%s: associate fd %d: %w", p.Name, fd, os.NewSyscallError("port_associate", err)))
}

// KernelWait retrieves events (poller.Waiter). ETIME with events is
// success; ETIME alone is a timeout with none.
func (p *Poller) KernelWait(timeoutMS int) (int, error) {
	n, err := p.cur().Getn(p.events, timeout(timeoutMS))
	if err != syscall.EINTR {
		p.Waits.Add(1)
	}
	if err == syscall.ETIME {
		return n, nil
	}
	if err != nil {
		return 0, os.NewSyscallError("port_getn", err)
	}
	return n, nil
}

// Poll runs one poll cycle: it applies pending updates, waits until exp
// (not at all when wake is set) and dispatches the events, re-arming each
// fd's one-shot association afterwards as Rearm decides. An association
// refused for one fd does not fail the cycle: its owner gets an error
// event.
func (p *Poller) Poll(exp poller.Tick, wake bool) error {
	if err := p.ErrIfClosed("poll"); err != nil {
		return err
	}
	// Releases the fd of an iocb that panicked or exited its goroutine.
	defer p.Th.EndDispatch()
	p.Drain(p)
	n, err := p.Ctx.Wait(p, exp, wake, true)
	if err != nil {
		return fmt.Errorf("%s: %w", p.Name, err)
	}
	p.removed.Take()
	for i := 0; i < n; i++ {
		ev := &p.events[i]
		if p.waker != nil && ev.FD == p.waker.pipe.R() {
			p.waker.Drain()
			p.waker.rearmPipe()
			continue
		}
		fd, gen := ev.FD, uint32(ev.User)
		pre := p.Tab.State(fd)
		if o := p.Th.Dispatch(fd, gen, Translate(ev.Events)); !p.Count(o) {
			if o == fdtable.Migrated {
				// One-shot: the retrieval dissociated it; forget it here.
				p.Tab.SetPolled(fd, p.TID, false, false)
			}
			continue
		}
		in := p.Tab.Info(fd)
		after := After{
			Closed:   !in.Open || in.Gen != gen,
			Migrated: in.Threads&p.Bit == 0,
			State:    in.State,
		}
		rearm, recv, send := Rearm(pre, after)
		if after.Closed {
			continue // Delete cleared the polled bits
		}
		if rearm {
			p.rearm(fd, gen, recv, send)
		} else {
			p.Tab.SetPolled(fd, p.TID, false, false)
		}
	}
	return nil
}

// rearm restores fd's association after its event. It runs outside the
// fd's lock, so a Delete or Remove on another goroutine may overlap it;
// their close hook records the fd first (the polled bits are still set
// while the event is dispatched, so the hook runs). Checked after the
// association is made: recorded, it is undone; not recorded yet, the hook
// comes later and removes it.
func (p *Poller) rearm(fd int, gen uint32, recv, send bool) {
	p.rearms.Add(1)
	p.associate(fd, gen, recv, send)
	if p.removed.Contains(fd, gen) {
		p.cur().Dissociate(fd)
		p.Tab.SetPolled(fd, p.TID, false, false)
	}
}

// Closing is the close hook. Closing an fd dissociates it from every
// port, so a close needs nothing more than the note rearm reads; when told
// to deregister (an fd removed from the table but kept open, or shared
// with another process) it is dissociated here. It may run on any
// goroutine.
func (p *Poller) Closing(fd int, gen uint32, deregister bool) {
	p.removed.Push(fd, gen)
	if deregister && !p.Closed() {
		p.Updates.Add(1)
		p.cur().Dissociate(fd)
	}
}

// Fork closes the port and creates a new one (HAProxy's _do_fork), and
// associates every fd the thread wants with it before returning.
func (p *Poller) Fork() error {
	if err := p.ErrIfClosed("fork"); err != nil {
		return err
	}
	port, err := p.k.PortCreate()
	if err != nil {
		return fmt.Errorf("%s: fork: %w", p.Name, os.NewSyscallError("port_create", err))
	}
	old := p.port.Swap(&portBox{port})
	old.p.Close()
	if err := p.Reattach(p, "fork"); err != nil {
		return err
	}
	if p.waker != nil {
		if err := p.waker.rearm(); err != nil {
			return fmt.Errorf("%s: fork: %w", p.Name, err)
		}
	}
	return nil
}

// Close closes the port (and the waker), detaches it from its thread and clears
// this thread's polled bits. It is idempotent.
func (p *Poller) Close() error {
	if !p.Release() {
		return nil
	}
	p.removed.Close()
	if p.waker != nil {
		p.waker.close()
	}
	if err := p.cur().Close(); err != nil {
		return fmt.Errorf("%s: close: %w", p.Name, os.NewSyscallError("close", err))
	}
	return nil
}

// introspected is a Poller whose port can list its associations (and
// tell its descriptor).
type introspected struct{ *Poller }

// FD returns the port's descriptor, -1 after Close or if the port does not
// tell it (conformance.KernelObject).
func (p introspected) FD() int {
	d, ok := p.cur().(Descriptor)
	if p.Closed() || !ok {
		return -1
	}
	return d.FD()
}

// Registered lists the port's associations, by fd.
func (p introspected) Registered() ([]poller.Registration, error) {
	if err := p.ErrIfClosed("registered"); err != nil {
		return nil, err
	}
	var regs []poller.Registration
	for _, a := range p.cur().(Lister).Associations() {
		if p.waker != nil && a.FD == p.waker.pipe.R() {
			continue
		}
		regs = append(regs, poller.Registration{
			FD: a.FD, Recv: a.Events&PollIn != 0, Send: a.Events&PollOut != 0, Gen: uint32(a.User),
		})
	}
	sort.Slice(regs, func(i, j int) bool { return regs[i].FD < regs[j].FD })
	return regs, nil
}
