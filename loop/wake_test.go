package loop

import (
	"encoding/binary"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// pendingWakeBytes reads what waits on a thread's wake-up fd: the eventfd
// counter on Linux, the bytes in the pipe elsewhere.
func pendingWakeBytes(t *testing.T, th *Thread) int {
	t.Helper()
	var b [1024]byte
	n, err := unix.Read(th.wk.rfd, b[:])
	if err == unix.EAGAIN {
		return 0
	}
	require.NoError(t, err)
	if runtime.GOOS == "linux" {
		require.Equal(t, 8, n)
		return int(binary.NativeEndian.Uint64(b[:8]))
	}
	return n
}

// F55: waking a task bound only to sleeping threads wakes exactly one of
// them, once; waking it again before it runs writes nothing more.
func TestWakeupWakesOneSleepingThreadOnce(t *testing.T) {
	l := newTestLoop(t, Config{Threads: 3})
	t0, t1, t2 := l.threads[0], l.threads[1], l.threads[2]

	t.Run("BoundToOne", func(t *testing.T) {
		l.sleeping.Store(l.all)
		tk := l.NewTask(nopHandler, nil, t1.bit)
		l.Wakeup(tk, WokenMsg)
		l.Wakeup(tk, WokenIO)
		t0.Wakeup(tk, WokenRes)
		assert.Equal(t, 1, pendingWakeBytes(t, t1), "one write to thread 1")
		assert.Zero(t, pendingWakeBytes(t, t0))
		assert.Zero(t, pendingWakeBytes(t, t2))
		assert.Equal(t, t0.bit|t2.bit, l.sleeping.Load(), "thread 1's sleeping bit cleared")
		// A new wake-up of another task for the same thread, which has
		// not run yet, writes nothing either: its bit is clear.
		l.Wakeup(l.NewTask(nopHandler, nil, t1.bit), WokenMsg)
		assert.Zero(t, pendingWakeBytes(t, t1))
		drainShared(l)
	})
	t.Run("BoundToTwoLowestWoken", func(t *testing.T) {
		l.sleeping.Store(l.all)
		tk := l.NewTask(nopHandler, nil, t1.bit|t2.bit)
		l.Wakeup(tk, WokenMsg)
		assert.Equal(t, 1, pendingWakeBytes(t, t1))
		assert.Zero(t, pendingWakeBytes(t, t2))
		drainShared(l)
	})
	t.Run("OneAwakeNoWrite", func(t *testing.T) {
		l.sleeping.Store(t2.bit)
		tk := l.NewTask(nopHandler, nil, t1.bit|t2.bit)
		l.Wakeup(tk, WokenMsg)
		assert.Zero(t, pendingWakeBytes(t, t2), "thread 1 is awake and will pick it")
		assert.Zero(t, pendingWakeBytes(t, t1))
		drainShared(l)
	})
	t.Run("NotTheCaller", func(t *testing.T) {
		l.sleeping.Store(l.all)
		tk := l.NewTask(nopHandler, nil, t0.bit|t1.bit)
		t0.Wakeup(tk, WokenMsg) // the caller is thread 0: wake thread 1
		assert.Zero(t, pendingWakeBytes(t, t0))
		assert.Equal(t, 1, pendingWakeBytes(t, t1))
		drainShared(l)
	})
	t.Run("RemoteTasklet", func(t *testing.T) {
		l.sleeping.Store(l.all)
		tl := l.NewTasklet(func(*Tasklet, any, State) {}, nil, 2)
		tl.Wakeup(t0)
		tl.Wakeup(nil)
		assert.Equal(t, 1, pendingWakeBytes(t, t2))
		l.sleeping.Store(0)
		t2.processRunnableTasks()
	})
	t.Run("ForeignFDPolling", func(t *testing.T) {
		// Quirk Q14 fixed: a polling change for an fd owned by a
		// sleeping thread wakes it.
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		require.NoError(t, err)
		defer unix.Close(fds[1])
		require.NoError(t, t0.fd.Insert(fds[0], nil, func(int, any) {}, t2.bit))
		defer t2.fd.Delete(fds[0])
		l.sleeping.Store(l.all)
		require.NoError(t, t0.fd.WantRecv(fds[0]))
		assert.Equal(t, 1, pendingWakeBytes(t, t2))
		assert.Zero(t, pendingWakeBytes(t, t1))
	})
	l.sleeping.Store(0)
}

// drainShared empties the shared run queue (tasks of a loop whose threads
// are driven by hand).
func drainShared(l *Loop) {
	l.sleeping.Store(0)
	for _, th := range l.threads {
		th.processRunnableTasks()
	}
}

// F56: the wake-up fd's callback drains it and clears READY_R; the fd
// stays ACTIVE_R and queues no update, so no kernel call follows.
func TestWakeFDDrainCostsNoUpdate(t *testing.T) {
	l := newTestLoop(t, Config{})
	th := l.threads[0]
	fd := th.wk.rfd
	tab := l.tab
	assert.Equal(t, fdtable.ActiveR|fdtable.ReadyR|fdtable.ReadyW, tab.State(fd), "st=0x23 before any wake-up")
	require.NoError(t, th.p.Poll(poller.Eternity, true)) // registers it
	before := th.p
	var regs []poller.Registration
	intro, hasIntro := before.(poller.Introspector)
	if hasIntro {
		var err error
		regs, err = intro.Registered()
		require.NoError(t, err)
	}
	for range 3 {
		th.signalWaker()
		th.signalWaker()
		require.NoError(t, th.p.Poll(poller.Eternity, true))
		assert.Equal(t, fdtable.ActiveR|fdtable.ReadyW, tab.State(fd), "READY_R cleared, still wanted")
		assert.Zero(t, tab.Info(fd).Updates, "no polling update queued")
		assert.Zero(t, pendingWakeBytes(t, th), "drained")
	}
	if hasIntro {
		after, err := intro.Registered()
		require.NoError(t, err)
		assert.Equal(t, regs, after, "kernel registrations unchanged")
	}
}

// 10,000 cross-thread wake-ups of a task bound to thread 1, each waited
// for: none may be lost (a lost one shows as a wait of up to the 1 s poll
// timeout) and none may run twice.
func TestCrossThreadWakeupStress(t *testing.T) {
	l := newTestLoop(t, Config{Threads: 2})
	ran := make(chan struct{}, 1)
	var runs atomic.Int64
	target := l.NewTask(func(*Task, any, State) bool {
		runs.Add(1)
		ran <- struct{}{}
		return true
	}, nil, l.threads[1].bit)
	// Thread 0 wakes it too, from a task, on every other round.
	var fromT0 atomic.Int64
	driver := l.NewTask(func(tk *Task, _ any, _ State) bool {
		tk.Thread().Wakeup(target, WokenMsg)
		return true
	}, nil, l.threads[0].bit)
	errc := make(chan error, 1)
	go func() { errc <- l.Run() }()
	const rounds = 10_000
	var worst time.Duration
	for i := range rounds {
		start := time.Now()
		if i%2 == 0 {
			l.Wakeup(target, WokenMsg)
		} else {
			fromT0.Add(1)
			l.Wakeup(driver, WokenMsg)
		}
		select {
		case <-ran:
		case <-time.After(2 * time.Second):
			t.Fatalf("round %d: wake-up lost (thread 1 never ran the task)", i)
		}
		worst = max(worst, time.Since(start))
	}
	l.Stop()
	require.NoError(t, <-errc)
	assert.Equal(t, int64(rounds), runs.Load(), "one run per wake-up")
	assert.Less(t, worst, 500*time.Millisecond, "no wake-up waited for a poll timeout")
	t.Logf("worst wake-up to run: %v", worst)
}

// Many tasks woken at once from several goroutines and threads: each runs
// exactly once.
func TestConcurrentWakeupsRunOnce(t *testing.T) {
	l := newTestLoop(t, Config{Threads: 2})
	const n = 10_000
	counts := make([]atomic.Int32, n)
	var done sync.WaitGroup
	done.Add(n)
	tasks := make([]*Task, n)
	for i := range tasks {
		tasks[i] = l.NewTask(func(*Task, any, State) bool {
			if counts[i].Add(1) == 1 {
				done.Done()
			}
			return false
		}, nil, uint64(1)<<(i%2))
	}
	errc := make(chan error, 1)
	go func() { errc <- l.Run() }()
	var wakers sync.WaitGroup
	for w := range 3 {
		wakers.Go(func() {
			for i := range tasks {
				l.Wakeup(tasks[(i+w*977)%n], WokenMsg)
				if i%64 == 0 {
					runtime.Gosched()
				}
			}
		})
	}
	wakers.Wait()
	finished := make(chan struct{})
	go func() { done.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(10 * time.Second):
		t.Fatal("some tasks never ran")
	}
	// Let stray double runs, if any, happen before counting.
	time.Sleep(20 * time.Millisecond)
	l.Stop()
	require.NoError(t, <-errc)
	for i := range counts {
		require.Equal(t, int32(1), counts[i].Load(), "task %d", i)
	}
}
