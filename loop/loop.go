package loop

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
)

// DefaultRunqueueDepth is the default number of tasks and tasklets run per
// call before returning to the poller (HAProxy's RUNQUEUE_DEPTH,
// tune.runqueue-depth).
const DefaultRunqueueDepth = 200

// Errors returned by the loop.
var (
	// ErrWrongThread: a thread-bound task was handled from another thread.
	ErrWrongThread = errors.New("loop: task belongs to another thread")
	// ErrRunning: Run was called twice, or the loop was closed.
	ErrRunning = errors.New("loop: already run or closed")
	// ErrBadConfig: a Config field is out of range.
	ErrBadConfig = errors.New("loop: bad config")

	errNilPoller = errors.New("constructor returned no poller")
)

// Config sets up a loop. The zero value is usable.
type Config struct {
	// Threads is the number of polling threads, 1..64; 0 means
	// GOMAXPROCS (at most 64).
	Threads int
	// Table is the fd table the threads poll; nil means fdtable.New(0).
	Table *fdtable.Table
	// RunqueueDepth is the budget of one run of the run queues; 0 means
	// DefaultRunqueueDepth.
	RunqueueDepth int
	// MaxEvents bounds the events taken from one kernel wait; 0 means
	// poller.DefaultMaxEvents.
	MaxEvents int
	// BusyPolling makes the backends that support it spin instead of
	// sleeping; soft stop turns it off.
	BusyPolling bool
	// Backend, if set, is the backend every thread uses; otherwise
	// poller.Open chooses one on thread 0 (honouring EVPOLL_POLLER and
	// EVPOLL_DISABLE) and the other threads use the same.
	Backend *poller.Backend
	// Start is the first tick of the loop's clock; 0 means 1. Tests use
	// it to run across the 2^32 ms wrap.
	Start poller.Tick
}

// Loop is a set of polling threads sharing one fd table, one clock, one
// sleeping mask, a shared run queue and wait queue, signal handlers and the
// job counters that decide when a soft stop is complete.
type Loop struct {
	tab     *fdtable.Table
	backend poller.Backend
	threads []*Thread
	all     uint64
	depth   int
	clock   *poller.Clock

	sleeping atomic.Uint64
	stopMask atomic.Uint64
	stopping atomic.Bool
	killed   atomic.Int32
	jobs     atomic.Int64
	unstop   atomic.Int64

	rqTicks atomic.Uint32
	gmu     sync.Mutex
	grq     heap4
	gniced  atomic.Int32
	gwqMu   sync.Mutex
	gwq     heap4
	gwqLen  atomic.Int32

	sig   signals
	stops stopHooks

	state atomic.Int32 // 0 new, 1 running, 2 done
	done  chan struct{}

	// trace, set by tests, records the steps of each iteration.
	trace func(tid int, s step)
}

// New creates the loop's threads, each with its poller instance and its
// wake-up fd. The backend is chosen once, on thread 0, through the
// registry; every other thread uses the same backend's constructor, and if
// one of them fails New fails: threads never mix backends. A loop that is
// never Run must be Closed.
func New(cfg Config) (*Loop, error) {
	n := cfg.Threads
	if n == 0 {
		n = min(runtime.GOMAXPROCS(0), fdtable.MaxThreads)
	}
	if n < 1 || n > fdtable.MaxThreads {
		return nil, fmt.Errorf("%w: %d threads (want 1..%d)", ErrBadConfig, n, fdtable.MaxThreads)
	}
	if cfg.RunqueueDepth < 0 {
		return nil, fmt.Errorf("%w: RunqueueDepth %d", ErrBadConfig, cfg.RunqueueDepth)
	}
	tab := cfg.Table
	if tab == nil {
		tab = fdtable.New(0)
	}
	start := cfg.Start
	if start == 0 {
		start = 1
	}
	l := &Loop{
		tab:   tab,
		depth: cmpOr(cfg.RunqueueDepth, DefaultRunqueueDepth),
		clock: poller.NewClock(start),
		done:  make(chan struct{}),
	}
	l.sig.init()
	for i := range n {
		th, err := l.newThread(i, cfg)
		if err == nil && i == 0 && cfg.Backend == nil {
			l.backend, th.p, err = poller.Open(th.ctx)
			if err != nil {
				err = fmt.Errorf("loop: thread 0: %w", err)
			}
		} else if err == nil && i == 0 {
			l.backend = *cfg.Backend
			th.p, err = l.backend.New(th.ctx)
			if err == nil && th.p == nil {
				err = errNilPoller
			}
			if err != nil {
				err = fmt.Errorf("loop: thread 0: backend %s: %w", l.backend.Name, err)
			}
		} else if err == nil {
			th.p, err = l.backend.New(th.ctx)
			if err == nil && th.p == nil {
				err = errNilPoller
			}
			if err != nil {
				err = fmt.Errorf("loop: thread %d: backend %s (chosen on thread 0): %w", i, l.backend.Name, err)
			}
		}
		if err == nil {
			err = th.startWaker()
		}
		if err != nil {
			th.release()
			l.releaseThreads()
			return nil, err
		}
		l.threads = append(l.threads, th)
		l.all |= th.bit
	}
	tab.SetWakeHook(l.wakeHook)
	return l, nil
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Backend returns the backend every thread uses.
func (l *Loop) Backend() poller.Backend { return l.backend }

// Table returns the loop's fd table.
func (l *Loop) Table() *fdtable.Table { return l.tab }

// Threads returns the loop's threads, in id order.
func (l *Loop) Threads() []*Thread { return l.threads }

// AllThreads returns the mask of every thread of the loop.
func (l *Loop) AllThreads() uint64 { return l.all }

// Now returns the loop clock's current tick.
func (l *Loop) Now() poller.Tick { return l.clock.Now() }

// Clock returns the clock shared by the loop's threads.
func (l *Loop) Clock() *poller.Clock { return l.clock }

// wakeHook is the table's wake hook: a polling change was queued for an fd
// of threads mask by another thread; wake one of them if they all sleep.
func (l *Loop) wakeHook(mask uint64) { l.wakeOneFor(mask, nil) }

// wakeThread clears thread i's sleeping bit and, if it was set, writes to
// the thread's wake-up fd: one write per sleep, however many wakers.
func (l *Loop) wakeThread(i int) {
	th := l.threads[i]
	if l.sleeping.And(^th.bit)&th.bit != 0 {
		th.signalWaker()
	}
}

// wakeOthers writes to the wake-up fd of every thread of mask but self,
// sleeping or not (HAProxy: wake_thread in the stopping logic), so that a
// thread about to sleep cannot miss the news.
func (l *Loop) wakeOthers(mask uint64, self *Thread) {
	for _, th := range l.threads {
		if th == self || mask&th.bit == 0 {
			continue
		}
		l.sleeping.And(^th.bit)
		th.signalWaker()
	}
}

// AddJobs adds n (possibly negative) to the job count. A soft stop
// completes when jobs minus unstoppable jobs reaches 0. Safe from any
// goroutine.
func (l *Loop) AddJobs(n int) {
	if l.jobs.Add(int64(n))-l.unstop.Load() <= 0 && l.stopping.Load() {
		l.wakeOthers(l.all, nil)
	}
}

// Jobs returns the job count.
func (l *Loop) Jobs() int { return int(l.jobs.Load()) }

// AddUnstoppableJobs adds n to the unstoppable job count: jobs that do not
// hold the loop up during a soft stop.
func (l *Loop) AddUnstoppableJobs(n int) {
	if l.unstop.Add(int64(n)) >= l.jobs.Load() && l.stopping.Load() {
		l.wakeOthers(l.all, nil)
	}
}

// UnstoppableJobs returns the unstoppable job count.
func (l *Loop) UnstoppableJobs() int { return int(l.unstop.Load()) }

// Stopping reports whether a soft stop is in progress.
func (l *Loop) Stopping() bool { return l.stopping.Load() }

// SoftStop starts a soft stop (HAProxy: soft_stop): busy polling is turned
// off and signal 0 is raised, whose handlers are expected to close
// listeners and release their jobs. Once jobs minus unstoppable jobs is 0,
// all threads leave Run together.
func (l *Loop) SoftStop() {
	if l.stopping.Swap(true) {
		return
	}
	for _, th := range l.threads {
		th.ctx.BusyPolling.Store(false)
	}
	l.Raise(0)
}

// Kill is one step of a hard stop (HAProxy: hard_stop): the first call
// only counts, the second makes every thread leave at its next iteration,
// whatever the jobs. Safe from any goroutine.
func (l *Loop) Kill() {
	if l.killed.Add(1) > 1 {
		l.wakeOthers(l.all, nil)
	}
}

// Killed returns how many times Kill was called.
func (l *Loop) Killed() int { return int(l.killed.Load()) }

// Stop hard-stops the loop and, if Run is running, waits until it has
// returned, having released every thread, poller and wake-up fd.
func (l *Loop) Stop() {
	l.hardStop()
	if l.state.Load() == 1 {
		<-l.done
	}
}

// hardStop makes every thread leave at its next iteration.
func (l *Loop) hardStop() {
	l.killed.Store(2)
	l.wakeOthers(l.all, nil)
}

// Run runs the threads, each a goroutine locked to its OS thread, until
// they leave (soft stop complete, or hard stop), then runs the stop hooks
// on every thread (see OnStop) and releases the pollers,
// the wake-up fds, the signal handling and the table's thread handles. It
// returns the first poller error, which also hard-stops the other threads.
func (l *Loop) Run() error {
	if !l.state.CompareAndSwap(0, 1) {
		return ErrRunning
	}
	defer close(l.done)
	defer l.state.Store(2)
	l.sig.start(l)
	errs := make([]error, len(l.threads))
	var wg, left sync.WaitGroup
	left.Add(len(l.threads))
	for i, th := range l.threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			if err := th.run(); err != nil {
				errs[i] = fmt.Errorf("loop: thread %d: %w", i, err)
				l.hardStop()
			}
			// The stop hooks run once no thread runs its loop any more,
			// so that none can hand this thread new work behind them.
			left.Done()
			left.Wait()
			th.runStopHooks()
		}()
	}
	wg.Wait()
	l.release()
	return errors.Join(errs...)
}

// Close releases a loop that was never Run, after calling its stop hooks
// (see OnStop) for each thread. It is a no-op after Run.
func (l *Loop) Close() error {
	if !l.state.CompareAndSwap(0, 2) {
		return nil
	}
	for _, th := range l.threads {
		th.runStopHooks()
	}
	l.release()
	close(l.done)
	return nil
}

func (l *Loop) release() {
	l.sig.stop()
	l.tab.SetWakeHook(nil)
	l.releaseThreads()
}

func (l *Loop) releaseThreads() {
	for _, th := range l.threads {
		th.release()
	}
}

// WriteActivity writes the threads' activity counters in the format of
// HAProxy's "show activity": a thread_id and date_now header, then one
// line per counter, "name: total" with one thread and "name: total [ t0
// t1 ... ]" with several.
func (l *Loop) WriteActivity(w io.Writer, tid int) error {
	acts := make([]*poller.Activity, len(l.threads))
	for i, th := range l.threads {
		acts[i] = &th.ctx.Activity
	}
	now := time.Now()
	if _, err := fmt.Fprintf(w, "thread_id: %d (1..%d)\ndate_now: %d.%06d\n",
		tid+1, len(l.threads), now.Unix(), now.Nanosecond()/1000); err != nil {
		return err
	}
	return poller.WriteActivity(w, acts...)
}
