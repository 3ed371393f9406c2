package kqueue_test

import (
	"runtime"
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"time"

	"github.com/evpoll/evpoll/internal/kqemu"
	"github.com/evpoll/evpoll/poller"
	"github.com/evpoll/evpoll/pollers/kqueue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var wakerVariants = []struct {
	name string
	user bool
}{{"EVFILT_USER", true}, {"pipe", false}}

func newWaker(t *testing.T, user bool) (*env, *kqueue.Waker) {
	e := testenv_new(t)
	w, err := kqueue.SetWakerVariant(e.P, user)
	require.NoError(t, err)
	return e, w
}

func testenv_new(t *testing.T) *env { return newEnv(t, kqemu.New()) }

// pollTook runs one cycle that would wait ms milliseconds.
func pollTook(e *env, ms int) time.Duration {
	start := time.Now()
	e.Poll(e.Ctx.UpdateTime().Add(ms), false)
	return time.Since(start)
}

func TestEmulatedWakerInterruptsWait(t *testing.T) {
	for _, v := range wakerVariants {
		t.Run(v.name, func(t *testing.T) {
			e, w := newWaker(t, v.user)
			time.AfterFunc(20*time.Millisecond, func() { w.Wake() })
			assert.Less(t, pollTook(e, 5000), 800*time.Millisecond, "a wake ends a 1 s wait")
		})
	}
}

// TestEmulatedWakerCoalesces: wakes before a drain cost one event, and a
// drained waker does not fire again (EVFILT_USER is added with EV_CLEAR,
// smol-rs/polling #265).
func TestEmulatedWakerCoalesces(t *testing.T) {
	for _, v := range wakerVariants {
		t.Run(v.name, func(t *testing.T) {
			e, w := newWaker(t, v.user)
			for i := 0; i < 3; i++ {
				require.NoError(t, w.Wake())
			}
			assert.Less(t, pollTook(e, 1000), 500*time.Millisecond, "pending wake ends the wait")
			assert.GreaterOrEqual(t, pollTook(e, 30), 30*time.Millisecond, "a drained waker does not fire again")
			assert.Equal(t, uint32(0), e.Ctx.Activity.PollDeadFD.Load(), "the wake event is not an fd event")
			require.NoError(t, w.Wake())
			assert.Less(t, pollTook(e, 1000), 500*time.Millisecond, "the next wake works")
		})
	}
}

// TestEmulatedWakerStress loops the race between Wake on another
// goroutine and the poller entering its wait: a wake is never lost, so no
// cycle waits out its timer.
func TestEmulatedWakerStress(t *testing.T) {
	for _, v := range wakerVariants {
		t.Run(v.name, func(t *testing.T) {
			e, w := newWaker(t, v.user)
			done := make(chan struct{})
			for i := 0; i < 3000; i++ {
				go func() {
					// Two wakes: the second may land while the poller
					// drains the first.
					w.Wake()
					runtime.Gosched()
					w.Wake()
					done <- struct{}{}
				}()
				if d := pollTook(e, 2000); d > 500*time.Millisecond {
					t.Fatalf("iteration %d: a wake was lost, the cycle waited %v", i, d)
				}
				<-done
			}
		})
	}
}

func TestEmulatedWakerAfterFork(t *testing.T) {
	for _, v := range wakerVariants {
		t.Run(v.name, func(t *testing.T) {
			e, w := newWaker(t, v.user)
			require.NoError(t, e.P.Fork())
			time.AfterFunc(20*time.Millisecond, func() { w.Wake() })
			assert.Less(t, pollTook(e, 5000), 800*time.Millisecond, "the waker works on the new queue")
		})
	}
}

// TestEmulatedWakerIsNoRegistration: the waker's filter (the pipe's read
// end, or the user event) is not listed among fd registrations.
func TestEmulatedWakerIsNoRegistration(t *testing.T) {
	for _, v := range wakerVariants {
		t.Run(v.name, func(t *testing.T) {
			th, err := fdtableNew(t)
			require.NoError(t, err)
			ctx := poller.NewContext(th)
			pp, err := EmulatedBackend.New(ctx)
			require.NoError(t, err)
			defer pp.Close()
			_, err = kqueue.SetWakerVariant(kqueue.PollerOf(pp), v.user)
			require.NoError(t, err)
			regs, err := pp.(poller.Introspector).Registered()
			require.NoError(t, err)
			assert.Empty(t, regs)
		})
	}
}

func fdtableNew(t *testing.T) (*fdtable.Thread, error) { return fdtable.New(1024).NewThread(0) }
