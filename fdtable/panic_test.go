package fdtable_test

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dispatchCycle is what a backend's poll function does: it defers
// EndDispatch once, then dispatches.
func dispatchCycle(th *fdtable.Thread, fd int, gen uint32) fdtable.Outcome {
	defer th.EndDispatch()
	return th.Dispatch(fd, gen, fdtable.ReadyR)
}

// requireDeletable fails unless Delete through another thread returns: a
// running bit left behind would make it wait forever.
func requireDeletable(t *testing.T, sp *sockPair, th *fdtable.Thread) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- sp.delete(th) }()
	select {
	case err := <-done:
		require.NoError(t, err, "Delete")
	case <-time.After(5 * time.Second):
		t.Fatalf("Delete from another thread still waiting after the iocb failed")
	}
}

// TestPanickingIOCBReleasesRunning: an iocb that panics inside a dispatch
// cycle must not leave the fd marked running, or a later Delete from
// another thread waits forever. The same holds for UpdateEvents.
func TestPanickingIOCBReleasesRunning(t *testing.T) {
	for _, via := range []string{"Dispatch", "UpdateEvents"} {
		t.Run("via="+via, func(t *testing.T) {
			tab, ths := newTable(t, 2)
			sp := socketPair(t)
			require.NoError(t, ths[0].Insert(sp.FD, nil, func(int, any) { panic("boom") }, 0x3))
			require.NoError(t, ths[0].WantRecv(sp.FD))
			func() {
				defer func() { assert.Equal(t, "boom", recover(), "the iocb's panic") }()
				if via == "Dispatch" {
					dispatchCycle(ths[0], sp.FD, tab.Gen(sp.FD))
					return
				}
				defer ths[0].EndDispatch()
				ths[0].UpdateEvents(sp.FD, fdtable.ReadyR)
			}()
			assert.Zero(t, tab.RunningMask(sp.FD), "running mask after the iocb panicked")
			requireDeletable(t, sp, ths[1])
		})
	}
}

// TestGoexitIOCBReleasesRunning: an iocb that exits its goroutine (as a
// failing test's Fatalf does) inside a dispatch cycle leaves the running
// mask too.
func TestGoexitIOCBReleasesRunning(t *testing.T) {
	tab, ths := newTable(t, 2)
	sp := socketPair(t)
	require.NoError(t, ths[0].Insert(sp.FD, nil, func(int, any) { runtime.Goexit() }, 0x3))
	require.NoError(t, ths[0].WantRecv(sp.FD))
	returned := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		dispatchCycle(ths[0], sp.FD, tab.Gen(sp.FD))
		returned = true
	}()
	<-done
	require.False(t, returned, "the iocb's Goexit ended the goroutine")
	assert.Zero(t, tab.RunningMask(sp.FD), "running mask after the iocb exited its goroutine")
	requireDeletable(t, sp, ths[1])
}

// TestEndDispatchReleasesOnlyAFailedIOCB: Dispatch without the deferred
// EndDispatch leaves a panicking iocb's fd marked running on its thread
// (which is why backends defer it), EndDispatch releases it later, and
// after iocbs that returned, EndDispatch changes nothing: another thread
// running the fd keeps its bit.
func TestEndDispatchReleasesOnlyAFailedIOCB(t *testing.T) {
	tab, ths := newTable(t, 2)
	sp, other := socketPair(t), socketPair(t)
	var block atomic.Bool
	inside, release := make(chan struct{}), make(chan struct{})
	iocb := func(int, any) {
		if !block.Load() {
			panic("boom")
		}
		inside <- struct{}{}
		<-release
	}
	require.NoError(t, ths[0].Insert(sp.FD, nil, iocb, 0x3))
	require.NoError(t, ths[0].WantRecv(sp.FD))
	calls := 0
	require.NoError(t, ths[0].Insert(other.FD, nil, func(int, any) { calls++ }, 0x1))
	require.NoError(t, ths[0].WantRecv(other.FD))
	gen := tab.Gen(sp.FD)
	func() {
		defer func() { assert.Equal(t, "boom", recover(), "the iocb's panic") }()
		ths[0].Dispatch(sp.FD, gen, fdtable.ReadyR)
	}()
	assert.Equal(t, ths[0].Bit(), tab.RunningMask(sp.FD), "running mask with no EndDispatch")
	ths[0].EndDispatch()
	assert.Zero(t, tab.RunningMask(sp.FD), "running mask after EndDispatch")

	block.Store(true)
	out := make(chan fdtable.Outcome)
	go func() { out <- dispatchCycle(ths[1], sp.FD, gen) }()
	<-inside
	assert.Equal(t, fdtable.Delivered, dispatchCycle(ths[0], other.FD, tab.Gen(other.FD)), "thread 0's event")
	assert.Equal(t, 1, calls, "thread 0's iocb calls")
	ths[0].EndDispatch()
	assert.Equal(t, ths[1].Bit(), tab.RunningMask(sp.FD), "thread 1 still inside its iocb")
	close(release)
	assert.Equal(t, fdtable.Delivered, <-out, "thread 1's event")
	assert.Zero(t, tab.RunningMask(sp.FD), "running mask once thread 1 returned")
}
