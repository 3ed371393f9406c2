package loop

import (
	"sync/atomic"

	"github.com/evpoll/evpoll/poller"
)

// State is a task's state word: the scheduling bits and the accumulated
// wake-up reasons (HAProxy's TASK_* values).
type State uint32

// Scheduling bits.
const (
	Running    State = 0x0001 // being executed (TASK_RUNNING)
	Global     State = 0x0002 // in the shared run queue (TASK_GLOBAL)
	Queued     State = 0x0004 // in a run queue or a task list (TASK_QUEUED)
	SelfWaking State = 0x0010 // a tasklet woke itself (TASK_SELF_WAKING)
	Killed     State = 0x0020 // to be dropped instead of run (TASK_KILLED)
	// Dead marks a task whose handler returned false: it is never queued
	// or run again. evpoll only; HAProxy frees the task instead.
	Dead State = 0x0040
)

// Wake-up reasons, accumulated until the handler runs.
const (
	WokenInit   State = 0x0100 // initialisation (TASK_WOKEN_INIT)
	WokenTimer  State = 0x0200 // expired timer
	WokenIO     State = 0x0400 // completed I/O
	WokenSignal State = 0x0800 // system signal
	WokenMsg    State = 0x1000 // message from another task
	WokenRes    State = 0x2000 // resource became available
	WokenOther  State = 0x4000 // unspecified
	WokenAny    State = WokenInit | WokenTimer | WokenIO | WokenSignal | WokenMsg | WokenRes | WokenOther
)

// Handler runs a task. It receives the task, its context and the wake-up
// reasons accumulated since it last ran, and returns whether the task lives
// on. When it does, the task goes back to a run queue at once if it was
// woken while running, otherwise to the wait queue by its expire date
// (nowhere if the date is Eternity). When it does not, the task is taken
// out of the wait queue and never touched again.
type Handler func(t *Task, ctx any, reasons State) bool

// Task is a unit of work run by the loop's threads (HAProxy's struct task).
// Create tasks with [Loop.NewTask].
type Task struct {
	state atomic.Uint32
	// nice shifts the task's place in the run queue: negative runs sooner,
	// positive later (-1024..1024).
	nice    int32
	mask    uint64
	handler Handler
	ctx     any
	l       *Loop
	expire  atomic.Uint32 // a poller.Tick; atomic since shared tasks move between threads
	calls   uint32
	wq      hnode
	rq      hnode
	run     link
	cur     *Thread
}

// NewTask returns a task bound to the threads in mask (0 means every
// thread of the loop). Bound to one thread, the task is queued and its
// timer kept by that thread alone, without locks; bound to several, it
// goes through the shared run and wait queues and runs on whichever of
// them picks it first.
func (l *Loop) NewTask(h Handler, ctx any, mask uint64) *Task {
	if mask == 0 || mask&l.all == 0 {
		mask = l.all
	}
	mask &= l.all
	t := &Task{handler: h, ctx: ctx, mask: mask, l: l}
	t.wq = hnode{idx: -1, t: t}
	t.rq = hnode{idx: -1, t: t}
	t.run.task = t
	return t
}

// SetNice sets the task's nice value, clamped to -1024..1024. It takes
// effect at the next wake-up.
func (t *Task) SetNice(n int) {
	t.nice = int32(max(-1024, min(1024, n)))
}

// Mask returns the threads the task may run on.
func (t *Task) Mask() uint64 { return t.mask }

// State returns the task's state word.
func (t *Task) State() State { return State(t.state.Load()) }

// Calls returns how many times the handler ran.
func (t *Task) Calls() uint32 { return t.calls }

// Expire returns the task's expire date. Read it from the task's handler
// or its thread.
func (t *Task) Expire() poller.Tick { return poller.Tick(t.expire.Load()) }

// SetExpire sets the task's expire date, which the loop applies when the
// handler returns true (HAProxy: t->expire). Call it from the handler.
func (t *Task) SetExpire(when poller.Tick) { t.expire.Store(uint32(when)) }

// Thread returns the thread running the task's handler, nil outside it.
func (t *Task) Thread() *Thread { return t.cur }

// shared reports whether the task lives in the shared queues.
func (t *Task) shared() bool { return t.mask&(t.mask-1) != 0 }

// Kill marks the task to be dropped instead of run (HAProxy: task_kill).
// Safe from any goroutine.
func (t *Task) Kill() {
	t.state.Or(uint32(Killed))
	t.l.Wakeup(t, 0)
}
