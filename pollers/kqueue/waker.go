//go:build darwin || freebsd || netbsd || openbsd || dragonfly || linux

package kqueue

import (
	"fmt"
	"os"
	"sync/atomic"

	"github.com/evpoll/evpoll/internal/wakepipe"
	"golang.org/x/sys/unix"
)

// wakeIdent is the EVFILT_USER identifier of a poller's waker.
const wakeIdent = 0x65767077 // "evpw"

// Waker interrupts a thread's kernel wait from another goroutine: the run
// loop's cross-thread wake-up. Where the OS has EVFILT_USER (macOS,
// FreeBSD, DragonFly) it triggers a user event registered with EV_CLEAR,
// so one trigger is reported once; on NetBSD and OpenBSD it writes to a
// pipe whose read end the kqueue watches. The poller drains it when the
// event arrives; no fd table entry is involved. Wakes before the poller
// has drained the previous one cost nothing.
type Waker struct {
	p       *Poller
	user    bool
	pipe    wakepipe.Pipe // without EVFILT_USER
	pending atomic.Bool   // EVFILT_USER: triggered and not yet drained
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
	w := &Waker{p: p, user: user, pipe: wakepipe.Closed()}
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
		if err := w.pipe.Open(); err != nil {
			return fmt.Errorf("%s: waker: %w", w.p.Name, err)
		}
		ch[0] = Kevent{Ident: uint64(w.pipe.R()), Filter: FilterRead, Flags: EvAdd | EvReceipt}
	}
	var res [1]Kevent
	_, err := w.p.q.Kevent(ch[:], res[:], 0)
	if err == nil && res[0].Data != 0 {
		err = unix.Errno(res[0].Data)
	}
	if err != nil {
		w.pipe.Close()
		return fmt.Errorf("%s: waker: %w", w.p.Name, os.NewSyscallError("kevent", err))
	}
	return nil
}

// rearm re-creates the waker in a new queue after Fork. The pipe is
// inherited by the child and shared with the parent, so it is replaced.
func (w *Waker) rearm() error {
	w.pipe.Close()
	w.pending.Store(false)
	return w.arm()
}

// Wake interrupts the poller's wait, or makes its next one return at once.
// It may be called from any goroutine.
func (w *Waker) Wake() error {
	if w.closed.Load() {
		return nil
	}
	if !w.user {
		if err := w.pipe.Wake(); err != nil {
			return fmt.Errorf("%s: wake: %w", w.p.Name, err)
		}
		return nil
	}
	if w.pending.Swap(true) {
		return nil
	}
	if err := w.p.q.Trigger(wakeIdent); err != nil {
		w.pending.Store(false)
		return fmt.Errorf("%s: wake: %w", w.p.Name, os.NewSyscallError("kevent", err))
	}
	return nil
}

// Drain consumes a wake-up. The poller calls it when the wake event
// arrives; EVFILT_USER needs nothing more (EV_CLEAR resets it), the pipe
// is read until empty.
func (w *Waker) Drain() {
	if w.user {
		w.pending.Store(false)
		return
	}
	w.pipe.Drain()
}

// owns reports whether ev is the waker's event.
func (w *Waker) owns(ev *Kevent) bool {
	if w.user {
		return ev.Filter == FilterUser && ev.Ident == wakeIdent
	}
	r := w.pipe.R()
	return ev.Filter == FilterRead && r >= 0 && ev.Ident == uint64(r)
}

func (w *Waker) close() {
	w.closed.Store(true)
	w.pipe.Close()
}
