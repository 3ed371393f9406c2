package loop

import (
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	_ "github.com/evpoll/evpoll/pollers"
	"github.com/stretchr/testify/require"
)

// newTestLoop returns a loop that is not running (its threads are driven
// by hand), closed at cleanup.
func newTestLoop(t testing.TB, cfg Config) *Loop {
	t.Helper()
	if cfg.Table == nil {
		cfg.Table = fdtable.New(1024)
	}
	if cfg.Threads == 0 {
		cfg.Threads = 1
	}
	l, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

func nopHandler(*Task, any, State) bool { return true }

// armAt sets t's date and queues it on th, failing the test on error.
func armAt(t testing.TB, th *Thread, tk *Task, when poller.Tick) {
	t.Helper()
	tk.SetExpire(when)
	require.NoError(t, th.Queue(tk))
}

// registered fails the test if a signal registration failed, and returns
// the handler: registered(t)(l.HandleSignal(sig, f)).
func registered(t testing.TB) func(*SignalHandler, error) *SignalHandler {
	return func(h *SignalHandler, err error) *SignalHandler {
		t.Helper()
		require.NoError(t, err)
		require.NotNil(t, h)
		return h
	}
}

// receiveOrStop waits up to d for a value on ch; if none comes, it stops l
// (so that the test's Run returns) and fails the test with the message.
func receiveOrStop(t *testing.T, l *Loop, ch <-chan struct{}, d time.Duration, format string, args ...any) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		l.Stop()
		t.Fatalf(format, args...)
	}
}
