package poller

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"golang.org/x/sys/unix"
)

// DefaultMaxEvents is the default number of events taken from one kernel
// wait (HAProxy's MAX_POLL_EVENTS, tune.maxpollevents).
const DefaultMaxEvents = 200

// ErrClosed is returned by a poller used after Term.
var ErrClosed = errors.New("poller closed")

// Context is one polling thread's state shared between the run loop and
// the thread's poller instance.
type Context struct {
	// Thread is the thread's fdtable handle (id, bit, local update list).
	Thread *fdtable.Thread
	// Table is Thread's table.
	Table *fdtable.Table
	// Activity holds the thread's counters.
	Activity Activity
	// MaxEvents bounds the events taken from one kernel wait; values <= 0
	// mean DefaultMaxEvents. Read by backends at construction.
	MaxEvents int
	// BusyPolling makes backends that support it spin on zero-timeout
	// waits instead of sleeping (reference §7.2). It may be cleared from
	// another goroutine (soft stop).
	BusyPolling atomic.Bool
	// Sleeping is the mask of threads about to sleep in their poller,
	// shared by all threads of a loop. The poller clears this thread's
	// bit after its kernel wait.
	Sleeping *atomic.Uint64
	// SignalPending, if set, reports whether signals wait to be processed;
	// busy polling stops spinning when it does. It must not allocate.
	SignalPending func() bool
	// Clock is the thread's clock.
	Clock *Clock

	now Tick
}

// NewContext returns a context for th with default options, its own
// sleeping mask and a new clock.
func NewContext(th *fdtable.Thread) *Context {
	c := &Context{
		Thread:    th,
		Table:     th.Table(),
		MaxEvents: DefaultMaxEvents,
		Sleeping:  new(atomic.Uint64),
		Clock:     NewClock(1),
	}
	c.now = c.Clock.Now()
	return c
}

// EventsPerPoll returns MaxEvents, or DefaultMaxEvents if it is not
// positive.
func (c *Context) EventsPerPoll() int {
	if c.MaxEvents <= 0 {
		return DefaultMaxEvents
	}
	return c.MaxEvents
}

// Now returns the thread's current tick as of the last clock update.
func (c *Context) Now() Tick { return c.now }

// UpdateTime re-reads the clock and returns the new current tick.
func (c *Context) UpdateTime() Tick {
	c.now = c.Clock.Now()
	return c.now
}

// updateTimeNs is UpdateTime returning the monotonic reading it used, so
// that a decision taken on that reading agrees with Now.
func (c *Context) updateTimeNs() int64 {
	ns := c.Clock.Nanotime()
	c.now = c.Clock.at(ns)
	return ns
}

// ComputeTimeout returns the poll timeout in milliseconds for the next
// timer exp (compute_poll_timeout, reference §7.1): MaxDelayMS for
// Eternity; 0 (counting poll_exp) if exp has expired; otherwise the
// remaining time plus one millisecond, capped at MaxDelayMS, so that a
// positive remaining time never becomes a zero wait and the timer has
// really expired on wake-up.
func (c *Context) ComputeTimeout(exp Tick) int {
	if !exp.IsSet() {
		return MaxDelayMS
	}
	now := c.UpdateTime()
	d := int32(exp - now)
	if d <= 0 {
		c.Activity.PollExp.Add(1)
		return 0
	}
	if d >= MaxDelayMS {
		return MaxDelayMS
	}
	return int(d) + 1
}

// Waiter is the kernel wait of a backend, given a timeout in milliseconds
// (0 polls, never negative). It returns the number of events.
type Waiter interface {
	KernelWait(timeoutMS int) (int, error)
}

// Wait runs the kernel wait of one poll cycle with the retry rules of
// reference §7.3, quirk Q6 fixed:
//   - the timeout is 0 when wake is true, else ComputeTimeout(exp);
//   - EINTR is not an event: the wait is retried with the time left until
//     the original deadline, so signals neither end the wait early nor
//     stretch it (Go's own preemption signals interrupt waits often);
//   - with busy polling (and a non-zero timeout), zero-timeout waits repeat
//     until an event arrives, SignalPending reports true, or exp expires;
//   - poll_io counts cycles that returned events.
//
// It then clears the thread's sleeping bit. busy says whether the backend
// honours busy polling (poll and select do not).
func (c *Context) Wait(w Waiter, exp Tick, wake, busy bool) (int, error) {
	n, err := c.wait(w, exp, wake, busy)
	if bit := c.Thread.Bit(); c.Sleeping.Load()&bit != 0 {
		c.Sleeping.And(^bit)
	}
	return n, err
}

func (c *Context) wait(w Waiter, exp Tick, wake, busy bool) (int, error) {
	waitMS := 0
	if !wake {
		waitMS = c.ComputeTimeout(exp)
	}
	busy = busy && c.BusyPolling.Load() && waitMS != 0
	var deadline int64
	if waitMS > 0 {
		deadline = c.Clock.Nanotime() + int64(waitMS)*int64(time.Millisecond)
	}
	timeout := waitMS
	for {
		if busy {
			timeout = 0
		}
		n, err := w.KernelWait(timeout)
		// One clock reading serves both Now and the deadline checks
		// below: when Wait returns because the deadline passed, Now
		// has reached exp too.
		ns := c.updateTimeNs()
		if err != nil {
			if !errors.Is(err, unix.EINTR) {
				return 0, err
			}
			if c.SignalPending != nil && c.SignalPending() {
				return 0, nil
			}
			if waitMS == 0 {
				return 0, nil
			}
			left := deadline - ns
			if left <= 0 {
				return 0, nil
			}
			if !busy {
				timeout = int((left + int64(time.Millisecond) - 1) / int64(time.Millisecond))
			}
			continue
		}
		if n > 0 {
			c.Activity.PollIO.Add(1)
			return n, nil
		}
		if !busy {
			return 0, nil
		}
		if wake || (c.SignalPending != nil && c.SignalPending()) {
			return 0, nil
		}
		if exp.IsExpired(c.now) {
			return 0, nil
		}
		if ns >= deadline {
			return 0, nil
		}
	}
}
