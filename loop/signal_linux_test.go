package loop

import (
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// G67: signal handlers run on thread 0's OS thread only.
func TestSignalsOnThreadZeroOnly(t *testing.T) {
	l := newTestLoop(t, Config{Threads: 2})
	var tids [2]atomic.Int64
	for i, th := range l.threads {
		tk := l.NewTask(func(*Task, any, State) bool { tids[i].Store(int64(unix.Gettid())); return false }, nil, th.bit)
		l.Wakeup(tk, WokenInit)
	}
	var handlerTid, calls atomic.Int64
	require.NoError(t, l.HandleSignal(syscall.SIGUSR1, func(syscall.Signal, int) {
		handlerTid.Store(int64(unix.Gettid()))
		calls.Add(1)
	}))
	wait := runLoop(t, l)
	eventually(t, 2*time.Second, func() bool { return tids[0].Load() != 0 && tids[1].Load() != 0 }, "threads did not start")
	for range 10 {
		n := calls.Load()
		require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGUSR1))
		eventually(t, 2*time.Second, func() bool { return calls.Load() > n }, "handler not called")
		assert.Equal(t, tids[0].Load(), handlerTid.Load(), "handler on thread 0")
	}
	assert.NotEqual(t, tids[0].Load(), tids[1].Load(), "threads are locked to distinct OS threads")
	l.Stop()
	require.NoError(t, wait())
}
