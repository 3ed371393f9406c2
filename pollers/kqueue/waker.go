//go:build darwin || freebsd || netbsd || openbsd || dragonfly || linux

package kqueue

import (
	"fmt"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// wakeIdent is the EVFILT_USER identifier of a poller's waker.
const wakeIdent = 0x65767077 // "evpw"

// Waker interrupts a thread's kernel wait from another goroutine: the run
// loop's cross-thread wake-up. Where the OS has EVFILT_USER (macOS,
// FreeBSD, DragonFly) it triggers a user event registered with EV_CLEAR,
// so one trigger is reported once; on NetBSD and OpenBSD it writes to a
// pipe whose read end the kqueue watches. The poller drains it when the
// event arrives; no fd table entry is involved.
type Waker struct {
	p       *Poller
	user    bool
	r, w    int         // the pipe, without EVFILT_USER
	pending atomic.Bool // woken and not yet drained: later wakes are free
	closed  atomic.Bool
}

// Waker returns the poller's waker, creating it on first use.
func (p *Poller) Waker() (*Waker, error) {
	if p.waker != nil {
		return p.waker, nil
	}
	w, err := newWaker(p, hasUserFilter)
	if err != nil {
		return nil, err
	}
	p.waker = w
	return w, nil
}

func newWaker(p *Poller, user bool) (*Waker, error) {
	w := &Waker{p: p, user: user, r: -1, w: -1}
	if err := w.arm(); err != nil {
		return nil, err
	}
	return w, nil
}

// arm registers the waker with the poller's current queue.
func (w *Waker) arm() error {
	var ch [1]Kevent
	if w.user {
		ch[0] = Kevent{Ident: wakeIdent, Filter: FilterUser, Flags: EvAdd | EvClear | EvReceipt}
	} else {
		var fds [2]int
		if err := unix.Pipe(fds[:]); err != nil {
			return fmt.Errorf("%s: waker: %w", w.p.name, os.NewSyscallError("pipe", err))
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
			unix.SetNonblock(fd, true)
		}
		w.r, w.w = fds[0], fds[1]
		ch[0] = Kevent{Ident: uint64(w.r), Filter: FilterRead, Flags: EvAdd | EvReceipt}
	}
	var res [1]Kevent
	_, err := w.p.q.Kevent(ch[:], res[:], 0)
	if err == nil && res[0].Data != 0 {
		err = unix.Errno(res[0].Data)
	}
	if err != nil {
		w.closePipe()
		return fmt.Errorf("%s: waker: %w", w.p.name, os.NewSyscallError("kevent", err))
	}
	return nil
}

// rearm re-creates the waker in a new queue after Fork. The pipe is
// inherited by the child and shared with the parent, so it is replaced.
func (w *Waker) rearm() error {
	w.closePipe()
	w.pending.Store(false)
	return w.arm()
}

// Wake interrupts the poller's wait, or makes its next one return at once.
// It may be called from any goroutine; wakes before the poller has drained
// the previous one cost nothing.
func (w *Waker) Wake() error {
	if w.closed.Load() || w.pending.Swap(true) {
		return nil
	}
	if w.user {
		if err := w.p.q.Trigger(wakeIdent); err != nil {
			w.pending.Store(false)
			return fmt.Errorf("%s: wake: %w", w.p.name, os.NewSyscallError("kevent", err))
		}
		return nil
	}
	if _, err := unix.Write(w.w, []byte{1}); err != nil && err != unix.EAGAIN {
		w.pending.Store(false)
		return fmt.Errorf("%s: wake: %w", w.p.name, os.NewSyscallError("write", err))
	}
	return nil
}

// Drain consumes a wake-up. The poller calls it when the wake event
// arrives; EVFILT_USER needs nothing (EV_CLEAR resets it), the pipe is
// read until empty.
func (w *Waker) Drain() {
	if !w.user {
		var buf [64]byte
		for {
			n, err := unix.Read(w.r, buf[:])
			if n <= 0 || err != nil {
				break
			}
		}
	}
	// Cleared after reading: a Wake between the two is skipped, which
	// is fine as the poller is returning anyway; cleared first, a Wake
	// whose byte the read then consumed would leave it set for good.
	w.pending.Store(false)
}

// owns reports whether ev is the waker's event.
func (w *Waker) owns(ev *Kevent) bool {
	if w.user {
		return ev.Filter == FilterUser && ev.Ident == wakeIdent
	}
	return ev.Filter == FilterRead && w.r >= 0 && ev.Ident == uint64(w.r)
}

func (w *Waker) closePipe() {
	if w.r >= 0 {
		unix.Close(w.r)
		unix.Close(w.w)
		w.r, w.w = -1, -1
	}
}

func (w *Waker) close() {
	w.closed.Store(true)
	w.closePipe()
}
