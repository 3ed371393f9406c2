package loop

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/evpoll/evpoll/poller"
)

// spare is the number of extra tasks an arm or cancel benchmark cycles
// through between two untimed resets.
const spare = 4096

// benchWQ returns a thread whose wait queue holds n armed timers spread
// over the next 2^24 ms, and spare more tasks, unarmed.
func benchWQ(b *testing.B, n int) (*Thread, []*Task, []*Task, *rand.Rand) {
	l := newTestLoop(b, Config{})
	th := l.threads[0]
	rng := rand.New(rand.NewPCG(1, 2))
	now := th.Now()
	armed := make([]*Task, n)
	for i := range armed {
		armed[i] = l.NewTask(nopHandler, nil, th.bit)
		armed[i].SetExpire(now.Add(1 + int(rng.Uint32N(1<<24))))
		th.Queue(armed[i])
	}
	extra := make([]*Task, spare)
	for i := range extra {
		extra[i] = l.NewTask(nopHandler, nil, th.bit)
	}
	return th, armed, extra, rng
}

// BenchmarkTimers measures the wait-queue operations with n timers armed.
func BenchmarkTimers(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("op=arm/timers=%d", n), func(b *testing.B) {
			th, _, extra, rng := benchWQ(b, n)
			dates := randDates(th.Now(), rng)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				j := i % spare
				if j == 0 && i > 0 {
					b.StopTimer()
					for _, tk := range extra {
						th.Unqueue(tk)
					}
					b.StartTimer()
				}
				tk := extra[j]
				tk.SetExpire(dates[j])
				th.Queue(tk)
			}
		})
		b.Run(fmt.Sprintf("op=rearm-later/timers=%d", n), func(b *testing.B) {
			th, armed, _, _ := benchWQ(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				tk := armed[i%n]
				tk.SetExpire(tk.Expire().Add(1000))
				th.Queue(tk)
			}
		})
		b.Run(fmt.Sprintf("op=rearm-earlier/timers=%d", n), func(b *testing.B) {
			th, armed, _, rng := benchWQ(b, n)
			perm := rng.Perm(n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				tk := armed[perm[i%n]]
				tk.SetExpire(poller.Tick(tk.wq.key).Add(-1000))
				th.Queue(tk)
			}
		})
		b.Run(fmt.Sprintf("op=cancel/timers=%d", n), func(b *testing.B) {
			th, _, extra, rng := benchWQ(b, n)
			dates := randDates(th.Now(), rng)
			rearm := func() {
				for j, tk := range extra {
					tk.SetExpire(dates[j])
					th.Queue(tk)
				}
			}
			rearm()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				j := i % spare
				if j == 0 && i > 0 {
					b.StopTimer()
					rearm()
					b.StartTimer()
				}
				th.Unqueue(extra[j])
			}
		})
		b.Run(fmt.Sprintf("op=expire/timers=%d", n), func(b *testing.B) {
			th, _, _, rng := benchWQ(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if i%spare == 0 && i > 0 {
					b.StopTimer()
					// Put the woken tasks back, later than every other.
					for th.rq.len() > 0 {
						tk := th.rq.popMin().t
						tk.state.Store(0)
						tk.SetExpire(poller.Tick(th.wq.min().key).Add(1 + int(rng.Uint32N(1<<24))))
						th.Queue(tk)
					}
					b.StartTimer()
				}
				th.expireFrom(&th.wq, poller.Tick(th.wq.min().key))
			}
		})
	}
}

func randDates(now poller.Tick, rng *rand.Rand) []poller.Tick {
	d := make([]poller.Tick, spare)
	for i := range d {
		d[i] = now.Add(1 + int(rng.Uint32N(1<<24)))
	}
	return d
}
