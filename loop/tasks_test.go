package loop

import (
	"testing"

	"github.com/evpoll/evpoll/poller"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// G63: waking a queued or running task only accumulates reasons; it is
// queued once and the handler gets them all.
func TestWakeupAccumulatesAndQueuesOnce(t *testing.T) {
	l := newTestLoop(t, Config{})
	th := l.threads[0]
	var got []State
	self := l.NewTask(func(tk *Task, _ any, why State) bool {
		got = append(got, why)
		if len(got) == 1 {
			th.Wakeup(tk, WokenMsg) // while running
			th.Wakeup(tk, WokenRes)
		}
		return true
	}, nil, th.bit)
	th.Wakeup(self, WokenInit)
	th.Wakeup(self, WokenIO)
	l.Wakeup(self, WokenTimer)
	assert.Equal(t, 1, th.rq.len(), "queued once")
	assert.Zero(t, l.grq.len(), "not in the shared queue too")
	th.processRunnableTasks()
	require.Len(t, got, 2, "requeued at once after being woken while running, run again in the same call")
	assert.Equal(t, WokenInit|WokenIO|WokenTimer, got[0])
	assert.Equal(t, WokenMsg|WokenRes, got[1])
	assert.Equal(t, uint32(2), self.Calls())
}

// G62: the return rule.
func TestTaskReturnRule(t *testing.T) {
	l := newTestLoop(t, Config{})
	th := l.threads[0]
	now := th.Now()
	t.Run("LivesOnWithDate", func(t *testing.T) {
		tk := l.NewTask(func(tk *Task, _ any, _ State) bool { tk.SetExpire(now.Add(30)); return true }, nil, th.bit)
		th.Wakeup(tk, WokenInit)
		th.processRunnableTasks()
		assert.True(t, tk.wq.queued(), "in the wait queue by its date")
		assert.Zero(t, tk.State())
		assert.Equal(t, now.Add(30), th.nextTimerExpiry())
		th.Unqueue(tk)
	})
	t.Run("LivesOnEternity", func(t *testing.T) {
		tk := l.NewTask(func(tk *Task, _ any, _ State) bool { return true }, nil, th.bit)
		th.Wakeup(tk, WokenInit)
		th.processRunnableTasks()
		assert.False(t, tk.wq.queued())
		assert.False(t, tk.rq.queued())
		assert.False(t, th.hasTasks())
	})
	t.Run("Dropped", func(t *testing.T) {
		calls := 0
		tk := l.NewTask(func(tk *Task, _ any, _ State) bool {
			calls++
			tk.SetExpire(now.Add(5))
			th.Queue(tk)
			th.Wakeup(tk, WokenMsg) // woken while running, then dropped
			return false
		}, nil, th.bit)
		th.Wakeup(tk, WokenInit)
		th.processRunnableTasks()
		assert.False(t, tk.wq.queued(), "out of the wait queue")
		assert.Equal(t, Dead, tk.State())
		th.Wakeup(tk, WokenInit)
		l.Wakeup(tk, WokenInit)
		th.expireFrom(&th.wq, now.Add(10))
		th.processRunnableTasks()
		assert.Equal(t, 1, calls, "never run again")
		assert.False(t, th.hasTasks())
	})
	t.Run("Killed", func(t *testing.T) {
		calls := 0
		tk := l.NewTask(func(*Task, any, State) bool { calls++; return true }, nil, th.bit)
		th.Wakeup(tk, WokenInit)
		tk.Kill()
		th.processRunnableTasks()
		assert.Zero(t, calls)
		assert.Equal(t, Dead, tk.State())
	})
}

// G64: a call runs at most about RunqueueDepth entries, a quarter when
// niced tasks wait; rounding per class adds at most 2.
func TestRunqueueBudget(t *testing.T) {
	for _, c := range []struct {
		name   string
		depth  int
		niced  bool
		maxRun int
	}{
		{"Default", 0, false, DefaultRunqueueDepth + 2},
		{"Niced", 0, true, (DefaultRunqueueDepth+3)/4 + 2},
		{"Depth10", 10, false, 12},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newTestLoop(t, Config{RunqueueDepth: c.depth})
			th := l.threads[0]
			ran := 0
			for i := range 1000 {
				tk := l.NewTask(func(*Task, any, State) bool { ran++; return true }, nil, th.bit)
				if c.niced && i == 0 {
					tk.SetNice(10)
				}
				th.Wakeup(tk, WokenInit)
			}
			for i := range 20 {
				tl := l.NewTasklet(func(*Tasklet, any, State) { ran++ }, nil, 0)
				if i%2 == 0 {
					tl.Wakeup(th)
				} else {
					tl.Wakeup(nil)
				}
			}
			th.processRunnableTasks()
			assert.LessOrEqual(t, ran, c.maxRun)
			assert.GreaterOrEqual(t, ran, c.maxRun-3)
			assert.Equal(t, uint32(ran), th.ctx.Activity.CtxSw.Load())
			assert.Equal(t, uint32(1), th.ctx.Activity.LongRQ.Load(), "work left behind")
		})
	}
}

func TestEmptyRunqueueCounted(t *testing.T) {
	l := newTestLoop(t, Config{})
	th := l.threads[0]
	th.processRunnableTasks()
	assert.Equal(t, uint32(1), th.ctx.Activity.EmptyRQ.Load())
	assert.Zero(t, th.ctx.Activity.CtxSw.Load())
}

// Run-queue order: insertion order, shifted by nice, local and shared
// queues merged by key.
func TestRunqueueOrder(t *testing.T) {
	l := newTestLoop(t, Config{Threads: 2})
	th := l.threads[0]
	var order []string
	mk := func(name string, mask uint64, nice int) *Task {
		tk := l.NewTask(func(*Task, any, State) bool { order = append(order, name); return true }, nil, mask)
		tk.SetNice(nice)
		return tk
	}
	a := mk("a", th.bit, 0)
	b := mk("b-shared", 0, 0)
	c := mk("c-niced", th.bit, 1)
	d := mk("d", th.bit, 0)
	e := mk("e-urgent", th.bit, -1)
	other := mk("other-thread", l.threads[1].bit, 0)
	for _, tk := range []*Task{a, b, c, d, e} {
		th.Wakeup(tk, WokenInit)
	}
	l.Wakeup(other, WokenInit)
	th.processRunnableTasks()
	assert.Equal(t, []string{"e-urgent", "a", "b-shared", "d", "c-niced"}, order)
	assert.Equal(t, uint32(5), th.ctx.Activity.TaskSw.Load())
	assert.Equal(t, Queued|Global|WokenInit, other.State(), "left for its own thread")
	assert.True(t, l.threads[1].hasTasks())
	assert.False(t, th.hasTasks())
}

// §9.6: tasklets go to the urgent class by default, to the running class
// when woken from inside it, to bulk when they wake themselves; remote
// wake-ups are spliced into urgent. Classes run urgent, normal, bulk.
func TestTaskletClasses(t *testing.T) {
	l := newTestLoop(t, Config{})
	th := l.threads[0]
	var order []string
	var bulkSelf, fromNormal, remote *Tasklet
	selfCount := 0
	bulkSelf = l.NewTasklet(func(tl *Tasklet, _ any, st State) {
		order = append(order, "self")
		selfCount++
		if selfCount == 1 {
			tl.Wakeup(th)
		} else {
			assert.NotZero(t, st&SelfWaking, "second run sees SelfWaking")
		}
	}, nil, 0)
	fromNormal = l.NewTasklet(func(*Tasklet, any, State) { order = append(order, "from-normal") }, nil, 0)
	remote = l.NewTasklet(func(*Tasklet, any, State) { order = append(order, "remote") }, nil, 0)
	task := l.NewTask(func(*Task, any, State) bool {
		order = append(order, "task")
		fromNormal.Wakeup(th)
		return true
	}, nil, th.bit)
	th.Wakeup(task, WokenInit)
	bulkSelf.Wakeup(th)
	remote.Wakeup(nil)
	bulkSelf.Wakeup(th) // already queued: nothing
	th.processRunnableTasks()
	assert.Equal(t, []string{"self", "remote", "task", "from-normal", "self"}, order)
}

// 0 allocations per task wakeup and per task run in steady state.
func TestWakeupAndRunAllocateNothing(t *testing.T) {
	l := newTestLoop(t, Config{Threads: 2})
	th := l.threads[0]
	local := l.NewTask(func(tk *Task, _ any, _ State) bool { return true }, nil, th.bit)
	shared := l.NewTask(func(tk *Task, _ any, _ State) bool { return true }, nil, 0)
	tl := l.NewTasklet(func(*Tasklet, any, State) {}, nil, 0)
	timer := l.NewTask(func(tk *Task, _ any, _ State) bool {
		tk.SetExpire(th.Now().Add(100))
		return true
	}, nil, th.bit)
	run := func() {
		th.Wakeup(local, WokenMsg)
		th.Wakeup(shared, WokenMsg)
		l.Wakeup(local, WokenIO)
		th.Wakeup(timer, WokenIO)
		tl.Wakeup(th)
		tl.Wakeup(nil)
		th.processRunnableTasks()
		tl.Wakeup(nil)
		th.processRunnableTasks()
	}
	run()
	allocs := testing.AllocsPerRun(1000, run)
	assert.Zero(t, allocs)
	assert.False(t, th.hasTasks())
}

// BenchmarkWakeup measures one wake-up and one run of a task.
func BenchmarkWakeup(b *testing.B) {
	for _, kind := range []string{"local", "shared", "tasklet"} {
		b.Run("kind="+kind, func(b *testing.B) {
			l := newTestLoop(b, Config{Threads: 2})
			th := l.threads[0]
			mask := th.bit
			if kind == "shared" {
				mask = 0
			}
			tk := l.NewTask(func(*Task, any, State) bool { return true }, nil, mask)
			tl := l.NewTasklet(func(*Tasklet, any, State) {}, nil, 0)
			b.ReportAllocs()
			for b.Loop() {
				if kind == "tasklet" {
					tl.Wakeup(th)
				} else {
					th.Wakeup(tk, WokenMsg)
				}
				th.processRunnableTasks()
			}
		})
	}
}

var _ = poller.Eternity
