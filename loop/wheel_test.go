package loop

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/evpoll/evpoll/poller"
	"github.com/stretchr/testify/require"
)

// newQueue returns the wait queue of the given kind for th (see
// timers_bench_test.go), and a function giving tasks their node.
func newQueue(th *Thread, kind string) (waitQueue, func(*Task)) {
	if kind == "heap" {
		return heapWQ{th}, func(*Task) {}
	}
	w := new(wheel)
	w.init(th.Now())
	return wheelWQ{w}, func(t *Task) { t.ctx = &wnode{lvl: lvlNone, t: t} }
}

// The wait queue against a model: after every clock move exactly the tasks
// whose dates have passed fire, whatever mix of arming, pushing back,
// pulling in, cancelling and clearing came before, and next_timer_expiry
// is never later than the earliest armed date. Runs from several clock
// origins, one just before the 2^32 ms wrap, with small steps, steps of
// seconds and rare jumps of an hour, for the loop's heap and for the
// wheel it was measured against.
func TestWaitQueueMatchesModel(t *testing.T) {
	for _, kind := range []string{"heap", "wheel"} {
		for _, start := range []poller.Tick{1, 0xffffffff - 3000, 1 << 31} {
			modelRun(t, kind, start)
		}
	}
}

func modelRun(t *testing.T, kind string, start poller.Tick) {
	rng := rand.New(rand.NewPCG(uint64(start), 3))
	l := newTestLoop(t, Config{Start: start})
	th := l.threads[0]
	q, prep := newQueue(th, kind)
	const n = 300
	model := make([]poller.Tick, n) // armed date, Eternity if none
	fired := []int{}
	tasks := make([]*Task, n)
	for i := range tasks {
		tasks[i] = l.NewTask(func(tk *Task, _ any, why State) bool {
			require.NotZero(t, why&WokenTimer)
			fired = append(fired, i)
			tk.SetExpire(poller.Eternity)
			return true
		}, nil, th.bit)
		prep(tasks[i])
	}
	now := th.Now()
	for step := range 4000 {
		for range rng.IntN(8) {
			i := rng.IntN(n)
			tk := tasks[i]
			switch op := rng.IntN(10); {
			case op < 6: // arm or re-arm, near or far
				d := 1 + rng.IntN(400)
				switch rng.IntN(10) {
				case 0:
					d = 1 + rng.IntN(1<<16)
				case 1:
					d = 1 + rng.IntN(1<<27)
				case 2:
					d = 0
				}
				when := now.Add(d)
				tk.SetExpire(when)
				q.queue(tk)
				model[i] = when
			case op < 8:
				q.cancel(tk)
				tk.SetExpire(poller.Eternity)
				model[i] = poller.Eternity
			default: // cleared but left in the queue
				tk.SetExpire(poller.Eternity)
				model[i] = poller.Eternity
			}
		}
		next := q.next(th)
		for i, e := range model {
			if e.IsSet() {
				require.True(t, next.IsSet() && next.BeforeOrEqual(e),
					"%s step %d: next %#x later than task %d's date %#x (now %#x)", kind, step, uint32(next), i, uint32(e), uint32(now))
			}
		}
		adv := rng.IntN(40)
		switch rng.IntN(50) {
		case 0:
			adv = 250 + rng.IntN(5000)
		case 1:
			adv = rng.IntN(1 << 22)
		}
		now += poller.Tick(adv)
		fired = fired[:0]
		q.expireAt(th, now)
		th.processRunnableTasks()
		want := []int{}
		for i, e := range model {
			if e.IsExpired(now) {
				want = append(want, i)
				model[i] = poller.Eternity
			}
		}
		slices.Sort(fired)
		require.Equal(t, want, fired, "%s step %d, now %#x", kind, step, uint32(now))
	}
}

// The heap's next_timer_expiry is exact at any distance; the wheel gives
// timers more than 256 ms away a cascade date no later than theirs, and
// reaches a 100 s timer in a bounded number of wake-ups.
func TestNextExpiryFarTimer(t *testing.T) {
	for _, kind := range []string{"heap", "wheel"} {
		l := newTestLoop(t, Config{})
		th := l.threads[0]
		q, prep := newQueue(th, kind)
		now := th.Now()
		far := l.NewTask(nopHandler, nil, th.bit)
		prep(far)
		far.SetExpire(now.Add(100_000))
		q.queue(far)
		if kind == "heap" {
			require.Equal(t, now.Add(100_000), q.next(th))
		}
		for steps := 0; far.State()&WokenTimer == 0; steps++ {
			require.Less(t, steps, 50, "%s: too many wake-ups to reach a 100 s timer", kind)
			nx := q.next(th)
			require.True(t, now.Before(nx) && nx.BeforeOrEqual(now.Add(100_000)), kind)
			q.expireAt(th, nx)
			if far.State()&WokenTimer != 0 {
				require.Equal(t, now.Add(100_000), nx, "%s: fired at its date", kind)
			}
		}
	}
}
