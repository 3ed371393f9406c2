package epoll

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/internal/instance"
	"github.com/evpoll/evpoll/poller"
	"golang.org/x/sys/unix"
)

// Poller is one thread's epoll instance.
type Poller struct {
	// Updates counts epoll_ctl calls, Waits epoll_wait calls.
	instance.Base

	epfd   atomic.Int32 // -1 after Close
	flags  atomic.Uint32
	events []unix.EpollEvent

	// mu orders the close hook's epoll_ctl against the replacement of
	// the epoll fd (Fork, a rebuild, Term), so that a DEL never lands on
	// a closed epoll fd whose number was reused meanwhile. Only close
	// hooks that must DEL take it.
	mu sync.Mutex

	// Zombie registrations: a file closed through the table while another
	// descriptor (a dup, a child's copy) keeps it open stays registered
	// in epoll, and level-triggered, it is reported on every cycle with no
	// way to remove it by fd number. Events for closed or reused fds seen
	// on consecutive cycles for the same registration make the instance
	// rebuild itself from the polled masks, instead of spinning.
	zombies, prevZombies []zombie
	zombieRuns           int
	rebuilds             atomic.Uint64
}

type zombie struct{ fd, gen int32 }

// zombieCap bounds the zombies remembered per cycle.
const zombieCap = 16

// zombieCycles is how many consecutive cycles must report the same dead
// registration before the instance is rebuilt.
const zombieCycles = 3

var (
	_ poller.Poller       = (*Poller)(nil)
	_ poller.Introspector = (*Poller)(nil)
	_ fdtable.Updater     = (*Poller)(nil)
	_ poller.Waiter       = (*Poller)(nil)
)

// New creates an epoll instance for ctx's thread and attaches it to the
// thread in the table (its close hook): every fd the thread already owns
// and wants is registered at the first Poll.
func New(ctx *poller.Context) (*Poller, error) {
	p := &Poller{
		zombies:     make([]zombie, 0, zombieCap),
		prevZombies: make([]zombie, 0, zombieCap),
	}
	if err := p.Init(Name, ctx); err != nil {
		return nil, err
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll: %w", os.NewSyscallError("epoll_create1", err))
	}
	p.events = make([]unix.EpollEvent, ctx.EventsPerPoll())
	p.epfd.Store(int32(epfd))
	p.flags.Store(uint32(staticFlags))
	if err := p.Attach(p, ""); err != nil {
		unix.Close(epfd)
		return nil, err
	}
	return p, nil
}

// Flags returns the instance's capabilities: ERRHUP, FORK and BUSYPOLL
// always, RDHUP once the kernel has been seen reporting EPOLLRDHUP.
func (p *Poller) Flags() poller.Flags { return poller.Flags(p.flags.Load()) }

// FD returns the epoll file descriptor, -1 after Term.
func (p *Poller) FD() int { return int(p.epfd.Load()) }

// KernelUpdates returns the number of epoll_ctl calls the instance made
// (conformance.UpdateCounter).
func (p *Poller) KernelUpdates() uint64 { return p.Updates.Load() }

func (p *Poller) ctl(epfd, op, fd int, events uint32, gen uint32) error {
	p.Updates.Add(1)
	return ctl(epfd, op, fd, events, gen)
}

// ctl applies one epoll_ctl operation, repairing the quirks of fd reuse:
// ADD on a registered fd becomes MOD, MOD on an unregistered fd becomes ADD,
// and DEL of an fd the kernel no longer knows (ENOENT, EBADF, EPERM) is not
// an error. Any other failure is the fd's, never the instance's: EPERM
// (a regular file or directory, which epoll cannot watch), EBADF (closed
// behind the table's back), EINVAL (the epoll fd itself, or an fd kind
// that refuses the events), ELOOP (an epoll set watching this one), ENOSPC
// (the user's max_user_watches reached) and ENOMEM all fail the one
// registration; UpdateFD reports them with poller.Context.FailFD.
func ctl(epfd, op, fd int, events uint32, gen uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd), Pad: int32(gen)}
	err := unix.EpollCtl(epfd, op, fd, &ev)
	switch {
	case err == nil:
		return nil
	case op == unix.EPOLL_CTL_ADD && err == unix.EEXIST:
		err = unix.EpollCtl(epfd, unix.EPOLL_CTL_MOD, fd, &ev)
	case op == unix.EPOLL_CTL_MOD && err == unix.ENOENT:
		err = unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev)
	case op == unix.EPOLL_CTL_DEL && (err == unix.ENOENT || err == unix.EBADF || err == unix.EPERM):
		return nil
	}
	if err != nil {
		return fmt.Errorf("epoll: %s fd %d: %w", opName(op), fd, os.NewSyscallError("epoll_ctl", err))
	}
	return nil
}

func opName(op int) string {
	switch op {
	case unix.EPOLL_CTL_ADD:
		return "add"
	case unix.EPOLL_CTL_MOD:
		return "mod"
	}
	return "del"
}

// desired computes what this thread's epoll instance should watch for an
// fd (HAProxy's _update_fd), given the fd's state, whether
// the fd belongs to this thread, and what the instance watches now. It
// returns the epoll_ctl operation to issue (0 for none) and the new polled
// directions.
func desired(st fdtable.State, ours, pollR, pollS bool) (op int, recv, send bool) {
	en := st
	// Sticky read: while the fd is or will be polled and its input
	// readiness is unknown, also poll for input.
	if en&fdtable.ReadyR == 0 && (en&fdtable.ActiveW != 0 || pollR || pollS) {
		en |= fdtable.ActiveR
	}
	wantR, wantS := en&fdtable.ActiveR != 0, en&fdtable.ActiveW != 0
	switch {
	case pollR || pollS:
		if !ours || (!wantR && !wantS) {
			return unix.EPOLL_CTL_DEL, false, false
		}
		if wantR == pollR && wantS == pollS {
			return 0, pollR, pollS
		}
		return unix.EPOLL_CTL_MOD, wantR, wantS
	case ours && (wantR || wantS):
		return unix.EPOLL_CTL_ADD, wantR, wantS
	}
	return 0, false, false
}

// eventMask returns the epoll events registered for the given directions.
func eventMask(recv, send bool) uint32 {
	var m uint32
	if recv {
		m |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if send {
		m |= unix.EPOLLOUT
	}
	return m
}

// translate converts epoll events into FD_EV_* event bits, as HAProxy's
// _do_poll does: IN → READY_R, OUT → READY_W, RDHUP → SHUT_R, HUP →
// SHUT_R|SHUT_W, ERR → ERR_RW.
func translate(events uint32) fdtable.State {
	switch events {
	case unix.EPOLLIN: // the common cases first
		return fdtable.ReadyR
	case unix.EPOLLOUT:
		return fdtable.ReadyW
	}
	var s fdtable.State
	if events&unix.EPOLLIN != 0 {
		s |= fdtable.ReadyR
	}
	if events&unix.EPOLLOUT != 0 {
		s |= fdtable.ReadyW
	}
	if events&unix.EPOLLRDHUP != 0 {
		s |= fdtable.ShutR
	}
	if events&unix.EPOLLHUP != 0 {
		s |= fdtable.ShutR | fdtable.ShutW
	}
	if events&unix.EPOLLERR != 0 {
		s |= fdtable.ErrRW
	}
	return s
}

// UpdateFD applies fd's desired state to this thread's epoll instance. It
// is called by fdtable.Thread.DrainUpdates with the fd locked. A refused
// registration leaves nothing watched and is reported to the fd's owner.
func (p *Poller) UpdateFD(u fdtable.Update) {
	epfd := int(p.epfd.Load())
	if epfd < 0 {
		return
	}
	op, recv, send := desired(u.State, u.Ours, u.PolledRecv, u.PolledSend)
	if op == 0 {
		return
	}
	if err := p.ctl(epfd, op, u.FD, eventMask(recv, send), u.Gen); err != nil {
		p.Tab.SetPolled(u.FD, p.TID, false, false)
		if op != unix.EPOLL_CTL_DEL {
			p.Ctx.FailFD(u.FD, u.Gen, err)
		}
		return
	}
	p.Tab.SetPolled(u.FD, p.TID, recv, send)
}

// KernelWaits returns the number of epoll_wait calls the instance made,
// not counting those a signal interrupted (conformance.WaitCounter).
func (p *Poller) KernelWaits() uint64 { return p.Waits.Load() }

// Poll runs one poll cycle (HAProxy's _do_poll): it applies pending
// updates, waits until exp (not at all when wake is set) and dispatches
// the events. It fails only if epoll_wait itself does.
func (p *Poller) Poll(exp poller.Tick, wake bool) error {
	epfd := int(p.epfd.Load())
	if epfd < 0 {
		return fmt.Errorf("epoll: poll: %w", poller.ErrClosed)
	}
	th := p.Th
	// Releases the fd of an iocb that panicked or exited its goroutine.
	defer th.EndDispatch()
	act := &p.Ctx.Activity
	if d := th.DrainUpdates(p, true); d > 0 {
		act.PollDropFD.Add(uint32(d))
	}
	n, err := p.Ctx.Wait(p, exp, wake, true)
	if err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	// The event slice and the thread stay in locals: the callbacks
	// cannot change them, and the compiler would reload fields of p
	// after every call. Whatever is not the common case (an RDHUP seen
	// for the first time, an event not delivered) is handled out of line.
	events := p.events[:n]
	var rdhup uint32 = unix.EPOLLRDHUP
	if p.flags.Load()&uint32(poller.FlagRDHUP) != 0 {
		rdhup = 0
	}
	for i := range events {
		ev := &events[i]
		if ev.Events&rdhup != 0 {
			// Set before the callback runs: it may read the flags.
			p.flags.Or(uint32(poller.FlagRDHUP))
			rdhup = 0
		}
		if o := th.Dispatch(int(ev.Fd), uint32(ev.Pad), translate(ev.Events)); o != fdtable.Delivered {
			p.notDelivered(epfd, ev, o)
		}
	}
	if p.checkZombies() {
		p.rebuilds.Add(1)
		if err := p.recreate("rebuild"); err != nil {
			return err
		}
	}
	return nil
}

// notDelivered counts an event Dispatch did not deliver and, for an fd
// that moved to another thread, forgets it here. Only this goroutine
// registers fds in this instance, so no update can race with the DEL; a
// failing DEL leaves nothing to undo.
func (p *Poller) notDelivered(epfd int, ev *unix.EpollEvent, o fdtable.Outcome) {
	p.Count(o)
	switch o {
	case fdtable.Dead, fdtable.Stale:
		p.noteZombie(ev)
	case fdtable.Migrated:
		fd := int(ev.Fd)
		_ = p.ctl(epfd, unix.EPOLL_CTL_DEL, fd, 0, 0)
		p.Tab.SetPolled(fd, p.TID, false, false)
	}
}

func (p *Poller) noteZombie(ev *unix.EpollEvent) {
	if len(p.zombies) < cap(p.zombies) {
		p.zombies = append(p.zombies, zombie{ev.Fd, ev.Pad})
	}
}

// checkZombies ends a cycle's zombie bookkeeping and reports whether the
// same dead registration has now been reported on zombieCycles
// consecutive cycles.
func (p *Poller) checkZombies() bool {
	again := false
	for _, z := range p.zombies {
		for _, y := range p.prevZombies {
			if z == y {
				again = true
			}
		}
	}
	if again {
		p.zombieRuns++
	} else {
		p.zombieRuns = 0
	}
	p.prevZombies, p.zombies = p.zombies, p.prevZombies[:0]
	if p.zombieRuns >= zombieCycles-1 {
		p.zombieRuns = 0
		p.prevZombies = p.prevZombies[:0]
		return true
	}
	return false
}

// Rebuilds returns how many times the instance replaced its epoll fd to
// drop registrations of files closed through the table but kept open
// elsewhere (not counting Fork).
func (p *Poller) Rebuilds() uint64 { return p.rebuilds.Load() }

// Closing is the close hook: for an fd shared with another process
// (cloned by fork) or kept open (fdtable Remove), closing would not remove
// the registration, so it is deleted explicitly. Closing an fd that only
// this process holds costs no epoll_ctl: the kernel forgets it with the
// file.
func (p *Poller) Closing(fd int, _ uint32, deregister bool) {
	if !deregister {
		return
	}
	p.mu.Lock()
	if epfd := int(p.epfd.Load()); epfd >= 0 {
		_ = p.ctl(epfd, unix.EPOLL_CTL_DEL, fd, 0, 0)
	}
	p.mu.Unlock()
}

// Fork replaces the epoll instance by a new one (an epoll instance is
// shared with the parent across fork), closes the old one and registers on
// the new one every fd the thread owns and wants. Call it on the polling
// goroutine.
func (p *Poller) Fork() error { return p.recreate("fork") }

// recreate replaces the epoll instance by an empty new one, closes the old
// one and hands the poller every fd its thread wants again, as a new
// instance would get them.
func (p *Poller) recreate(op string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := int(p.epfd.Load())
	if old < 0 {
		return fmt.Errorf("epoll: %s: %w", op, poller.ErrClosed)
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("epoll: %s: %w", op, os.NewSyscallError("epoll_create1", err))
	}
	p.epfd.Store(int32(epfd))
	unix.Close(old)
	return p.Reattach(p, op)
}

// Close closes the epoll instance and detaches it from its thread
// (fdtable.Thread.Attach), unless a newer instance replaced it there. It
// is idempotent.
func (p *Poller) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	epfd := int(p.epfd.Swap(-1))
	if epfd < 0 {
		return nil
	}
	p.Release()
	if err := unix.Close(epfd); err != nil {
		return fmt.Errorf("epoll: term: %w", os.NewSyscallError("close", err))
	}
	return nil
}

// Registered reads the instance's registrations back from the kernel
// (/proc/self/fdinfo of the epoll fd), not from its own bookkeeping.
func (p *Poller) Registered() ([]poller.Registration, error) {
	epfd := int(p.epfd.Load())
	if epfd < 0 {
		return nil, fmt.Errorf("epoll: registered: %w", poller.ErrClosed)
	}
	b, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(epfd))
	if err != nil {
		return nil, fmt.Errorf("epoll: registered: %w", err)
	}
	return parseFdinfo(b)
}

// parseFdinfo parses the "tfd:" lines of an epoll fd's fdinfo, such as
// "tfd:        5 events:       19 data:      100000005  pos:0 ino:... sdev:...".
func parseFdinfo(b []byte) ([]poller.Registration, error) {
	var regs []poller.Registration
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 6 || string(f[0]) != "tfd:" {
			continue
		}
		fd, err1 := strconv.Atoi(string(f[1]))
		events, err2 := strconv.ParseUint(string(f[3]), 16, 32)
		data, err3 := strconv.ParseUint(string(f[5]), 16, 64)
		if string(f[2]) != "events:" || string(f[4]) != "data:" || err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("epoll: cannot parse fdinfo line %q", sc.Text())
		}
		regs = append(regs, poller.Registration{
			FD:   fd,
			Recv: events&unix.EPOLLIN != 0,
			Send: events&unix.EPOLLOUT != 0,
			Gen:  genOf(data),
		})
	}
	return regs, sc.Err()
}

// genOf extracts the generation from an epoll data word as fdinfo prints
// it: the 64-bit value whose memory holds Fd then Pad, so Pad (the
// generation) is the high half on little-endian machines and the low half
// on big-endian ones.
func genOf(data uint64) uint32 {
	if bigEndian {
		return uint32(data)
	}
	return uint32(data >> 32)
}

var bigEndian = binary.NativeEndian.Uint16([]byte{0, 1}) == 1
