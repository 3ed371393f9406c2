package loop

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every hook runs once per thread, in registration order, on that
// thread's goroutine (its OS thread), with its fd handle still usable; a
// removed hook does not run, and OnStop refuses hooks after the stop.
func TestStopHooksRunOnEveryThread(t *testing.T) {
	l, err := New(Config{Threads: 2, Table: fdtable.New(1024)})
	require.NoError(t, err)
	var mu sync.Mutex
	calls := map[int][]string{}
	tids := map[int]int{}
	hook := func(name string) func(*Thread) {
		return func(th *Thread) {
			mu.Lock()
			defer mu.Unlock()
			calls[th.ID()] = append(calls[th.ID()], name)
			tids[th.ID()] = osThreadID()
		}
	}
	_, err = l.OnStop(hook("first"))
	require.NoError(t, err)
	remove, err := l.OnStop(hook("removed"))
	require.NoError(t, err)
	_, err = l.OnStop(hook("second"))
	require.NoError(t, err)
	remove()

	// Each thread records its OS thread from a tasklet, then the loop is
	// stopped hard.
	var ran sync.WaitGroup
	runTids := make([]atomic.Int64, 2)
	for i := range 2 {
		ran.Add(1)
		tl := l.NewTasklet(func(_ *Tasklet, _ any, _ State) {
			runTids[i].Store(int64(osThreadID()))
			ran.Done()
		}, nil, i)
		tl.Wakeup(nil)
	}
	wait := runLoop(t, l)
	ran.Wait()
	l.Stop()
	require.NoError(t, wait())

	for i := range 2 {
		assert.Equal(t, []string{"first", "second"}, calls[i], "thread %d", i)
		assert.Equal(t, int(runTids[i].Load()), tids[i], "thread %d's hooks ran on another OS thread", i)
	}
	_, err = l.OnStop(hook("late"))
	assert.ErrorIs(t, err, ErrStopped)
	_, err = l.OnStop(nil)
	assert.ErrorIs(t, err, ErrBadConfig)
}

// A loop closed without running still calls its hooks, once per thread.
func TestStopHooksRunOnClose(t *testing.T) {
	l, err := New(Config{Threads: 3, Table: fdtable.New(1024)})
	require.NoError(t, err)
	var seen []int
	_, err = l.OnStop(func(th *Thread) { seen = append(seen, th.ID()) })
	require.NoError(t, err)
	require.NoError(t, l.Close())
	assert.Equal(t, []int{0, 1, 2}, seen)
	require.NoError(t, l.Close())
	assert.Equal(t, []int{0, 1, 2}, seen, "a second Close ran the hooks again")
}

// The hooks of a thread run only once every thread has left its loop: a
// hook that closes what it finds cannot be handed more work afterwards.
// Each thread keeps itself busy with a self-waking tasklet; every hook
// snapshots the iteration counts of all threads, which must not change
// after it. Repeated so that a hook starting while another thread still
// iterates would be caught.
func TestStopHooksWaitForEveryThread(t *testing.T) {
	for round := range 300 {
		l, err := New(Config{Threads: 2, Table: fdtable.New(64)})
		require.NoError(t, err)
		for i := range 2 {
			var tl *Tasklet
			tl = l.NewTasklet(func(_ *Tasklet, _ any, _ State) {
				tl.Wakeup(l.threads[i])
			}, nil, i)
			tl.Wakeup(nil)
		}
		var mu sync.Mutex
		var snaps [][2]uint32
		_, err = l.OnStop(func(th *Thread) {
			var s [2]uint32
			for i, o := range l.threads {
				s[i] = o.ctx.Activity.Loops.Load()
			}
			mu.Lock()
			snaps = append(snaps, s)
			mu.Unlock()
		})
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- l.Run() }()
		l.Kill()
		l.Kill()
		require.NoError(t, <-done)
		final := [2]uint32{l.threads[0].ctx.Activity.Loops.Load(), l.threads[1].ctx.Activity.Loops.Load()}
		require.Len(t, snaps, 2)
		for _, s := range snaps {
			require.Equal(t, final, s, "round %d: a thread iterated after a stop hook ran", round)
		}
	}
}
