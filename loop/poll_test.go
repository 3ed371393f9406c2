package loop

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// F48 through the loop: a thread with a timer sleeps until it (never
// early), and the timer fires within a generous bound after its date.
func TestPollSleepsUntilNextTimer(t *testing.T) {
	l := newTestLoop(t, Config{Threads: 2})
	fired := make(chan time.Time, 1)
	var armed time.Time
	tk := l.NewTask(func(tk *Task, _ any, why State) bool {
		if why&WokenTimer != 0 {
			fired <- time.Now()
			return false
		}
		armed = time.Now()
		tk.SetExpire(tk.Thread().Now().Add(30))
		return true
	}, nil, 2)
	wait := runLoop(t, l)
	l.Wakeup(tk, WokenInit)
	select {
	case at := <-fired:
		d := at.Sub(armed)
		assert.GreaterOrEqual(t, d, 29*time.Millisecond, "fired early")
		assert.Less(t, d, 500*time.Millisecond, "fired late")
	case <-time.After(3 * time.Second):
		t.Fatal("timer never fired")
	}
	l.Stop()
	require.NoError(t, wait())
	assert.Less(t, l.threads[1].ctx.Activity.Loops.Load(), uint32(20), "thread 1 slept between events instead of spinning")
}

// F49 through the loop: while work is queued the thread polls without
// sleeping, and the zero timeout does not count as poll_exp.
func TestPollDoesNotSleepWithWork(t *testing.T) {
	l := newTestLoop(t, Config{})
	runs := 0
	stop := make(chan struct{})
	tk := l.NewTask(func(tk *Task, _ any, _ State) bool {
		runs++
		if runs == 2000 {
			close(stop)
			return false
		}
		tk.Thread().Wakeup(tk, WokenMsg) // requeued at once
		return true
	}, nil, 1)
	start := time.Now()
	wait := runLoop(t, l)
	l.Wakeup(tk, WokenInit)
	<-stop
	elapsed := time.Since(start)
	l.Stop()
	require.NoError(t, wait())
	act := &l.threads[0].ctx.Activity
	assert.Less(t, elapsed, 2*time.Second, "slept while work was queued")
	assert.Zero(t, act.PollExp.Load())
	assert.GreaterOrEqual(t, act.WakeTasks.Load(), uint32(2000/(DefaultRunqueueDepth+2)))
}

// F51/F53: the loop's options reach every thread's poller context; soft
// stop turns busy polling off.
func TestOptionsReachContexts(t *testing.T) {
	l := newTestLoop(t, Config{Threads: 2, MaxEvents: 7, BusyPolling: true})
	for _, th := range l.threads {
		assert.Equal(t, 7, th.ctx.EventsPerPoll())
		assert.True(t, th.ctx.BusyPolling.Load())
		assert.Same(t, &l.sleeping, th.ctx.Sleeping, "one sleeping mask")
		assert.Same(t, l.clock, th.ctx.Clock, "one clock")
	}
	l.SoftStop()
	for _, th := range l.threads {
		assert.False(t, th.ctx.BusyPolling.Load(), "soft stop clears busy polling")
	}
}
