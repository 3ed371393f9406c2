package loop

import "github.com/evpoll/evpoll/poller"

// The wait queue (HAProxy's timers tree) is a 4-ary heap per thread for
// tasks bound to one thread, plus one shared heap under a lock for tasks
// bound to several. The key of a queued task is a lower bound of its
// expire date: queueing with a later date leaves the node where it is, and
// the node is re-keyed only when the clock reaches the old key, so a timer
// that is pushed back on every event (an idle timeout) costs no heap work
// until it is about to fire.

// queueIn puts t in h by its expire date (HAProxy: __task_queue): not at
// all if the date is Eternity; a queued node moves only if the new date is
// earlier than its key.
func queueIn(h *heap4, t *Task) {
	exp := t.expire.Load()
	if exp == 0 {
		return
	}
	if !t.wq.queued() {
		t.wq.key = exp
		h.push(&t.wq)
		return
	}
	if keyLess(exp, t.wq.key) {
		h.rekey(&t.wq, exp)
	}
}

// Queue puts t in the wait queue by its expire date (HAProxy: task_queue).
// th is the calling thread: a task bound to one thread must be queued by
// that thread (it keeps its timers without locks); a shared task may be
// queued by any of them or from outside (th nil).
func (th *Thread) Queue(t *Task) error {
	if !t.shared() {
		if th == nil || t.mask != th.bit {
			return ErrWrongThread
		}
		queueIn(&th.wq, t)
		return nil
	}
	if t.expire.Load() == 0 {
		return nil
	}
	l := t.l
	l.gwqMu.Lock()
	queueIn(&l.gwq, t)
	l.gwqLen.Store(int32(l.gwq.len()))
	l.gwqMu.Unlock()
	return nil
}

// Schedule sets t's expire date to the earlier of when and its current
// date if it is queued, then queues it (HAProxy: task_schedule). A task in
// a run queue is left alone.
func (th *Thread) Schedule(t *Task, when poller.Tick) error {
	if t.State()&Queued != 0 {
		return nil
	}
	if !t.shared() {
		if th == nil || t.mask != th.bit {
			return ErrWrongThread
		}
		setEarliest(t, when)
		queueIn(&th.wq, t)
		return nil
	}
	l := t.l
	l.gwqMu.Lock()
	setEarliest(t, when)
	queueIn(&l.gwq, t)
	l.gwqLen.Store(int32(l.gwq.len()))
	l.gwqMu.Unlock()
	return nil
}

// setEarliest sets t's date to when, or to its current date if t is
// queued with an earlier one. The caller owns t's wait queue.
func setEarliest(t *Task, when poller.Tick) {
	if t.wq.queued() {
		when = poller.Tick(t.expire.Load()).First(when)
	}
	t.expire.Store(uint32(when))
}

// Unqueue takes t out of the wait queue (HAProxy: task_unlink_wq).
func (th *Thread) Unqueue(t *Task) error {
	if !t.shared() {
		if th == nil || t.mask != th.bit {
			return ErrWrongThread
		}
		if t.wq.queued() {
			th.wq.remove(&t.wq)
		}
		return nil
	}
	l := t.l
	l.gwqMu.Lock()
	if t.wq.queued() {
		l.gwq.remove(&t.wq)
	}
	l.gwqLen.Store(int32(l.gwq.len()))
	l.gwqMu.Unlock()
	return nil
}

// expireFrom wakes the tasks of h whose timers have expired at now and
// re-keys those whose key was only a lower bound (HAProxy:
// wake_expired_tasks): the first node is examined only once the clock has
// reached its key; a task whose real date is later goes back at that
// date without being woken, and one whose date was cleared leaves.
func (th *Thread) expireFrom(h *heap4, now poller.Tick) {
	for {
		// The key is read from the heap's array: when nothing has
		// expired, no task is touched.
		if h.len() == 0 || keyLess(uint32(now), h.n[0].key) {
			return
		}
		n := h.n[0].n
		h.remove(n)
		t := n.t
		exp := poller.Tick(t.expire.Load())
		if exp.IsExpired(now) {
			th.l.wakeup(th, t, WokenTimer)
			continue
		}
		if exp.IsSet() {
			t.wq.key = uint32(exp)
			h.push(n)
		}
	}
}

func (th *Thread) wakeExpiredTasks() {
	now := th.ctx.Now()
	th.expireFrom(&th.wq, now)
	l := th.l
	if l.gwqLen.Load() == 0 {
		return
	}
	l.gwqMu.Lock()
	th.expireFrom(&l.gwq, now)
	l.gwqLen.Store(int32(l.gwq.len()))
	l.gwqMu.Unlock()
}

// nextTimerExpiry returns the earliest key of the thread's and the shared
// wait queues, Eternity if both are empty (HAProxy: next_timer_expiry).
func (th *Thread) nextTimerExpiry() poller.Tick {
	next := poller.Eternity
	if n := th.wq.min(); n != nil {
		next = tickOfKey(n.key)
	}
	l := th.l
	if l.gwqLen.Load() != 0 {
		l.gwqMu.Lock()
		if n := l.gwq.min(); n != nil {
			next = next.First(tickOfKey(n.key))
		}
		l.gwqMu.Unlock()
	}
	return next
}

// tickOfKey turns a wait-queue key back into a date; a key of 0 (a date
// that was computed without tick_add's bump) is read as 1 so that it does
// not mean Eternity.
func tickOfKey(k uint32) poller.Tick {
	if k == 0 {
		return 1
	}
	return poller.Tick(k)
}
