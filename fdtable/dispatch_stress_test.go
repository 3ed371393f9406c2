package fdtable_test

import (
	"sync/atomic"
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDispatchNeverCrossesGenerations loops Dispatch on one goroutine
// against Remove and Insert of the same fd on another, thousands of times.
// Every Insert gives the fd a new generation and an owner naming it; an
// event tagged with one generation must only ever reach the owner of that
// generation, with no data race on the owner or the iocb (run with -race):
// Dispatch checks the fd only once its thread is in the running mask, and
// must see a lock holder that started before it got there.
func TestDispatchNeverCrossesGenerations(t *testing.T) {
	const rounds = 20000
	tab, ths := newTable(t, 1)
	sp := socketPair(t)
	th, ext := ths[0], tab.External()
	var (
		want    uint32 // the dispatching goroutine's, read by the iocb it runs
		crossed atomic.Int32
		calls   atomic.Int32
	)
	iocb := func(_ int, owner any) {
		calls.Add(1)
		if owner.(uint32) != want {
			crossed.Add(1)
		}
	}
	require.NoError(t, th.Insert(sp.FD, uint32(0), iocb, 0x1))
	require.NoError(t, th.WantRecv(sp.FD))
	first := tab.Gen(sp.FD)
	// Owners name generations relative to the first: each Insert bumps the
	// generation by one.
	require.NoError(t, th.Remove(sp.FD))
	require.NoError(t, th.Insert(sp.FD, first+1, iocb, 0x1))
	require.NoError(t, th.WantRecv(sp.FD))

	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer stop.Store(true)
		for i := uint32(2); i < rounds; i++ {
			if ext.Remove(sp.FD) != nil || ext.Insert(sp.FD, first+i, iocb, 0x1) != nil || ext.WantRecv(sp.FD) != nil {
				t.Errorf("remove/insert %d failed", i)
				return
			}
		}
	}()
	outcomes := map[fdtable.Outcome]int{}
	for n := 0; !stop.Load() || n < rounds; n++ {
		g := tab.Gen(sp.FD)
		want = g
		outcomes[th.Dispatch(sp.FD, g, fdtable.ReadyR)]++
		th.EndDispatch()
		if n%64 == 0 {
			th.DrainUpdates(funcUpdater(func(fdtable.Update) {}), true)
		}
	}
	<-done
	assert.Zero(t, crossed.Load(), "events delivered to the owner of another generation")
	assert.Positive(t, calls.Load(), "iocb calls (outcomes %v)", outcomes)
	assert.Zero(t, tab.RunningMask(sp.FD), "running mask")
}
