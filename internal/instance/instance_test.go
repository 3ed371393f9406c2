package instance

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

type nop struct{}

func (nop) UpdateFD(fdtable.Update)   {}
func (nop) Closing(int, uint32, bool) {}

// recorder records the fds it is handed.
type recorder struct {
	nop
	fds []int
}

func (r *recorder) UpdateFD(u fdtable.Update) { r.fds = append(r.fds, u.FD) }

// thread0 returns thread 0 of a new table and its context.
func thread0(t *testing.T) (*fdtable.Table, *fdtable.Thread, *poller.Context) {
	tab := fdtable.New(64)
	th, err := tab.NewThread(0)
	require.NoError(t, err)
	return tab, th, poller.NewContext(th)
}

// pipeFD inserts the read end of a new pipe for th, removed at cleanup.
func pipeFD(t *testing.T, th *fdtable.Thread) int {
	var fds [2]int
	require.NoError(t, unix.Pipe(fds[:]))
	t.Cleanup(func() { unix.Close(fds[1]) })
	require.NoError(t, th.Insert(fds[0], nil, nil, th.Bit()))
	t.Cleanup(func() { th.Delete(fds[0]) })
	return fds[0]
}

func TestInitRefusesContextWithoutThread(t *testing.T) {
	var b Base
	assert.ErrorContains(t, b.Init("kq", nil), "kq: context without a thread")
	tab := fdtable.New(64)
	assert.Error(t, b.Init("kq", poller.NewContext(tab.External())))
}

func TestReleaseOnceAndLeavesReplacement(t *testing.T) {
	tab, th, ctx := thread0(t)
	var old, cur Base
	require.NoError(t, old.Init("kq", ctx))
	require.NoError(t, cur.Init("kq", ctx))
	require.NoError(t, old.Attach(nop{}, ""))
	require.NoError(t, cur.Attach(&nop{}, "fork"))

	// An fd polled by thread 0: detaching the current instance clears
	// the thread's polled bits, detaching the replaced one must not.
	fd := pipeFD(t, th)
	tab.SetPolled(fd, 0, true, false)

	assert.False(t, old.Closed())
	assert.True(t, old.Release(), "first Release")
	assert.False(t, old.Release(), "second Release")
	assert.True(t, old.Closed())
	assert.Equal(t, uint64(1), tab.Info(fd).PolledRecv, "polled bits after the replaced instance's Release")
	assert.True(t, cur.Release())
	assert.Zero(t, tab.Info(fd).PolledRecv, "polled bits after the current instance's Release")

	var never Base
	require.NoError(t, never.Init("kq", ctx))
	assert.True(t, never.Release(), "Release of an instance never attached")
}

func TestAttachWrapsErrors(t *testing.T) {
	_, _, ctx := thread0(t)
	var b Base
	require.NoError(t, b.Init("kq", ctx))
	assert.ErrorContains(t, b.Attach(nil, "fork"), "kq: fork: ")
}

// TestReattachRegistersWantedFDs: after a fork's Reattach, the instance
// has been handed every fd its thread wants, before Reattach returns.
func TestReattachRegistersWantedFDs(t *testing.T) {
	_, th, ctx := thread0(t)
	var b Base
	require.NoError(t, b.Init("kq", ctx))
	r := &recorder{}
	require.NoError(t, b.Attach(r, ""))
	fd := pipeFD(t, th)
	require.NoError(t, th.WantRecv(fd))
	th.DrainUpdates(r, true)
	r.fds = nil

	require.NoError(t, b.Reattach(r, "fork"))
	assert.Equal(t, []int{fd}, r.fds, "fds handed over by Reattach")
	assert.True(t, b.Release())
}

func TestErrIfClosed(t *testing.T) {
	_, _, ctx := thread0(t)
	var b Base
	require.NoError(t, b.Init("kq", ctx))
	assert.NoError(t, b.ErrIfClosed("poll"))
	b.Release()
	err := b.ErrIfClosed("poll")
	assert.ErrorIs(t, err, poller.ErrClosed)
	assert.ErrorContains(t, err, "kq: poll: ")
}

func TestCount(t *testing.T) {
	_, _, ctx := thread0(t)
	var b Base
	require.NoError(t, b.Init("kq", ctx))
	assert.True(t, b.Count(fdtable.Delivered))
	for _, o := range []fdtable.Outcome{fdtable.Dead, fdtable.Stale, fdtable.Stale, fdtable.Migrated, fdtable.Migrated, fdtable.Migrated} {
		assert.False(t, b.Count(o), "outcome %d", o)
	}
	act := &ctx.Activity
	assert.Equal(t, []uint32{1, 2, 3}, []uint32{act.PollDeadFD.Load(), act.PollStaleFD.Load(), act.PollSkipFD.Load()},
		"poll_dead_fd, poll_stale_fd, poll_skip_fd")
}

// TestReleaseRacesElectOne: Close may be called from several goroutines
// (the polling one, a stop hook, a test's cleanup); exactly one Release
// must win, or the kernel object would be closed twice or not at all.
func TestReleaseRacesElectOne(t *testing.T) {
	_, _, ctx := thread0(t)
	const rounds, racers = 2000, 4
	for round := range rounds {
		var b Base
		require.NoError(t, b.Init("kq", ctx))
		require.NoError(t, b.Attach(nop{}, ""))
		var wins atomic.Int32
		var start, done sync.WaitGroup
		start.Add(1)
		for range racers {
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				if b.Release() {
					wins.Add(1)
				}
			}()
		}
		start.Done()
		done.Wait()
		require.Equal(t, int32(1), wins.Load(), "round %d: Releases that won", round)
	}
}
