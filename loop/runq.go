package loop

import "math/bits"

// Wakeup wakes t with the given reasons from the calling thread th
// (HAProxy: task_wakeup). A task bound to th alone goes to th's run queue
// without locks; any other goes to the shared run queue, and if every
// thread allowed to run it sleeps, the lowest-numbered one is woken
// through its wake-up fd. Waking a task that is already queued or running
// only adds the reasons: it is queued at most once and its handler gets
// every reason at its next run. th must be the calling thread's handle;
// use [Loop.Wakeup] from other goroutines.
func (th *Thread) Wakeup(t *Task, reasons State) { th.l.wakeup(th, t, reasons) }

// Wakeup wakes t from a goroutine that is not one of the loop's threads;
// see [Thread.Wakeup].
func (l *Loop) Wakeup(t *Task, reasons State) { l.wakeup(nil, t, reasons) }

func (l *Loop) wakeup(from *Thread, t *Task, reasons State) {
	reasons &= WokenAny
	var s uint32
	if reasons != 0 {
		s = t.state.Or(uint32(reasons)) | uint32(reasons)
	} else {
		s = t.state.Load()
	}
	for {
		if s&uint32(Running|Queued|Dead) != 0 {
			return
		}
		if t.state.CompareAndSwap(s, s|uint32(Queued)) {
			break
		}
		s = t.state.Load()
	}
	l.enqueue(from, t)
}

// ticket returns the run-queue key of a task being queued: the insertion
// order, shifted by nice times the run-queue depth.
func (l *Loop) ticket(t *Task) uint32 {
	k := l.rqTicks.Add(1)
	if t.nice != 0 {
		k += uint32(int32(t.nice) * int32(l.depth))
	}
	return k
}

func (l *Loop) enqueue(from *Thread, t *Task) {
	if from != nil && t.mask == from.bit {
		t.rq.key = l.ticket(t)
		from.rq.push(&t.rq)
		if t.nice != 0 {
			from.niced++
		}
		return
	}
	l.gmu.Lock()
	t.state.Or(uint32(Global))
	t.rq.key = l.ticket(t)
	l.grq.push(&t.rq)
	if t.nice != 0 {
		l.gniced.Add(1)
	}
	for m := t.mask; m != 0; m &= m - 1 {
		l.threads[bits.TrailingZeros64(m)].gcount.Add(1)
	}
	l.gmu.Unlock()
	l.wakeOneFor(t.mask, from)
}

// wakeOneFor wakes one thread of mask, the lowest-numbered other than
// from, if every thread of mask sleeps (HAProxy: __task_wakeup's end).
func (l *Loop) wakeOneFor(mask uint64, from *Thread) {
	sl := l.sleeping.Load()
	if mask&^sl != 0 {
		return
	}
	cand := mask & sl
	if from != nil {
		cand &^= from.bit
	}
	if cand == 0 {
		return
	}
	l.wakeThread(bits.TrailingZeros64(cand))
}

// hasTasks reports whether the thread has runnable work (HAProxy:
// thread_has_tasks, plus the shared run queue's bit for the thread).
func (th *Thread) hasTasks() bool {
	if th.rq.len() != 0 || th.gcount.Load() != 0 || th.sharedN.Load() != 0 {
		return true
	}
	for i := range th.lists {
		if !th.lists[i].empty() {
			return true
		}
	}
	return false
}

// takeGlobal moves up to budget tasks for th from the shared run queue and
// th's own run queue onto the normal list, always taking the smaller key
// of the two; it returns how many it moved. The shared queue's lock is
// held only when it has work for th.
func (th *Thread) takeTasks(budget int) int {
	l := th.l
	moved := 0
	locked := false
	var g *hnode
	if th.gcount.Load() != 0 {
		l.gmu.Lock()
		locked = true
	}
	for moved < budget {
		if locked && g == nil && th.gcount.Load() != 0 {
			g = th.popGlobal()
		}
		loc := th.rq.min()
		var t *Task
		switch {
		case g != nil && (loc == nil || keyLess(g.key, loc.key)):
			t = g.t
			g = nil
			for m := t.mask; m != 0; m &= m - 1 {
				l.threads[bits.TrailingZeros64(m)].gcount.Add(-1)
			}
			if t.nice != 0 {
				l.gniced.Add(-1)
			}
			t.state.And(^uint32(Global))
		case loc != nil:
			th.rq.remove(loc)
			t = loc.t
			if t.nice != 0 {
				th.niced--
			}
		default:
			budget = moved
			continue
		}
		th.lists[ClassNormal].append(&t.run)
		th.ctx.Activity.TaskSw.Add(1)
		moved++
	}
	if locked {
		if g != nil {
			l.grq.push(g)
		}
		for i, n := range th.skipped {
			l.grq.push(n)
			th.skipped[i] = nil
		}
		th.skipped = th.skipped[:0]
		l.gmu.Unlock()
	}
	return moved
}

// popGlobal pops the shared run queue's first task that th may run,
// setting aside those it may not (pushed back by takeTasks). l.gmu held.
func (th *Thread) popGlobal() *hnode {
	for {
		n := th.l.grq.popMin()
		if n == nil {
			return nil
		}
		if n.t.mask&th.bit != 0 {
			return n
		}
		th.skipped = append(th.skipped, n)
	}
}

// processRunnableTasks runs a budget of tasks and tasklets (HAProxy 2.2:
// process_runnable_tasks): RunqueueDepth entries, a quarter of it when
// niced tasks wait, shared between the urgent, normal and bulk classes by
// their weights among the classes that have work.
func (th *Thread) processRunnableTasks() {
	l := th.l
	if !th.hasTasks() {
		th.ctx.Activity.EmptyRQ.Add(1)
		return
	}
	maxp := l.depth
	if th.niced != 0 || l.gniced.Load() != 0 {
		maxp = (maxp + 3) / 4
	}
	for maxp > 0 {
		var budget [numClasses]int
		var have [numClasses]bool
		have[ClassUrgent] = !th.lists[ClassUrgent].empty() || th.sharedN.Load() != 0
		have[ClassNormal] = !th.lists[ClassNormal].empty() || th.rq.len() != 0 || th.gcount.Load() != 0
		have[ClassBulk] = !th.lists[ClassBulk].empty()
		sum := 0
		for c := range have {
			if have[c] {
				sum += classWeight[c]
			}
		}
		if sum == 0 {
			break
		}
		for c := range have {
			if have[c] {
				budget[c] = (maxp*classWeight[c] + sum - 1) / sum
			}
		}
		if have[ClassNormal] {
			th.takeTasks(budget[ClassNormal])
		}
		th.spliceShared()
		done := th.runLists(&budget)
		maxp -= done
		if done == 0 || !th.hasTasks() {
			break
		}
	}
	if th.hasTasks() {
		th.ctx.Activity.LongRQ.Add(1)
	}
}

// runLists runs each class in order until it is empty or out of budget
// and returns how many entries ran.
func (th *Thread) runLists(budget *[numClasses]int) int {
	done := 0
	for c := range th.lists {
		th.curClass = c
		for budget[c] > 0 && !th.lists[c].empty() {
			e := th.lists[c].first()
			unlink(e)
			budget[c]--
			done++
			th.ctx.Activity.CtxSw.Add(1)
			if e.tl != nil {
				th.runTasklet(e.tl)
			} else {
				th.runTask(e.task)
			}
		}
	}
	th.curClass = -1
	return done
}

func (th *Thread) runTasklet(tl *Tasklet) {
	var s uint32
	for {
		s = tl.state.Load()
		if tl.state.CompareAndSwap(s, 0) {
			break
		}
	}
	tl.calls++
	th.curTasklet = tl
	tl.handler(tl, tl.ctx, State(s)&^Queued)
	th.curTasklet = nil
}

// runTask runs t and applies the return rule.
func (th *Thread) runTask(t *Task) {
	var s uint32
	for {
		s = t.state.Load()
		if t.state.CompareAndSwap(s, s&uint32(Killed|Dead)|uint32(Running)) {
			break
		}
	}
	if State(s)&Killed != 0 {
		th.drop(t)
		return
	}
	t.calls++
	t.cur = th
	live := t.handler(t, t.ctx, State(s)&WokenAny)
	t.cur = nil
	if !live {
		th.drop(t)
		return
	}
	// Queue the timer while the task is still marked running, so that no
	// other thread runs it (and rewrites its date) meanwhile.
	th.Queue(t)
	s = t.state.And(^uint32(Running))
	if State(s)&Killed != 0 {
		th.drop(t)
		return
	}
	if State(s)&WokenAny != 0 {
		th.l.wakeup(th, t, 0)
	}
}

// drop takes t out of the wait queue and marks it dead; it is never queued
// or run again.
func (th *Thread) drop(t *Task) {
	t.state.Store(uint32(Dead))
	if t.shared() {
		th.Unqueue(t)
	} else if t.wq.queued() && t.mask == th.bit {
		th.wq.remove(&t.wq)
	}
}
