package loop

import (
	"sync"
	"sync/atomic"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
)

// Thread is one polling thread of a loop: its fdtable handle, its poller
// context and instance, its run queue, wait queue and task lists, and its
// wake-up fd. Methods that take a *Thread as the caller must be called
// from that thread's goroutine (its tasks, tasklets and fd callbacks).
type Thread struct {
	l   *Loop
	id  int
	bit uint64
	fd  *fdtable.Thread
	ctx *poller.Context
	p   poller.Poller

	rq      heap4
	niced   int
	wq      heap4
	lists   [numClasses]list
	skipped []*hnode

	curClass   int
	curTasklet *Tasklet

	gcount     atomic.Int32 // shared run-queue tasks this thread may run
	sharedMu   sync.Mutex
	sharedTL   []*Tasklet
	sharedSwap []*Tasklet
	sharedN    atomic.Int32

	wk       waker
	wkMu     sync.RWMutex // write-locked while the wake-up fd closes
	wkOpen   bool
	wakes    atomic.Uint32 // writes to the wake-up fd
	released bool
}

func (l *Loop) newThread(id int, cfg Config) (*Thread, error) {
	fth, err := l.tab.NewThread(id)
	if err != nil {
		return nil, err
	}
	ctx := poller.NewContext(fth)
	ctx.Sleeping = &l.sleeping
	ctx.Clock = l.clock
	ctx.MaxEvents = cfg.MaxEvents
	ctx.BusyPolling.Store(cfg.BusyPolling)
	ctx.UpdateTime()
	th := &Thread{l: l, id: id, bit: fth.Bit(), fd: fth, ctx: ctx, curClass: -1}
	if id == 0 {
		ctx.SignalPending = l.sig.isPending
	}
	for i := range th.lists {
		th.lists[i].init()
	}
	return th, nil
}

// ID returns the thread's id.
func (th *Thread) ID() int { return th.id }

// Bit returns the thread's bit in thread masks.
func (th *Thread) Bit() uint64 { return th.bit }

// FD returns the thread's fdtable handle, for the fd operations of its
// callbacks.
func (th *Thread) FD() *fdtable.Thread { return th.fd }

// Takeover moves fd to this thread (fdtable.Thread.Takeover: it fails if
// another thread is running the fd or its generation is no longer gen)
// and counts it in fd_takeover.
func (th *Thread) Takeover(fd int, gen uint32) error {
	err := th.fd.Takeover(fd, gen)
	if err == nil {
		th.ctx.Activity.FDTakeover.Add(1)
	}
	return err
}

// Context returns the thread's poller context (clock, counters).
func (th *Thread) Context() *poller.Context { return th.ctx }

// Activity returns the thread's activity counters.
func (th *Thread) Activity() *poller.Activity { return &th.ctx.Activity }

// Now returns the thread's current tick, as of its last clock update.
func (th *Thread) Now() poller.Tick { return th.ctx.Now() }

// Loop returns the thread's loop.
func (th *Thread) Loop() *Loop { return th.l }

// startWaker opens the wake-up fd and registers it in the table like any
// fd, owned by this thread and always wanted for reading.
func (th *Thread) startWaker() error {
	w, err := newWaker()
	if err != nil {
		return err
	}
	th.wkMu.Lock()
	th.wk = w
	th.wkOpen = true
	th.wkMu.Unlock()
	if err := th.fd.Insert(w.rfd, th, drainWaker, th.bit); err != nil {
		return err
	}
	return th.fd.WantRecv(w.rfd)
}

// drainWaker is the wake-up fd's callback (HAProxy:
// poller_pipe_io_handler): read everything, then clear READY_R. The fd
// stays wanted, so nothing changes in the kernel.
func drainWaker(fd int, owner any) {
	th := owner.(*Thread)
	th.wk.drain()
	th.fd.CantRecv(fd)
}

// signalWaker writes to the wake-up fd, unless it is closed: a wake-up
// racing with the end of Run must not write to an fd number that may
// already belong to someone else.
func (th *Thread) signalWaker() {
	th.wkMu.RLock()
	if th.wkOpen {
		th.wakes.Add(1)
		th.wk.signal()
	}
	th.wkMu.RUnlock()
}

// release terminates the poller, removes and closes the wake-up fd and
// gives the thread id back to the table.
func (th *Thread) release() {
	if th == nil || th.released {
		return
	}
	th.released = true
	th.wkMu.Lock()
	if th.wkOpen {
		th.wkOpen = false
		if th.l.tab.Info(th.wk.rfd).Open {
			th.fd.Remove(th.wk.rfd)
		}
		th.wk.close()
	}
	th.wkMu.Unlock()
	if th.p != nil {
		th.p.Close()
	}
	th.fd.Close()
}

// step names the stages of one loop iteration, for tests.
type step uint8

const (
	stepExpire step = iota + 1
	stepTasks
	stepSignals
	stepStop
	stepKilled
	stepDecide
	stepPoll
	stepLoops
)

func (th *Thread) mark(s step) {
	if f := th.l.trace; f != nil {
		f(th.id, s)
	}
}

// run is HAProxy's run_poll_loop (as it stood between 2.1 and 2.2) for one
// thread, in that order.
func (th *Thread) run() error {
	l := th.l
	th.ctx.UpdateTime()
	for {
		th.mark(stepExpire)
		th.wakeExpiredTasks()
		th.mark(stepTasks)
		th.processRunnableTasks()
		if th.id == 0 {
			th.mark(stepSignals)
			l.processSignals(th)
		}
		th.mark(stepStop)
		if th.stopNow() {
			return nil
		}
		th.mark(stepKilled)
		if l.killed.Load() > 1 {
			return nil
		}
		th.mark(stepDecide)
		wake := th.decide()
		next := poller.Eternity
		if !wake {
			next = th.nextTimerExpiry()
		}
		th.mark(stepPoll)
		if err := th.p.Poll(next, wake); err != nil {
			return err
		}
		th.ctx.Activity.Loops.Add(1)
		th.mark(stepLoops)
	}
}

// decide is the sleep decision: work queued, or a signal pending on thread
// 0, means no sleep; otherwise the thread announces it may sleep, then
// checks again (another thread may have queued work before seeing the
// bit) and takes the bit back if work appeared.
func (th *Thread) decide() bool {
	l := th.l
	switch {
	case th.hasTasks():
		th.ctx.Activity.WakeTasks.Add(1)
		return true
	case th.id == 0 && l.sig.isPending():
		th.ctx.Activity.WakeSignal.Add(1)
		return true
	}
	l.sleeping.Or(th.bit)
	// Go's atomics are sequentially consistent: this read cannot pass
	// the Or above, and a waker reads the mask after queueing its work.
	if th.hasTasks() || (th.id == 0 && l.sig.isPending()) {
		th.ctx.Activity.WakeTasks.Add(1)
		l.sleeping.And(^th.bit)
		return true
	}
	return false
}

// stopNow is the stop check at its place in that version of the loop, with
// one deliberate change: the loop does not end when a thread
// alone sees no jobs left (it would stop serving its fds while the others
// run), but when a soft stop is in progress, every thread has noticed it,
// and no stoppable job is left (HAProxy 2.2's stopping mask). The first
// thread to notice the soft stop wakes the others, the one that finds the
// stop complete wakes them too so that they all leave.
func (th *Thread) stopNow() bool {
	l := th.l
	if !l.stopping.Load() {
		return false
	}
	old := l.stopMask.Or(th.bit)
	if old == 0 {
		l.wakeOthers(l.all&^old, th)
	}
	if l.jobs.Load()-l.unstop.Load() <= 0 && l.stopMask.Load() == l.all {
		l.wakeOthers(l.all, th)
		return true
	}
	return false
}
