//go:build solaris || linux

package evports

import (
	"fmt"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// wakeUser tags the waker's association.
const wakeUser = ^uint64(0)

// Waker interrupts a thread's port_getn from another goroutine: the run
// loop's cross-thread wake-up. It writes to a pipe whose read end is
// associated with the port (x/sys offers no port_send, so no
// PORT_SOURCE_USER); the poller drains it and re-associates it when its
// event arrives. No fd table entry is involved.
type Waker struct {
	p       *Poller
	r, w    int
	pending atomic.Bool // woken and not yet drained: later wakes are free
	closed  atomic.Bool
}

// Waker returns the poller's waker, creating it on first use.
func (p *Poller) Waker() (*Waker, error) {
	if p.waker != nil {
		return p.waker, nil
	}
	w := &Waker{p: p, r: -1, w: -1}
	if err := w.arm(); err != nil {
		return nil, err
	}
	p.waker = w
	return w, nil
}

func (w *Waker) arm() error {
	var fds [2]int
	if err := unix.Pipe(fds[:]); err != nil {
		return fmt.Errorf("%s: waker: %w", w.p.name, os.NewSyscallError("pipe", err))
	}
	for _, fd := range fds {
		unix.CloseOnExec(fd)
		unix.SetNonblock(fd, true)
	}
	w.r, w.w = fds[0], fds[1]
	if err := w.p.cur().Associate(w.r, PollIn, wakeUser); err != nil {
		w.closePipe()
		return fmt.Errorf("%s: waker: %w", w.p.name, os.NewSyscallError("port_associate", err))
	}
	return nil
}

// rearm replaces the pipe after Fork (the child shares it with the
// parent) and associates it with the new port.
func (w *Waker) rearm() error {
	w.closePipe()
	w.pending.Store(false)
	return w.arm()
}

// rearmPipe re-associates the pipe after its event consumed the
// association.
func (w *Waker) rearmPipe() {
	w.p.cur().Associate(w.r, PollIn, wakeUser)
}

// Wake interrupts the poller's wait, or makes its next one return at once.
// It may be called from any goroutine; wakes before the poller has drained
// the previous one cost nothing.
func (w *Waker) Wake() error {
	if w.closed.Load() || w.pending.Swap(true) {
		return nil
	}
	if _, err := unix.Write(w.w, []byte{1}); err != nil && err != unix.EAGAIN {
		w.pending.Store(false)
		return fmt.Errorf("%s: wake: %w", w.p.name, os.NewSyscallError("write", err))
	}
	return nil
}

// Drain consumes a wake-up: the pipe is read until empty. The poller
// calls it when the wake event arrives.
func (w *Waker) Drain() {
	var buf [64]byte
	for {
		n, err := unix.Read(w.r, buf[:])
		if n <= 0 || err != nil {
			break
		}
	}
	// Cleared after reading: a Wake between the two is skipped, which
	// is fine as the poller is returning anyway; cleared first, a Wake
	// whose byte the read then consumed would leave it set for good.
	w.pending.Store(false)
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
