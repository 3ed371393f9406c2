package loop

import "sync/atomic"

// link is an entry of a thread's task lists: a task moved out of a run
// queue, or a tasklet. The lists are circular with a sentinel, so that
// appending and unlinking allocate nothing.
type link struct {
	next, prev *link
	task       *Task
	tl         *Tasklet
}

type list struct{ head link }

func (l *list) init()        { l.head.next, l.head.prev = &l.head, &l.head }
func (l *list) empty() bool  { return l.head.next == &l.head }
func (l *list) first() *link { return l.head.next }
func (l *list) append(e *link) {
	e.prev = l.head.prev
	e.next = &l.head
	l.head.prev.next = e
	l.head.prev = e
}

func unlink(e *link) {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.next, e.prev = nil, nil
}

// Tasklet classes, run in this order with the weights 64, 48 and 16 of
// the budget (HAProxy's TL_URGENT, TL_NORMAL, TL_BULK). Tasks taken from
// the run queues run in the normal class.
const (
	ClassUrgent = iota
	ClassNormal
	ClassBulk
	numClasses
)

var classWeight = [numClasses]int{64, 48, 16}

// TaskletHandler runs a tasklet with its context and the state bits it had
// when it was picked (SelfWaking if it woke itself).
type TaskletHandler func(tl *Tasklet, ctx any, state State)

// Tasklet is the lightweight, thread-local kind of task: no timer, no run
// queue ordering, woken into one of three classes of its thread. Create
// tasklets with [Loop.NewTasklet].
type Tasklet struct {
	state   atomic.Uint32
	handler TaskletHandler
	ctx     any
	th      *Thread
	run     link
	calls   uint32
}

// NewTasklet returns a tasklet of thread tid (clamped to the loop's
// threads).
func (l *Loop) NewTasklet(h TaskletHandler, ctx any, tid int) *Tasklet {
	tid = max(0, min(tid, len(l.threads)-1))
	tl := &Tasklet{handler: h, ctx: ctx, th: l.threads[tid]}
	tl.run.tl = tl
	return tl
}

// Calls returns how many times the tasklet ran.
func (tl *Tasklet) Calls() uint32 { return tl.calls }

// Wakeup queues tl if it is not queued yet (HAProxy: tasklet_wakeup).
// from is the calling thread, nil from outside the loop's threads. On its
// own thread the tasklet goes, without atomics beyond its state word, to
// the class that is running (urgent outside the task lists, bulk if it
// wakes itself); from elsewhere it is pushed onto its thread's shared
// tasklet list, which is spliced into the urgent class, and the thread is
// woken if it sleeps.
func (tl *Tasklet) Wakeup(from *Thread) {
	for {
		s := tl.state.Load()
		if s&uint32(Queued) != 0 {
			return
		}
		if tl.state.CompareAndSwap(s, s|uint32(Queued)) {
			break
		}
	}
	th := tl.th
	if from == th {
		class := ClassUrgent
		if th.curClass >= 0 {
			class = th.curClass
		}
		if th.curTasklet == tl {
			tl.state.Or(uint32(SelfWaking))
			class = ClassBulk
		}
		th.lists[class].append(&tl.run)
		return
	}
	th.sharedMu.Lock()
	th.sharedTL = append(th.sharedTL, tl)
	th.sharedN.Store(int32(len(th.sharedTL)))
	th.sharedMu.Unlock()
	th.l.wakeThread(th.id)
}

// spliceShared moves the tasklets other goroutines woke onto the urgent
// list.
func (th *Thread) spliceShared() {
	if th.sharedN.Load() == 0 {
		return
	}
	th.sharedMu.Lock()
	th.sharedTL, th.sharedSwap = th.sharedSwap[:0], th.sharedTL
	th.sharedN.Store(0)
	th.sharedMu.Unlock()
	for i, tl := range th.sharedSwap {
		th.lists[ClassUrgent].append(&tl.run)
		th.sharedSwap[i] = nil
	}
}
