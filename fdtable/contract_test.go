package fdtable_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// funcUpdater calls f for every update.
type funcUpdater func(fdtable.Update)

func (f funcUpdater) UpdateFD(u fdtable.Update) { f(u) }
func (funcUpdater) Closing(int, uint32, bool)   {}

// TestDispatchRechecksGenerationWhenRunning: the fd is removed and
// inserted again for a new owner between Dispatch's first checks and the
// delivery. The event, tagged with the old generation, must reach neither
// the new owner's iocb nor its state or event byte.
func TestDispatchRechecksGenerationWhenRunning(t *testing.T) {
	tab, ths := newTable(t, 1)
	sp := socketPair(t)
	var oldCalls, newCalls atomic.Int32
	require.NoError(t, ths[0].Insert(sp.FD, "old", func(int, any) { oldCalls.Add(1) }, 0x1))
	require.NoError(t, ths[0].WantRecv(sp.FD))
	oldGen := tab.Gen(sp.FD)

	ext := tab.External()
	restore := fdtable.SetDispatchHook(func(fd int) {
		// Another goroutine, as far as the table can tell.
		require.NoError(t, ext.Remove(fd))
		require.NoError(t, ext.Insert(fd, "new", func(int, any) { newCalls.Add(1) }, 0x1))
		require.NoError(t, ext.WantRecv(fd))
		require.NoError(t, ext.CantRecv(fd))
	})
	got := ths[0].Dispatch(sp.FD, oldGen, fdtable.ReadyR|fdtable.ShutR)
	restore()

	assert.Equal(t, fdtable.Stale, got, "outcome")
	assert.Zero(t, oldCalls.Load(), "old owner's iocb calls")
	assert.Zero(t, newCalls.Load(), "new owner's iocb calls")
	assert.Equal(t, fdtable.ActiveR|fdtable.ReadyW, tab.State(sp.FD), "new owner's state")
	assert.Equal(t, fdtable.State(0), tab.Ev(sp.FD), "new owner's conditions last reported")
	assert.Zero(t, tab.RunningMask(sp.FD), "running mask")
}

// TestRemoveWaitsForUpdateInProgress: a Remove on another goroutine while
// the poller applies an update for the same fd waits until the poller has
// recorded its registration, then tells it through the close hook, so the
// fd never ends registered with no hook to undo it.
func TestRemoveWaitsForUpdateInProgress(t *testing.T) {
	tab, ths := newTable(t, 1)
	calls := installHooks(t, tab, 1)
	sp := socketPair(t)
	require.NoError(t, ths[0].Insert(sp.FD, nil, nil, 0x1))
	require.NoError(t, ths[0].WantRecv(sp.FD))

	inside, proceed := make(chan struct{}), make(chan struct{})
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		ths[0].DrainUpdates(funcUpdater(func(u fdtable.Update) {
			close(inside)
			<-proceed
			tab.SetPolled(u.FD, 0, true, false) // "registered"
		}), true)
	}()
	<-inside
	removed := make(chan error, 1)
	go func() { removed <- tab.External().Remove(sp.FD) }()
	select {
	case err := <-removed:
		close(proceed)
		t.Fatalf("Remove returned (%v) while the update was being applied", err)
	case <-time.After(30 * time.Millisecond):
	}
	close(proceed)
	<-drained
	require.NoError(t, <-removed)
	r, s := tab.Polled(sp.FD)
	assert.Zero(t, r|s, "polled bits after Remove")
	require.Len(t, *calls, 1, "close hook calls")
	assert.Equal(t, hookCall{Tid: 0, FD: sp.FD, KeepOpen: true, FDValid: true, PollRecv: 1}, (*calls)[0])
}

// TestUpdateIsConsistent: UpdateFD sees the generation, ownership and
// polled bits of one moment, and never runs for a closed fd, while other
// goroutines remove and insert the fd as fast as they can.
func TestUpdateIsConsistent(t *testing.T) {
	tab, ths := newTable(t, 1)
	sp := socketPair(t)
	ext := tab.External()
	require.NoError(t, ext.Insert(sp.FD, nil, nil, 0x1))
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			ext.Remove(sp.FD)
			ext.Insert(sp.FD, nil, nil, 0x1)
			ext.WantRecv(sp.FD)
		}
	}()
	bad := 0
	u := funcUpdater(func(up fdtable.Update) {
		// Under the fd's lock nothing of this may move.
		gen, open := tab.OpenGen(up.FD)
		if !open || gen != up.Gen || !up.Ours {
			bad++
		}
		tab.SetPolled(up.FD, 0, true, false)
	})
	for range 3000 {
		ths[0].DrainUpdates(u, true)
	}
	stop.Store(true)
	wg.Wait()
	assert.Zero(t, bad, "updates that saw the fd change under them")
}

// TestAttachRequeuesWantedFDs: a poller attached after fds were inserted
// and wanted (a thread started late, a re-created poller) is handed every
// fd its thread owns and wants, including a shared fd whose change was
// queued before the thread existed.
func TestAttachRequeuesWantedFDs(t *testing.T) {
	tab := fdtable.New(tableSize)
	th0, err := tab.NewThread(0)
	require.NoError(t, err)
	shared, mine, idle := socketPair(t), socketPair(t), socketPair(t)
	ext := tab.External()
	require.NoError(t, ext.Insert(shared.FD, nil, nil, 0x3))
	require.NoError(t, ext.WantRecv(shared.FD))
	require.NoError(t, ext.Insert(mine.FD, nil, nil, 0x2))
	require.NoError(t, ext.WantSend(mine.FD))
	require.NoError(t, ext.Insert(idle.FD, nil, nil, 0x2))
	// Thread 0 takes the shared entry off the list: thread 1 does not
	// exist yet, so nobody else has to acknowledge it.
	th0.DrainUpdates(nopUpdater{}, true)
	require.False(t, tab.Listed(shared.FD))

	th1, err := tab.NewThread(1)
	require.NoError(t, err)
	tab.SetPolled(mine.FD, 1, true, true) // left by a previous instance
	_, err = th1.Attach(hookRec{tid: 1, tab: tab, calls: new([]hookCall)})
	require.NoError(t, err)
	r, s := tab.Polled(mine.FD)
	assert.Zero(t, r|s, "polled bits of the previous instance")
	var got []int
	th1.DrainUpdates(funcUpdater(func(u fdtable.Update) {
		assert.True(t, u.Ours)
		got = append(got, u.FD)
	}), true)
	assert.ElementsMatch(t, []int{shared.FD, mine.FD}, got, "fds handed to the new poller")
}

// TestStaleBitsDoNotBlockQueueing: an update bit left for a thread that
// did not exist when the entry was drained must not make later changes
// look queued already.
func TestStaleBitsDoNotBlockQueueing(t *testing.T) {
	tab, ths := newTable(t, 1)
	sp := socketPair(t)
	ext := tab.External()
	require.NoError(t, ext.Insert(sp.FD, nil, nil, 0x3))
	require.NoError(t, ext.WantRecv(sp.FD))
	ths[0].DrainUpdates(nopUpdater{}, true)
	assert.Zero(t, tab.UpdateMask(sp.FD), "update mask after the only thread acknowledged")
	require.NoError(t, ext.StopRecv(sp.FD))
	require.NoError(t, ext.WantRecv(sp.FD))
	assert.True(t, tab.Listed(sp.FD), "second change listed")
}

// TestDetachLeavesReplacement: terminating an old poller instance after a
// new one attached on the same thread leaves the new one's close hook and
// polled bits alone.
func TestDetachLeavesReplacement(t *testing.T) {
	tab, ths := newTable(t, 1)
	oldCalls, newCalls := new([]hookCall), new([]hookCall)
	oldHook := &hookRec{tid: 0, tab: tab, calls: oldCalls}
	newHook := &hookRec{tid: 0, tab: tab, calls: newCalls}
	detachOld, err := ths[0].Attach(oldHook)
	require.NoError(t, err)
	detachNew, err := ths[0].Attach(newHook)
	require.NoError(t, err)
	sp := socketPair(t)
	require.NoError(t, ths[0].Insert(sp.FD, nil, nil, 0x1))
	tab.SetPolled(sp.FD, 0, true, false)

	assert.False(t, detachOld(), "old instance detached the new one")
	r, _ := tab.Polled(sp.FD)
	assert.Equal(t, uint64(1), r, "new instance's polled bit")
	require.NoError(t, ths[0].Remove(sp.FD))
	assert.Empty(t, *oldCalls, "old hook called")
	assert.Len(t, *newCalls, 1, "new hook calls")
	assert.True(t, detachNew())
	assert.False(t, detachNew(), "second detach")
}

// TestDispatchErrorQueuesNoRetry: an error event for an fd the poller
// could not register reaches the owner, and queues no lazy-stop update
// that would make the poller retry, and fail, at every cycle.
func TestDispatchErrorQueuesNoRetry(t *testing.T) {
	tab, ths := newTable(t, 1)
	sp := socketPair(t)
	var calls int
	require.NoError(t, ths[0].Insert(sp.FD, nil, func(int, any) { calls++ }, 0x1))
	require.NoError(t, ths[0].WantRecv(sp.FD))
	ths[0].DrainUpdates(nopUpdater{}, true)
	gen := tab.Gen(sp.FD)

	assert.Equal(t, fdtable.Stale, ths[0].DispatchError(sp.FD, gen+1))
	assert.Equal(t, fdtable.Delivered, ths[0].DispatchError(sp.FD, gen))
	assert.Equal(t, 1, calls, "iocb calls")
	assert.Equal(t, fdtable.ErrRW, tab.Ev(sp.FD)&fdtable.ErrRW, "conditions last reported")
	assert.Empty(t, ths[0].LocalUpdates(), "updates queued")
}
