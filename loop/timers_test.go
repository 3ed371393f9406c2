package loop

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/evpoll/evpoll/poller"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkHeap verifies the heap property and the index stored in every node.
func checkHeap(t *testing.T, h *heap4) {
	t.Helper()
	for i, e := range h.n {
		n := e.n
		require.Equal(t, int32(i), n.idx, "node %d index", i)
		require.Equal(t, n.key, e.key, "node %d key copy", i)
		if i > 0 {
			p := h.n[(i-1)/4]
			require.False(t, keyLess(n.key, p.key), "node %d key %d before its parent's %d", i, n.key, p.key)
		}
	}
}

func TestHeapMatchesSortedModel(t *testing.T) {
	for _, base := range []uint32{0, 1 << 31, 0xffffff00} {
		rng := rand.New(rand.NewPCG(uint64(base), 7))
		var h heap4
		var nodes []*hnode
		for range 2000 {
			switch op := rng.IntN(4); {
			case op < 2 || len(nodes) == 0:
				n := &hnode{key: base + rng.Uint32N(1<<20), idx: -1}
				h.push(n)
				nodes = append(nodes, n)
			case op == 2:
				i := rng.IntN(len(nodes))
				h.remove(nodes[i])
				assert.False(t, nodes[i].queued())
				nodes = slices.Delete(nodes, i, i+1)
			default:
				h.rekey(nodes[rng.IntN(len(nodes))], base+rng.Uint32N(1<<20))
			}
			checkHeap(t, &h)
		}
		var got []uint32
		for h.len() > 0 {
			got = append(got, h.popMin().key-base)
		}
		want := make([]uint32, 0, len(nodes))
		for _, n := range nodes {
			want = append(want, n.key-base)
		}
		slices.Sort(want)
		assert.Equal(t, want, got, "pop order from base %#x", base)
	}
}

func TestKeyLessWrap(t *testing.T) {
	for _, c := range []struct {
		a, b uint32
		less bool
	}{
		{1, 2, true},
		{2, 1, false},
		{0xffffffff, 0, true},
		{0x7fffffff, 0x80000001, true},
		{0x80000001, 0x7fffffff, false},
		{5, 5, false},
	} {
		assert.Equal(t, c.less, keyLess(c.a, c.b), "keyLess(%#x, %#x)", c.a, c.b)
	}
}

// G61: a later expire does not move the node; when the clock reaches the
// old key the node is re-keyed, not woken, and next_timer_expiry returns
// the new date.
func TestTimerLaterExpireIsLazy(t *testing.T) {
	l := newTestLoop(t, Config{})
	th := l.threads[0]
	now := th.Now()
	tk := l.NewTask(nopHandler, nil, th.bit)
	armAt(t, th, tk, now.Add(10))
	armAt(t, th, tk, now.Add(50)) // later: the key stays
	assert.Equal(t, uint32(now.Add(10)), tk.wq.key)
	assert.Equal(t, now.Add(10), th.nextTimerExpiry())

	th.expireFrom(&th.wq, now.Add(10))
	assert.Zero(t, tk.State()&(Queued|WokenTimer), "re-keyed, not woken")
	assert.Equal(t, now.Add(50), th.nextTimerExpiry())

	th.expireFrom(&th.wq, now.Add(49))
	assert.Zero(t, tk.State()&Queued)
	th.expireFrom(&th.wq, now.Add(50))
	assert.Equal(t, Queued|WokenTimer, tk.State())
	assert.Equal(t, poller.Eternity, th.nextTimerExpiry())
}

func TestTimerEarlierExpireMoves(t *testing.T) {
	l := newTestLoop(t, Config{})
	th := l.threads[0]
	now := th.Now()
	a := l.NewTask(nopHandler, nil, th.bit)
	b := l.NewTask(nopHandler, nil, th.bit)
	armAt(t, th, a, now.Add(100))
	armAt(t, th, b, now.Add(50))
	assert.Equal(t, now.Add(50), th.nextTimerExpiry())
	armAt(t, th, a, now.Add(20))
	assert.Equal(t, now.Add(20), th.nextTimerExpiry())
	th.expireFrom(&th.wq, now.Add(20))
	assert.NotZero(t, a.State()&WokenTimer)
	assert.Zero(t, b.State()&WokenTimer)
}

func TestTimerEternityAndUnqueue(t *testing.T) {
	l := newTestLoop(t, Config{})
	th := l.threads[0]
	now := th.Now()
	tk := l.NewTask(nopHandler, nil, th.bit)
	armAt(t, th, tk, poller.Eternity)
	assert.False(t, tk.wq.queued(), "eternity is not queued")
	armAt(t, th, tk, now.Add(5))
	tk.SetExpire(poller.Eternity) // cleared: leaves when reached
	th.expireFrom(&th.wq, now.Add(5))
	assert.False(t, tk.wq.queued())
	assert.Zero(t, tk.State())
	armAt(t, th, tk, now.Add(5))
	require.NoError(t, th.Unqueue(tk))
	assert.Equal(t, poller.Eternity, th.nextTimerExpiry())
}

func TestTimerWrongThread(t *testing.T) {
	l := newTestLoop(t, Config{Threads: 2})
	tk := l.NewTask(nopHandler, nil, l.threads[1].bit)
	tk.SetExpire(l.Now().Add(5))
	assert.ErrorIs(t, l.threads[0].Queue(tk), ErrWrongThread)
	assert.ErrorIs(t, (*Thread)(nil).Queue(tk), ErrWrongThread)
	shared := l.NewTask(nopHandler, nil, 0)
	shared.SetExpire(l.Now().Add(5))
	assert.NoError(t, (*Thread)(nil).Queue(shared), "shared tasks may be queued from outside")
	assert.Equal(t, l.Now().Add(5), l.threads[1].nextTimerExpiry().First(l.Now().Add(5)))
}

// Timers armed just before the 2^32 ms wrap fire in date order after it,
// with the loop's clock offset to start near the wrap.
func TestTimersAcrossWrap(t *testing.T) {
	l := newTestLoop(t, Config{Start: poller.Tick(0xffffffff - 100)})
	th := l.threads[0]
	start := th.ctx.UpdateTime()
	require.Greater(t, uint32(start), uint32(0xffffff00), "clock starts near the wrap")
	var tasks []*Task
	fired := []int{}
	for i := range 20 {
		tk := l.NewTask(func(*Task, any, State) bool { fired = append(fired, i); return false }, nil, th.bit)
		// 10 ms steps from before the wrap to well after it, armed in
		// reverse order.
		tasks = append(tasks, tk)
		_ = tk
	}
	for i := len(tasks) - 1; i >= 0; i-- {
		armAt(t, th, tasks[i], start.Add(10*(i+1)))
	}
	assert.Equal(t, start.Add(10), th.nextTimerExpiry())
	for step := 0; step <= 210; step++ {
		l.clock.Advance(1)
		th.ctx.UpdateTime()
		th.wakeExpiredTasks()
		th.processRunnableTasks()
		for j, i := range fired {
			require.True(t, tasks[i].Expire().IsExpired(th.Now()), "task %d fired before its date", i)
			require.Equal(t, j, i, "fire order")
		}
	}
	assert.Len(t, fired, 20)
	assert.Less(t, uint32(th.Now()), uint32(1000), "the clock wrapped")
}

// The shared wait queue keeps timers of tasks bound to several threads;
// any thread expires them.
func TestSharedTimer(t *testing.T) {
	l := newTestLoop(t, Config{Threads: 2})
	tk := l.NewTask(nopHandler, nil, 0)
	now := l.threads[1].Now()
	armAt(t, l.threads[1], tk, now.Add(5))
	assert.Equal(t, now.Add(5), l.threads[0].nextTimerExpiry())
	l.threads[0].expireFrom(&l.gwq, now.Add(5))
	assert.Equal(t, Queued|Global|WokenTimer, tk.State())
	assert.True(t, l.threads[1].hasTasks())
}

func TestTimerOpsAllocateNothing(t *testing.T) {
	l := newTestLoop(t, Config{})
	th := l.threads[0]
	tasks := make([]*Task, 1000)
	for i := range tasks {
		tasks[i] = l.NewTask(nopHandler, nil, th.bit)
		armAt(t, th, tasks[i], th.Now().Add(1000+i))
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		tk := tasks[i%len(tasks)]
		i++
		tk.SetExpire(tk.Expire().Add(-500)) // earlier: moves
		th.Queue(tk)
		tk.SetExpire(tk.Expire().Add(700)) // later: lazy
		th.Queue(tk)
		th.Unqueue(tk)
		th.Queue(tk)
	})
	assert.Zero(t, allocs)
}
