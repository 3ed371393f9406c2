package poller

import (
	"errors"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"golang.org/x/sys/unix"
)

// DefaultMaxEvents is the default number of events taken from one kernel
// wait (HAProxy's MAX_POLL_EVENTS, tune.maxpollevents).
const DefaultMaxEvents = 200

// ErrClosed is returned by a poller used after Close.
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
	// BusyPolling makes backends that support it (FlagBusyPoll) spin on
	// zero-timeout waits instead of sleeping (HAProxy: busy-polling). It may be cleared from
	// another goroutine (soft stop).
	BusyPolling atomic.Bool
	// Sleeping is the mask of threads about to sleep in their poller,
	// shared by all threads of a loop. The poller clears this thread's
	// bit after its kernel wait.
	Sleeping *atomic.Uint64
	// SignalPending, if set, reports whether signals wait to be processed;
	// busy polling stops spinning when it does. It must not allocate.
	SignalPending func() bool
	// Clock is the thread's clock. Threads of one loop share it.
	Clock *Clock
	// OnFDError, if set, is called on the polling goroutine with each
	// per-fd error reported through FailFD, right after the fd's owner
	// received its error event. It is meant for logging.
	OnFDError func(fd int, err error)

	now       Tick
	lastNs    int64 // monotonic reading of the last clock update
	lastYield int64 // monotonic reading of the last scheduler yield
	failed    []failedFD
	// Loop-time and idle accounting (HAProxy: tv_entering_poll,
	// tv_leaving_poll, activity_count_runtime).
	afterPoll         int64 // when the previous wait ended, 0 before the first
	loopSum           uint32
	idleNs, idleTotNs int64
}

// Averaging and sampling of the loop-time and idle accounting.
const (
	loopSamples  = 1024
	idleSampleNs = int64(500 * time.Millisecond)
)

// enteringPoll records the time spent since the previous wait ended
// (HAProxy: activity_count_runtime feeding avg_loop_us) and returns the
// time the wait starts.
func (c *Context) enteringPoll() int64 {
	ns := c.Clock.Nanotime()
	if c.afterPoll != 0 {
		us := uint32(min((ns-c.afterPoll)/int64(time.Microsecond), 1<<22))
		c.loopSum = c.loopSum - (c.loopSum+loopSamples-1)/loopSamples + us
		c.Activity.AvgLoopUS.Store((c.loopSum + loopSamples - 1) / loopSamples)
	}
	return ns
}

// leavingPoll adds the wait that started at before to the idle accounting
// and, every half second of samples, publishes the idle percentage
// (HAProxy: measure_idle).
func (c *Context) leavingPoll(before int64) {
	now := c.lastNs
	if c.afterPoll != 0 {
		c.idleNs += now - before
		c.idleTotNs += now - c.afterPoll
		if c.idleTotNs >= idleSampleNs {
			c.Activity.IdlePct.Store(uint32((100*c.idleNs + c.idleTotNs/2) / c.idleTotNs))
			c.idleNs, c.idleTotNs = 0, 0
		}
	}
	c.afterPoll = now
}

// failedFD is an fd whose registration the kernel refused.
type failedFD struct {
	fd  int
	gen uint32
	err error
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
	c.lastNs = ns
	return ns
}

// FailFD reports that the kernel refused to watch fd, of generation gen
// (err says why, wrapping the errno). Backends call it from their
// UpdateFD instead of failing the cycle: one fd's failure is never the
// poller's. The same cycle's Wait then polls without sleeping and delivers
// an error event (ERR_RW) to the fd's owner through
// [fdtable.Thread.DispatchError], and poll_err_fd counts it. The backend
// must have recorded with SetPolled that it watches nothing for the fd;
// it tries again only when the owner changes what it wants.
func (c *Context) FailFD(fd int, gen uint32, err error) {
	c.failed = append(c.failed, failedFD{fd, gen, err})
	c.Activity.PollErrFD.Add(1)
}

// deliverFailed hands the error events queued by FailFD to their owners.
func (c *Context) deliverFailed() {
	for i := range c.failed {
		f := &c.failed[i]
		if c.Thread.DispatchError(f.fd, f.gen) == fdtable.Delivered && c.OnFDError != nil {
			c.OnFDError(f.fd, f.err)
		}
		f.err = nil
	}
	c.failed = c.failed[:0]
}

// yieldEvery bounds how long a polling goroutine runs without passing
// through the Go scheduler. A goroutine that never does looks
// long-running to the runtime's sysmon, which then preempts it with
// signals and hands its P to other threads while it sits in system calls,
// waking idle threads that find nothing to do: a measured 30 % more CPU
// per echoed message. Sysmon preempts a goroutine it has seen running for
// 10 ms, so one runtime.Gosched every 5 ms at most, before a kernel wait,
// is enough to avoid that. It is not free: a goroutine locked to its OS
// thread, as loop threads are, can only yield by handing its P to another
// thread and being handed it back (measured: 2 voluntary context switches
// and 15-27 µs per runtime.Gosched, against 0.1 µs unlocked), which a
// yield every millisecond on each of two loop threads made a measurable
// share of an echo server's CPU.
var yieldEvery = int64(5 * time.Millisecond)

// computeTimeout returns the poll timeout in milliseconds for the next
// timer exp (HAProxy: compute_poll_timeout): MaxDelayMS for
// Eternity; 0 (counting poll_exp) if exp has expired; otherwise the
// remaining time plus one millisecond, capped at MaxDelayMS, so that a
// positive remaining time never becomes a zero wait and the timer has
// really expired on wake-up.
func (c *Context) computeTimeout(exp Tick) int {
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

// maxZeroRetries bounds the retries of an interrupted zero-timeout wait,
// so that a signal storm cannot keep a non-sleeping cycle from ending.
const maxZeroRetries = 16

// Wait runs the kernel wait of one poll cycle with HAProxy's retry rules
// around it (the loop around epoll_wait in _do_poll), except that an
// interrupted wait resumes instead of ending the cycle early:
//   - the timeout is 0 when wake is true; otherwise it is MaxDelayMS for
//     Eternity, 0 (counting poll_exp) if exp has expired, else the time
//     left plus one millisecond, capped at MaxDelayMS, so that the timer
//     has really expired on wake-up (HAProxy: compute_poll_timeout);
//   - EINTR is not an event: the wait is retried with the time left until
//     the original deadline, so signals neither end the wait early nor
//     stretch it (Go's own preemption signals interrupt waits often); a
//     zero-timeout wait is retried at once;
//   - per-fd registration failures reported with FailFD make the wait a
//     zero-timeout one, and their error events are delivered after it;
//   - at most once per millisecond, the goroutine yields to the Go
//     scheduler first (see yieldEvery);
//   - with busy polling (and a non-zero timeout), zero-timeout waits repeat
//     until an event arrives, SignalPending reports true, or exp expires;
//   - poll_io counts cycles that returned events.
//
// It then clears the thread's sleeping bit. busy says whether the backend
// honours busy polling (poll and select do not).
func (c *Context) Wait(w Waiter, exp Tick, wake, busy bool) (int, error) {
	if c.lastNs-c.lastYield >= yieldEvery {
		c.lastYield = c.lastNs
		runtime.Gosched()
	}
	failed := len(c.failed) > 0
	before := c.enteringPoll()
	n, err := c.wait(w, exp, wake || failed, busy)
	c.leavingPoll(before)
	if failed {
		c.deliverFailed()
	}
	if bit := c.Thread.Bit(); c.Sleeping.Load()&bit != 0 {
		c.Sleeping.And(^bit)
	}
	return n, err
}

func (c *Context) wait(w Waiter, exp Tick, wake, busy bool) (int, error) {
	waitMS := 0
	if !wake {
		waitMS = c.computeTimeout(exp)
	}
	busy = busy && c.BusyPolling.Load() && waitMS != 0
	var deadline int64
	if waitMS > 0 {
		deadline = c.Clock.Nanotime() + int64(waitMS)*int64(time.Millisecond)
	}
	timeout := waitMS
	zeroRetries := 0
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
				// A zero-timeout wait is retried too: returning would
				// end the cycle without having polled at all.
				if zeroRetries++; zeroRetries < maxZeroRetries {
					continue
				}
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
