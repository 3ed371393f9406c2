package loop

import (
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// runLoop runs l in a goroutine; the returned function waits for Run's
// result (failing after 5 s).
func runLoop(t *testing.T, l *Loop) func() error {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- l.Run() }()
	return func() error {
		t.Helper()
		select {
		case err := <-errc:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return")
			return nil
		}
	}
}

// returned reports whether Run has returned, without waiting.
func returned(l *Loop) bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// eventually polls cond every millisecond for up to d.
func eventually(t *testing.T, d time.Duration, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(time.Millisecond)
	}
}

// F57 in the seed's order: expired timers, runnable tasks, signals on
// thread 0 only, the stop check, the killed check, the sleep decision,
// poll, loops+1.
func TestIterationOrder(t *testing.T) {
	l := newTestLoop(t, Config{Threads: 2})
	var mu sync.Mutex
	steps := map[int][]Step{}
	l.SetTrace(func(tid int, s Step) {
		mu.Lock()
		steps[tid] = append(steps[tid], s)
		mu.Unlock()
	})
	for _, th := range l.threads {
		tk := l.NewTask(func(tk *Task, _ any, _ State) bool {
			tk.SetExpire(tk.Thread().Now().Add(1))
			return true
		}, nil, th.bit)
		l.Wakeup(tk, WokenInit)
	}
	wait := runLoop(t, l)
	eventually(t, 2*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(steps[0]) > 20 && len(steps[1]) > 20
	}, "loops did not iterate")
	l.Stop()
	require.NoError(t, wait())
	one := []Step{StepExpire, StepTasks, StepSignals, StepStop, StepKilled, StepDecide, StepPoll, StepLoops}
	for tid := range 2 {
		want := one
		if tid != 0 {
			want = slices.DeleteFunc(slices.Clone(one), func(s Step) bool { return s == StepSignals })
		}
		got := steps[tid]
		require.GreaterOrEqual(t, len(got), 2*len(want))
		assert.Equal(t, want, got[:len(want)], "thread %d first iteration", tid)
		assert.Equal(t, want, got[len(want):2*len(want)], "thread %d second iteration", tid)
		loops := 0
		for _, s := range got {
			if s == StepLoops {
				loops++
			}
		}
		assert.Equal(t, uint32(loops), l.threads[tid].ctx.Activity.Loops.Load(), "loops counts iterations")
	}
}

// F54: a thread with no work sets its sleeping bit before polling and the
// poller clears it.
func TestSleepingBitAroundPoll(t *testing.T) {
	l := newTestLoop(t, Config{})
	th := l.threads[0]
	assert.False(t, th.decide(), "nothing to do: sleep")
	assert.Equal(t, th.bit, l.sleeping.Load())
	require.NoError(t, th.p.Poll(th.Now().Add(1), false))
	assert.Zero(t, l.sleeping.Load(), "cleared by the poller")

	tk := l.NewTask(nopHandler, nil, th.bit)
	th.Wakeup(tk, WokenInit)
	assert.True(t, th.decide())
	assert.Zero(t, l.sleeping.Load())
	assert.Equal(t, uint32(1), th.ctx.Activity.WakeTasks.Load())
	th.processRunnableTasks()

	l.Raise(0)
	assert.True(t, th.decide(), "a pending signal keeps thread 0 awake")
	assert.Equal(t, uint32(1), th.ctx.Activity.WakeSignal.Load())
	l.processSignals(th)
}

// F58: without a soft stop the loop runs on with no jobs; after one,
// threads leave only once all of them are in the stopping mask and the
// jobs are gone; the first to notice wakes the others at once.
func TestSoftStopAllThreadsLeaveTogether(t *testing.T) {
	l := newTestLoop(t, Config{Threads: 2})
	wait := runLoop(t, l)
	time.Sleep(30 * time.Millisecond)
	assert.False(t, returned(l), "jobs == 0 without soft stop: keeps running")

	l.AddJobs(1)
	eventually(t, time.Second, func() bool { return l.sleeping.Load() == l.all }, "threads never slept")
	start := time.Now()
	l.SoftStop()
	eventually(t, 2*time.Second, func() bool { return l.stopMask.Load() == l.all }, "stopping mask never filled")
	assert.Less(t, time.Since(start), 500*time.Millisecond, "the first thread to notice woke the other (it sleeps up to 1 s)")
	time.Sleep(20 * time.Millisecond)
	assert.False(t, returned(l), "a job is left")
	assert.True(t, l.Stopping())
	l.AddJobs(-1)
	require.NoError(t, wait())
}

func TestUnstoppableJobsDoNotHoldSoftStop(t *testing.T) {
	l := newTestLoop(t, Config{Threads: 2})
	l.AddJobs(2)
	l.AddUnstoppableJobs(1)
	wait := runLoop(t, l)
	l.SoftStop()
	time.Sleep(30 * time.Millisecond)
	assert.False(t, returned(l))
	l.AddJobs(-1)
	require.NoError(t, wait())
	assert.Equal(t, 1, l.Jobs())
	assert.Equal(t, 1, l.UnstoppableJobs())
}

// F59: killed > 1 ends the loop whatever the jobs; one Kill only counts.
func TestKillTwiceStops(t *testing.T) {
	l := newTestLoop(t, Config{Threads: 2})
	l.AddJobs(5)
	wait := runLoop(t, l)
	l.Kill()
	time.Sleep(30 * time.Millisecond)
	assert.False(t, returned(l), "one Kill only counts")
	l.Kill()
	require.NoError(t, wait())
	assert.Equal(t, 2, l.Killed())
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd on this system: %v", err)
	}
	return len(ents)
}

// Stop makes Run return leaving no goroutine and no fd behind.
func TestStopLeavesNothing(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	before := openFDs(t)
	l, err := New(Config{Threads: 3, Table: fdtable.New(1024)})
	require.NoError(t, err)
	require.NoError(t, l.HandleSignal(0, func(syscallSignal, int) {}))
	tk := l.NewTask(func(tk *Task, _ any, _ State) bool {
		tk.SetExpire(tk.Thread().Now().Add(1))
		return true
	}, nil, 0)
	l.Wakeup(tk, WokenInit)
	wait := runLoop(t, l)
	time.Sleep(20 * time.Millisecond)
	assert.Greater(t, openFDs(t), before)
	l.Stop()
	require.NoError(t, wait())
	assert.Equal(t, before, openFDs(t), "fds left open")
	assert.ErrorIs(t, l.Run(), ErrRunning)
	l.Stop() // idempotent after Run
}

func TestCloseWithoutRun(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	before := openFDs(t)
	l, err := New(Config{Threads: 2, Table: fdtable.New(1024)})
	require.NoError(t, err)
	require.NoError(t, l.Close())
	assert.Equal(t, before, openFDs(t))
	assert.ErrorIs(t, l.Run(), ErrRunning)
}

// The backend is chosen once; a thread that cannot use it fails New with
// an error naming the thread and the backend, and nothing is left open.
func TestBackendChosenOnce(t *testing.T) {
	calls := 0
	fail := errTest("no more instances")
	flaky := poller.Backend{Name: "flaky", Preference: 10, New: func(ctx *poller.Context) (poller.Poller, error) {
		calls++
		if calls > 1 {
			return nil, fail
		}
		_, p, err := poller.Open(ctx)
		return p, err
	}}
	before := openFDs(t)
	_, err := New(Config{Threads: 2, Backend: &flaky, Table: fdtable.New(1024)})
	require.Error(t, err)
	assert.ErrorIs(t, err, fail)
	assert.Contains(t, err.Error(), "thread 1")
	assert.Contains(t, err.Error(), "flaky")
	assert.Equal(t, before, openFDs(t))

	l := newTestLoop(t, Config{Threads: 2})
	for _, th := range l.threads {
		assert.Equal(t, l.Backend().Name, backendName(th.p))
	}
}

type errTest string

func (e errTest) Error() string { return string(e) }

func TestBadConfig(t *testing.T) {
	for _, c := range []Config{{Threads: -1}, {Threads: 65}, {RunqueueDepth: -1}} {
		_, err := New(c)
		assert.ErrorIs(t, err, ErrBadConfig, "%+v", c)
	}
}

// After Run has returned, wake-ups, kills and signals neither fail nor
// write to the closed wake-up fds.
func TestWakeupsAfterRunAreHarmless(t *testing.T) {
	l := newTestLoop(t, Config{Threads: 2})
	wait := runLoop(t, l)
	l.Stop()
	require.NoError(t, wait())
	var before []uint32
	for _, th := range l.threads {
		before = append(before, th.wakes.Load())
	}
	l.sleeping.Store(l.all)
	l.Wakeup(l.NewTask(nopHandler, nil, 2), WokenMsg)
	l.NewTasklet(func(*Tasklet, any, State) {}, nil, 1).Wakeup(nil)
	l.Raise(0)
	l.Kill()
	l.AddJobs(1)
	l.Stop()
	for i, th := range l.threads {
		assert.Equal(t, before[i], th.wakes.Load(), "thread %d wake-up fd written after close", i)
	}
}

// A thread's poller failing ends Run with the error, and the other threads
// leave too.
func TestPollErrorStopsRun(t *testing.T) {
	fail := errTest("kernel object broken")
	breaks := poller.Backend{Name: "breaks", Preference: 10, New: func(ctx *poller.Context) (poller.Poller, error) {
		_, p, err := poller.Open(ctx)
		if err != nil || ctx.Thread.ID() != 1 {
			return p, err
		}
		return &failingPoller{Poller: p, err: fail}, nil
	}}
	l, err := New(Config{Threads: 2, Backend: &breaks, Table: fdtable.New(1024)})
	require.NoError(t, err)
	err = runLoop(t, l)()
	assert.ErrorIs(t, err, fail)
	assert.Contains(t, err.Error(), "thread 1")
}

type failingPoller struct {
	poller.Poller
	err error
}

func (p *failingPoller) Poll(poller.Tick, bool) error { return p.err }
