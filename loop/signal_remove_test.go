package loop

import (
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// counter returns a handler that counts its calls in n.
func counter(n *atomic.Int64) SignalFunc {
	return func(syscall.Signal, int) { n.Add(1) }
}

// A removed handler is not called; the others still are; Remove twice
// or on nil does nothing; a bad registration returns no handler.
func TestSignalHandlerRemove(t *testing.T) {
	l := newTestLoop(t, Config{})
	var a, b, c atomic.Int64
	registered(t)(l.AddSignalHandler(0, counter(&a)))
	hb := registered(t)(l.AddSignalHandler(0, counter(&b)))
	registered(t)(l.AddSignalHandler(0, counter(&c)))
	require.Equal(t, 3, l.SignalHandlers(0))

	hb.Remove()
	hb.Remove()
	(*SignalHandler)(nil).Remove()
	assert.Equal(t, 2, l.SignalHandlers(0))
	l.Raise(0)
	l.processSignals(l.threads[0])
	assert.Equal(t, int64(1), a.Load())
	assert.Equal(t, int64(0), b.Load(), "removed handler called")
	assert.Equal(t, int64(1), c.Load())

	for _, sig := range []syscall.Signal{-1, maxSignal} {
		h, err := l.AddSignalHandler(sig, counter(&a))
		assert.ErrorIs(t, err, ErrBadConfig)
		assert.Nil(t, h)
	}
	h, err := l.AddSignalHandler(0, nil)
	assert.ErrorIs(t, err, ErrBadConfig)
	assert.Nil(t, h)
}

// A handler removing a later one of the same signal during a pass keeps
// it from running in that pass.
func TestSignalHandlerRemovedByEarlierHandler(t *testing.T) {
	l := newTestLoop(t, Config{})
	var later atomic.Int64
	var hl *SignalHandler
	registered(t)(l.AddSignalHandler(0, func(syscall.Signal, int) { hl.Remove() }))
	hl = registered(t)(l.AddSignalHandler(0, counter(&later)))
	l.Raise(0)
	l.processSignals(l.threads[0])
	assert.Equal(t, int64(0), later.Load())
	assert.Equal(t, 1, l.SignalHandlers(0))
}

// Registering and removing 1000 handlers leaves the count where it was.
func TestSignalHandlerCountDoesNotGrow(t *testing.T) {
	l := newTestLoop(t, Config{})
	registered(t)(l.AddSignalHandler(syscall.SIGUSR1, func(syscall.Signal, int) {}))
	for range 1000 {
		h := registered(t)(l.AddSignalHandler(syscall.SIGUSR1, func(syscall.Signal, int) {}))
		h.Remove()
	}
	assert.Equal(t, 1, l.SignalHandlers(int(syscall.SIGUSR1)))
}

// 2000 rounds of a pass on thread 0 racing another goroutine that removes
// the first two of four handlers: the two that stay run exactly once, in
// the pass raised for them, and the removed ones at most once. Changing
// the handler list in place (slices.Delete on it) fails this every run,
// with or without the race detector: the pass reads shifted or cleared
// entries.
func TestSignalHandlerRemoveDuringPassStress(t *testing.T) {
	l := newTestLoop(t, Config{Threads: 2})
	wait := runLoop(t, l)
	done := make(chan struct{}, 1)
	for i := range 2000 {
		var n [4]atomic.Int64
		var hs [4]*SignalHandler
		removed := make(chan struct{})
		// The first handler, when the pass reaches it before the removals,
		// waits for them, so that they land in the middle of the pass.
		hs[0] = registered(t)(l.AddSignalHandler(0, func(syscall.Signal, int) {
			n[0].Add(1)
			select {
			case <-removed:
			case <-time.After(10 * time.Millisecond):
			}
		}))
		for j := 1; j < 3; j++ {
			hs[j] = registered(t)(l.AddSignalHandler(0, counter(&n[j])))
		}
		hs[3] = registered(t)(l.AddSignalHandler(0, func(syscall.Signal, int) {
			n[3].Add(1)
			done <- struct{}{}
		}))
		var wg sync.WaitGroup
		wg.Go(func() {
			hs[0].Remove()
			hs[1].Remove()
			close(removed)
		})
		l.Raise(0)
		receiveOrStop(t, l, done, 5*time.Second, "round %d: the last handler never ran", i)
		wg.Wait()
		hs[2].Remove()
		hs[3].Remove()
		if n[2].Load() != 1 || n[3].Load() != 1 || n[0].Load() > 1 || n[1].Load() > 1 {
			l.Stop()
			t.Fatalf("round %d: calls %d %d %d %d, want at most 1, at most 1, 1, 1",
				i, n[0].Load(), n[1].Load(), n[2].Load(), n[3].Load())
		}
	}
	assert.Equal(t, 0, l.SignalHandlers(0))
	l.Stop()
	require.NoError(t, wait())
}
