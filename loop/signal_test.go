package loop

import (
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// killSelf sends sig to the test process and waits until the loop has
// counted one more delivery of it.
func killSelf(t *testing.T, l *Loop, sig syscall.Signal) {
	t.Helper()
	n := l.SignalCount(int(sig))
	require.NoError(t, syscall.Kill(syscall.Getpid(), sig))
	eventually(t, 2*time.Second, func() bool { return l.SignalCount(int(sig)) > n }, "signal never delivered")
}

// G65: two deliveries before processing make one call with count 2;
// handlers run in registration order; a task is woken with WokenSignal.
// G66: signal 0 raised by a handler is handled in the same pass.
func TestSignalsCoalesceInOrder(t *testing.T) {
	l := newTestLoop(t, Config{Threads: 2})
	var mu sync.Mutex
	var calls []string
	var counts []int
	record := func(name string) SignalFunc {
		return func(sig syscall.Signal, n int) {
			mu.Lock()
			calls = append(calls, name)
			counts = append(counts, n)
			mu.Unlock()
			if name == "usr2-first" {
				l.Raise(0)
			}
		}
	}
	var loopsAtUSR2, loopsAtZero uint32
	sigTaskRuns := make(chan State, 4)
	sigTask := l.NewTask(func(_ *Task, _ any, why State) bool { sigTaskRuns <- why; return true }, nil, 0)
	require.NoError(t, l.HandleSignal(syscall.SIGUSR2, record("usr2-first")))
	require.NoError(t, l.SignalTask(syscall.SIGUSR2, sigTask))
	require.NoError(t, l.HandleSignal(syscall.SIGUSR2, func(sig syscall.Signal, n int) {
		loopsAtUSR2 = l.threads[0].ctx.Activity.Loops.Load()
		record("usr2-second")(sig, n)
	}))
	require.NoError(t, l.HandleSignal(syscall.SIGWINCH, record("winch")))
	require.NoError(t, l.HandleSignal(0, func(sig syscall.Signal, n int) {
		loopsAtZero = l.threads[0].ctx.Activity.Loops.Load()
		record("zero")(sig, n)
	}))
	// The deliveries happen while a task holds thread 0, so that none is
	// processed in between.
	sent := make(chan struct{})
	sender := l.NewTask(func(*Task, any, State) bool {
		killSelf(t, l, syscall.SIGUSR2)
		killSelf(t, l, syscall.SIGWINCH)
		killSelf(t, l, syscall.SIGUSR2)
		close(sent)
		return false
	}, nil, 1)
	wait := runLoop(t, l)
	l.Wakeup(sender, WokenInit)
	<-sent
	eventually(t, 2*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(calls) >= 4 }, "handlers not called")
	select {
	case why := <-sigTaskRuns:
		assert.Equal(t, WokenSignal, why)
	case <-time.After(2 * time.Second):
		t.Fatal("signal task not woken")
	}
	time.Sleep(10 * time.Millisecond)
	l.Stop()
	require.NoError(t, wait())
	assert.Equal(t, []string{"usr2-first", "usr2-second", "winch", "zero"}, calls)
	assert.Equal(t, 2, counts[0], "two deliveries, one call")
	assert.Equal(t, 2, counts[1])
	assert.Equal(t, 1, counts[2])
	assert.Equal(t, 1, counts[3])
	assert.Equal(t, loopsAtUSR2, loopsAtZero, "signal 0 raised by a handler ran in the same pass")
	assert.Len(t, sigTaskRuns, 0, "task woken once")
}

// A pending signal wakes thread 0 at once rather than after its poll
// timeout (up to 1 s).
func TestSignalWakesThreadZero(t *testing.T) {
	l := newTestLoop(t, Config{Threads: 2})
	got := make(chan time.Time, 8)
	require.NoError(t, l.HandleSignal(syscall.SIGUSR1, func(syscall.Signal, int) { got <- time.Now() }))
	wait := runLoop(t, l)
	for range 5 {
		eventually(t, 2*time.Second, func() bool { return l.SleepingMask()&1 != 0 }, "thread 0 never slept")
		start := time.Now()
		require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGUSR1))
		select {
		case at := <-got:
			assert.Less(t, at.Sub(start), 300*time.Millisecond, "handler latency")
		case <-time.After(2 * time.Second):
			t.Fatal("handler not called")
		}
	}
	l.Stop()
	require.NoError(t, wait())
}

func TestSignalRegistrationErrors(t *testing.T) {
	l := newTestLoop(t, Config{})
	assert.ErrorIs(t, l.HandleSignal(syscall.SIGUSR1, nil), ErrBadConfig)
	assert.ErrorIs(t, l.SignalTask(syscall.SIGUSR1, nil), ErrBadConfig)
	assert.ErrorIs(t, l.HandleSignal(-1, func(syscall.Signal, int) {}), ErrBadConfig)
	assert.ErrorIs(t, l.HandleSignal(maxSignal, func(syscall.Signal, int) {}), ErrBadConfig)
}

// 2,000 raises from another goroutine, each waited for: none may wait for
// thread 0's poll timeout (the re-check of pending signals after setting
// the sleeping bit, and the wake-up write of Raise, close the window).
func TestRaiseWakeupStress(t *testing.T) {
	l := newTestLoop(t, Config{Threads: 2})
	got := make(chan struct{}, 1)
	require.NoError(t, l.HandleSignal(0, func(syscall.Signal, int) { got <- struct{}{} }))
	wait := runLoop(t, l)
	var worst time.Duration
	for i := range 2000 {
		start := time.Now()
		l.Raise(0)
		receiveOrStop(t, l, got, 500*time.Millisecond, "raise %d waited for the poll timeout", i)
		worst = max(worst, time.Since(start))
	}
	l.Stop()
	require.NoError(t, wait())
	assert.Less(t, worst, 500*time.Millisecond)
}
