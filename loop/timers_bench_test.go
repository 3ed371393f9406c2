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

// waitQueue is what the benchmarks drive: the loop's wait queue (a 4-ary
// heap with the position stored in the node) or the timing wheel it was
// measured against.
type waitQueue interface {
	queue(t *Task)
	cancel(t *Task)
	// expireAt wakes, from th, the tasks due at now.
	expireAt(th *Thread, now poller.Tick)
	// next returns the date the queue asks to be woken at.
	next(th *Thread) poller.Tick
}

// advance moves the clock to the next date q asks for and expires what is
// due there.
func advance(q waitQueue, th *Thread) { q.expireAt(th, q.next(th)) }

// heapWQ is the loop's own wait queue of one thread.
type heapWQ struct{ th *Thread }

func (q heapWQ) queue(t *Task)                        { q.th.Queue(t) }
func (q heapWQ) cancel(t *Task)                       { q.th.Unqueue(t) }
func (q heapWQ) expireAt(th *Thread, now poller.Tick) { th.expireFrom(&th.wq, now) }
func (q heapWQ) next(th *Thread) poller.Tick          { return th.nextTimerExpiry() }

// wheelWQ applies the same lazy-key rules to a timing wheel; each task's
// node is its context.
type wheelWQ struct{ w *wheel }

func (q wheelWQ) queue(t *Task) {
	n := t.ctx.(*wnode)
	exp := uint32(t.Expire())
	if exp == 0 {
		return
	}
	if !n.queued() {
		q.w.insert(n, exp)
	} else if keyLess(exp, n.key) {
		q.w.remove(n)
		q.w.insert(n, exp)
	}
}

func (q wheelWQ) cancel(t *Task) {
	if n := t.ctx.(*wnode); n.queued() {
		q.w.remove(n)
	}
}

func (q wheelWQ) expireAt(th *Thread, now poller.Tick) { q.w.expire(th, now) }
func (q wheelWQ) next(*Thread) poller.Tick             { return q.w.next() }

// benchWQ returns a thread and a wait queue of the given kind holding n
// armed timers spread over the next 2^24 ms, and spare more tasks,
// unarmed.
func benchWQ(b *testing.B, kind string, n int) (*Thread, waitQueue, []*Task, []*Task, *rand.Rand) {
	b.Helper()
	l := newTestLoop(b, Config{})
	th := l.threads[0]
	var q waitQueue = heapWQ{th}
	var w *wheel
	if kind == "wheel" {
		w = new(wheel)
		w.init(th.Now())
		q = wheelWQ{w}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	now := th.Now()
	mk := func() *Task {
		t := l.NewTask(nopHandler, nil, th.bit)
		if w != nil {
			t.ctx = &wnode{lvl: lvlNone, t: t}
		}
		return t
	}
	armed := make([]*Task, n)
	for i := range armed {
		armed[i] = mk()
		armed[i].SetExpire(now.Add(1 + int(rng.Uint32N(1<<24))))
		q.queue(armed[i])
	}
	extra := make([]*Task, spare)
	for i := range extra {
		extra[i] = mk()
	}
	return th, q, armed, extra, rng
}

// BenchmarkTimers measures the wait-queue operations with n timers armed,
// for the wheel and for the heap baseline.
func BenchmarkTimers(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		for _, kind := range []string{"heap", "wheel"} {
			benchTimers(b, kind, n)
		}
	}
}

func benchTimers(b *testing.B, kind string, n int) {
	name := func(op string) string { return fmt.Sprintf("op=%s/timers=%d/queue=%s", op, n, kind) }
	b.Run(name("arm"), func(b *testing.B) {
		th, q, _, extra, rng := benchWQ(b, kind, n)
		dates := randDates(th.Now(), rng)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			j := i % spare
			if j == 0 && i > 0 {
				b.StopTimer()
				for _, tk := range extra {
					q.cancel(tk)
				}
				b.StartTimer()
			}
			tk := extra[j]
			tk.SetExpire(dates[j])
			q.queue(tk)
		}
	})
	b.Run(name("rearm-later"), func(b *testing.B) {
		_, q, armed, _, _ := benchWQ(b, kind, n)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			tk := armed[i%n]
			tk.SetExpire(tk.Expire().Add(1000))
			q.queue(tk)
		}
	})
	b.Run(name("rearm-earlier"), func(b *testing.B) {
		_, q, armed, _, rng := benchWQ(b, kind, n)
		perm := rng.Perm(n)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			tk := armed[perm[i%n]]
			// Earlier by a tenth of the way, so that dates stay ahead.
			d := int32(tk.Expire() - tk.l.threads[0].Now())
			tk.SetExpire(tk.Expire().Add(-int(d / 10)))
			q.queue(tk)
		}
	})
	b.Run(name("cancel"), func(b *testing.B) {
		th, q, _, extra, rng := benchWQ(b, kind, n)
		dates := randDates(th.Now(), rng)
		rearm := func() {
			for j, tk := range extra {
				tk.SetExpire(dates[j])
				q.queue(tk)
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
			q.cancel(extra[j])
		}
	})
	b.Run(name("expire"), func(b *testing.B) {
		th, q, _, _, rng := benchWQ(b, kind, n)
		var w *wheel
		if ww, ok := q.(wheelWQ); ok {
			w = ww.w
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if i%spare == 0 && i > 0 {
				b.StopTimer()
				// Arm the woken tasks again, somewhere in the next
				// 2^24 ms after the last date reached.
				var now poller.Tick
				if w != nil {
					now = poller.Tick(w.cur)
				} else {
					now = poller.Tick(th.wq.n[0].key)
				}
				for th.rq.len() > 0 {
					tk := th.rq.popMin().t
					tk.state.Store(0)
					tk.SetExpire(now.Add(1 + int(rng.Uint32N(1<<24))))
					q.queue(tk)
				}
				b.StartTimer()
			}
			// One operation: move the clock to the next date the wait
			// queue asks for until a timer fires.
			for woken := th.rq.len(); th.rq.len() == woken; {
				advance(q, th)
			}
		}
	})
}

func randDates(now poller.Tick, rng *rand.Rand) []poller.Tick {
	d := make([]poller.Tick, spare)
	for i := range d {
		d[i] = now.Add(1 + int(rng.Uint32N(1<<24)))
	}
	return d
}
