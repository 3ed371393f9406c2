//go:build solaris || linux

package evports

import (
	"fmt"
	"os"
	"sync/atomic"

	"github.com/evpoll/evpoll/internal/wakepipe"
)

// wakeUser tags the waker's association.
const wakeUser = ^uint64(0)

// Waker interrupts a thread's port_getn from another goroutine: the run
// loop's cross-thread wake-up. It writes to a pipe whose read end is
// associated with the port (x/sys offers no port_send, so no
// PORT_SOURCE_USER); the poller drains it and re-associates it when its
// event arrives. No fd table entry is involved. Wakes before the poller
// has drained the previous one cost nothing.
type Waker struct {
	p      *Poller
	pipe   wakepipe.Pipe
	closed atomic.Bool
}

// Waker returns the poller's waker, creating it on first use.
func (p *Poller) Waker() (*Waker, error) {
	if p.waker != nil {
		return p.waker, nil
	}
	w := &Waker{p: p, pipe: wakepipe.Closed()}
	if err := w.arm(); err != nil {
		return nil, err
	}
	p.waker = w
	return w, nil
}

func (w *Waker) arm() error {
	if err := w.pipe.Open(); err != nil {
		return fmt.Errorf("%s: waker: %w", w.p.Name, err)
	}
	if err := w.p.cur().Associate(w.pipe.R(), PollIn, wakeUser); err != nil {
		w.pipe.Close()
		return fmt.Errorf("%s: waker: %w", w.p.Name, os.NewSyscallError("port_associate", err))
	}
	return nil
}

// rearm replaces the pipe after Fork (the child shares it with the
// parent) and associates it with the new port.
func (w *Waker) rearm() error {
	w.pipe.Close()
	return w.arm()
}

// rearmPipe re-associates the pipe after its event consumed the
// association.
func (w *Waker) rearmPipe() {
	w.p.cur().Associate(w.pipe.R(), PollIn, wakeUser)
}

// Wake interrupts the poller's wait, or makes its next one return at once.
// It may be called from any goroutine.
func (w *Waker) Wake() error {
	if w.closed.Load() {
		return nil
	}
	if err := w.pipe.Wake(); err != nil {
		return fmt.Errorf("%s: wake: %w", w.p.Name, err)
	}
	return nil
}

// Drain consumes a wake-up. The poller calls it when the wake event
// arrives.
func (w *Waker) Drain() { w.pipe.Drain() }

func (w *Waker) close() {
	w.closed.Store(true)
	w.pipe.Close()
}
