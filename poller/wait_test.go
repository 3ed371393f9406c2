package poller

import (
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"golang.org/x/sys/unix"
)

// call is one scripted kernel-wait result.
type call struct {
	n     int
	err   error
	sleep time.Duration
}

// fakeWaiter is a scripted Waiter: call i returns script[i], the last entry
// repeating. It records the timeouts it was given.
type fakeWaiter struct {
	t        testing.TB
	script   []call
	calls    int
	timeouts []int // the first 10000
	minT     int
	maxT     int
	onCall   func(i int) // before returning call i
	maxCalls int         // fail the test beyond this many calls (0: 1e7)
}

var errRunaway = errors.New("fake waiter: too many calls")

func (w *fakeWaiter) KernelWait(ms int) (int, error) {
	if w.calls == 0 || ms < w.minT {
		w.minT = ms
	}
	if w.calls == 0 || ms > w.maxT {
		w.maxT = ms
	}
	if len(w.timeouts) < 10000 {
		w.timeouts = append(w.timeouts, ms)
	}
	i := w.calls
	w.calls++
	if max := w.maxCalls; (max == 0 && w.calls > 1e7) || (max > 0 && w.calls > max) {
		w.t.Errorf("kernel wait called more than %d times", w.calls-1)
		return 0, errRunaway
	}
	if ms < 0 {
		w.t.Errorf("call %d: negative timeout %d", i, ms)
	}
	if w.onCall != nil {
		w.onCall(i)
	}
	c := w.script[min(i, len(w.script)-1)]
	if c.sleep > 0 {
		time.Sleep(c.sleep)
	}
	return c.n, c.err
}

// Reference §15 F49: wake uses a zero timeout once and leaves poll_exp.
func TestWaitWake(t *testing.T) {
	ctx := newTestContext(t, 0)
	for _, exp := range []Tick{Eternity, ctx.UpdateTime().Add(-1), ctx.UpdateTime().Add(50)} {
		for _, busy := range []bool{false, true} {
			ctx.BusyPolling.Store(busy)
			w := &fakeWaiter{t: t, script: []call{{n: 0}}}
			n, err := ctx.Wait(w, exp, true, busy)
			if n != 0 || err != nil {
				t.Errorf("Wait = %d, %v", n, err)
			}
			if w.calls != 1 || w.timeouts[0] != 0 {
				t.Errorf("exp %#x busy %v: kernel timeouts %v, want [0]", uint32(exp), busy, w.timeouts)
			}
		}
	}
	if n := ctx.Activity.PollExp.Load(); n != 0 {
		t.Errorf("wake counted poll_exp %d", n)
	}
	if n := ctx.Activity.PollIO.Load(); n != 0 {
		t.Errorf("no events but poll_io %d", n)
	}
}

// Reference §15 F50: without busy polling one kernel wait per cycle, even
// with no events; the timeout is compute_poll_timeout's.
func TestWaitOneCallPerCycle(t *testing.T) {
	ctx := newTestContext(t, 0)
	ctx.BusyPolling.Store(true) // ignored when the backend says busy=false
	for _, busy := range []bool{false, true} {
		if busy {
			ctx.BusyPolling.Store(false) // ignored when not enabled
		}
		for range 3 {
			w := &fakeWaiter{t: t, script: []call{{n: 0}}}
			now := ctx.UpdateTime()
			exp := now.Add(10)
			pollExp := ctx.Activity.PollExp.Load()
			n, err := ctx.Wait(w, exp, false, busy)
			if n != 0 || err != nil {
				t.Errorf("Wait = %d, %v", n, err)
			}
			if w.calls != 1 {
				t.Fatalf("busy=%v: %d kernel calls, want 1", busy, w.calls)
			}
			if got := w.timeouts[0]; got != 10 && got != 11 {
				t.Errorf("timeout %d, want 11 (10 if the clock moved)", got)
			}
			if ctx.Activity.PollExp.Load() != pollExp {
				t.Errorf("poll_exp counted for a future timer")
			}
		}
		w := &fakeWaiter{t: t, script: []call{{n: 0}}}
		if _, err := ctx.Wait(w, Eternity, false, busy); err != nil || w.calls != 1 || w.timeouts[0] != 1000 {
			t.Errorf("Eternity: %v, timeouts %v, want [1000]", err, w.timeouts)
		}
		// An expired timer: zero timeout, one call, poll_exp counted.
		pollExp := ctx.Activity.PollExp.Load()
		w = &fakeWaiter{t: t, script: []call{{n: 0}}}
		if _, err := ctx.Wait(w, ctx.UpdateTime().Add(-1), false, busy); err != nil || w.calls != 1 || w.timeouts[0] != 0 {
			t.Errorf("expired: %v, timeouts %v, want [0]", err, w.timeouts)
		}
		if ctx.Activity.PollExp.Load() != pollExp+1 {
			t.Errorf("expired timer: poll_exp %d -> %d, want +1", pollExp, ctx.Activity.PollExp.Load())
		}
	}
	if n := ctx.Activity.PollIO.Load(); n != 0 {
		t.Errorf("no events but poll_io %d", n)
	}
}

// Reference §15 F52: poll_io counts cycles with events, not events.
func TestWaitPollIO(t *testing.T) {
	ctx := newTestContext(t, 0)
	script := []int{7, 0, 1, 200, 0, 3}
	for i, ev := range script {
		w := &fakeWaiter{t: t, script: []call{{n: ev}}}
		n, err := ctx.Wait(w, ctx.UpdateTime().Add(100), false, false)
		if n != ev || err != nil {
			t.Errorf("cycle %d: Wait = %d, %v; want %d, nil", i, n, err, ev)
		}
	}
	if n := ctx.Activity.PollIO.Load(); n != 4 {
		t.Errorf("poll_io = %d after 4 cycles with events, want 4", n)
	}
}

func TestWaitClearsSleepingBit(t *testing.T) {
	for _, c := range []call{{n: 2}, {n: 0}, {err: os.NewSyscallError("epoll_wait", unix.EBADF)}} {
		ctx := newTestContext(t, 3)
		ctx.Sleeping.Store(1<<0 | 1<<3 | 1<<4)
		w := &fakeWaiter{t: t, script: []call{c}}
		var during uint64
		w.onCall = func(int) { during = ctx.Sleeping.Load() }
		_, _ = ctx.Wait(w, Eternity, false, false)
		if during&(1<<3) == 0 {
			t.Errorf("sleeping bit cleared before the kernel wait (quirk Q4): %#x", during)
		}
		if got := ctx.Sleeping.Load(); got != 1<<0|1<<4 {
			t.Errorf("result %+v: Sleeping = %#x after Wait, want %#x", c, got, 1<<0|1<<4)
		}
	}
}

func TestWaitError(t *testing.T) {
	ctx := newTestContext(t, 0)
	for _, e := range []error{unix.EBADF, os.NewSyscallError("epoll_wait", unix.EINVAL)} {
		w := &fakeWaiter{t: t, script: []call{{err: e}}}
		n, err := ctx.Wait(w, Eternity, false, false)
		if n != 0 || !errors.Is(err, e) {
			t.Errorf("Wait = %d, %v; want 0 and %v", n, err, e)
		}
		if w.calls != 1 {
			t.Errorf("a non-EINTR error was retried: %d calls", w.calls)
		}
	}
	var se *os.SyscallError
	w := &fakeWaiter{t: t, script: []call{{err: os.NewSyscallError("epoll_wait", unix.EBADF)}}}
	if _, err := ctx.Wait(w, Eternity, false, false); !errors.As(err, &se) || !errors.Is(err, unix.EBADF) {
		t.Errorf("error %v lost its *os.SyscallError or errno", err)
	}
	if n := ctx.Activity.PollIO.Load(); n != 0 {
		t.Errorf("errors counted in poll_io: %d", n)
	}
}

var eintrErrors = []struct {
	name string
	err  error
}{
	{"Errno", unix.EINTR},
	{"SyscallError", os.NewSyscallError("epoll_wait", unix.EINTR)},
}

// Quirk Q6 fixed: EINTR is retried, is not an event, and the retried wait
// lasts until the original deadline, never longer and never 0 while time
// remains.
func TestWaitEINTRRetried(t *testing.T) {
	for _, e := range eintrErrors {
		t.Run(e.name, func(t *testing.T) {
			ctx := newTestContext(t, 0)
			w := &fakeWaiter{t: t, script: []call{
				{err: e.err, sleep: 10 * time.Millisecond},
				{err: e.err},
				{n: 2},
			}}
			start := time.Now()
			exp := ctx.UpdateTime().Add(900)
			n, err := ctx.Wait(w, exp, false, false)
			if n == 0 && err == nil && time.Since(start) > 900*time.Millisecond {
				t.Skipf("the 10 ms sleep took %v: machine too loaded", time.Since(start))
			}
			if n != 2 || err != nil {
				t.Fatalf("Wait = %d, %v; want 2, nil", n, err)
			}
			if w.calls != 3 {
				t.Fatalf("%d kernel calls, want 3", w.calls)
			}
			if n := ctx.Activity.PollIO.Load(); n != 1 {
				t.Errorf("poll_io = %d, want 1 (EINTR is not an event)", n)
			}
			first, second, third := w.timeouts[0], w.timeouts[1], w.timeouts[2]
			if first != 900 && first != 901 {
				t.Errorf("first timeout %d, want 901 (900 if the clock moved)", first)
			}
			// 10 ms were spent in the first wait.
			if second < 1 || second > first-10 {
				t.Errorf("timeout after 10 ms of EINTR'd wait: %d, want in [1, %d]", second, first-10)
			}
			if third < 1 || third > second {
				t.Errorf("timeout after an immediate EINTR: %d, want in [1, %d]", third, second)
			}
		})
	}
}

// A signal storm ends once the deadline has passed, not before.
func TestWaitEINTRStorm(t *testing.T) {
	for _, e := range eintrErrors {
		t.Run(e.name, func(t *testing.T) {
			ctx := newTestContext(t, 0)
			const requested = 30
			w := &fakeWaiter{t: t, script: []call{{err: e.err}}}
			start := time.Now()
			exp := ctx.UpdateTime().Add(requested)
			n, err := ctx.Wait(w, exp, false, false)
			elapsed := time.Since(start)
			if n != 0 || err != nil {
				t.Fatalf("Wait = %d, %v; want 0, nil", n, err)
			}
			if elapsed < requested*time.Millisecond {
				t.Errorf("storm ended after %v, before the %d ms timeout", elapsed, requested)
			}
			if elapsed > 5*time.Second {
				t.Errorf("storm lasted %v for a %d ms timeout", elapsed, requested)
			}
			if !exp.IsExpired(ctx.Now()) {
				t.Errorf("returned with Now() %#x before exp %#x", uint32(ctx.Now()), uint32(exp))
			}
			if w.calls < 2 {
				t.Errorf("%d kernel calls, want retries", w.calls)
			}
			if w.minT < 1 || w.maxT > requested+1 {
				t.Errorf("timeouts in [%d, %d], want within [1, %d]", w.minT, w.maxT, requested+1)
			}
			for i := 1; i < len(w.timeouts); i++ {
				if w.timeouts[i] > w.timeouts[i-1] {
					t.Fatalf("retry %d waited %d ms after %d ms: the deadline moved", i, w.timeouts[i], w.timeouts[i-1])
				}
			}
			if n := ctx.Activity.PollIO.Load(); n != 0 {
				t.Errorf("poll_io = %d, want 0", n)
			}
		})
	}
}

func TestWaitEINTRSignalPending(t *testing.T) {
	for _, busy := range []bool{false, true} {
		ctx := newTestContext(t, 0)
		ctx.BusyPolling.Store(busy)
		ctx.SignalPending = func() bool { return true }
		w := &fakeWaiter{t: t, script: []call{{err: unix.EINTR}}, maxCalls: 100}
		start := time.Now()
		n, err := ctx.Wait(w, Eternity, false, busy)
		if n != 0 || err != nil || w.calls != 1 {
			t.Errorf("busy=%v: Wait = %d, %v after %d calls; want 0, nil after 1", busy, n, err, w.calls)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("returned after %v with a signal pending", d)
		}
	}
}

// With wake set, an interrupted zero-timeout wait is retried, so the cycle
// really polls once; a signal storm ends it after a bounded number of
// tries, with no error.
func TestWaitEINTRWake(t *testing.T) {
	ctx := newTestContext(t, 0)
	w := &fakeWaiter{t: t, script: []call{{err: unix.EINTR}, {n: 2}}, maxCalls: 100}
	if n, err := ctx.Wait(w, Eternity, true, false); n != 2 || err != nil || w.calls != 2 || w.maxT != 0 {
		t.Errorf("Wait = %d, %v after %d calls (max timeout %d); want 2, nil after 2 zero-timeout calls", n, err, w.calls, w.maxT)
	}
	storm := &fakeWaiter{t: t, script: []call{{err: unix.EINTR}}, maxCalls: 100}
	if n, err := ctx.Wait(storm, Eternity, true, false); n != 0 || err != nil || storm.calls != maxZeroRetries {
		t.Errorf("under a storm Wait = %d, %v after %d calls; want 0, nil after %d", n, err, storm.calls, maxZeroRetries)
	}
}

// A per-fd failure reported with FailFD makes the next wait a zero-timeout
// one and is delivered to the fd's owner as an error event after it.
func TestWaitDeliversFailedFD(t *testing.T) {
	ctx := newTestContext(t, 0)
	tab := ctx.Table
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	var got []fdtable.State
	if err := ctx.Thread.Insert(p[0], nil, func(fd int, _ any) { got = append(got, tab.Info(fd).Ev) }, ctx.Thread.Bit()); err != nil {
		t.Fatal(err)
	}
	if err := ctx.Thread.WantRecv(p[0]); err != nil {
		t.Fatal(err)
	}
	var logged []error
	ctx.OnFDError = func(fd int, err error) { logged = append(logged, err) }
	ctx.FailFD(p[0], tab.Info(p[0]).Gen, unix.EPERM)
	ctx.FailFD(p[0], tab.Info(p[0]).Gen-1, unix.EPERM) // an older generation: not delivered
	w := &fakeWaiter{t: t, script: []call{{}}, maxCalls: 10}
	if _, err := ctx.Wait(w, Eternity, false, false); err != nil {
		t.Fatal(err)
	}
	if w.maxT != 0 {
		t.Errorf("wait timeout %d with a failure pending, want 0", w.maxT)
	}
	if len(got) != 1 || got[0]&fdtable.ErrRW == 0 {
		t.Errorf("owner saw %v, want one error event", got)
	}
	if len(logged) != 1 || !errors.Is(logged[0], unix.EPERM) {
		t.Errorf("OnFDError got %v, want one EPERM", logged)
	}
	if n := ctx.Activity.PollErrFD.Load(); n != 2 {
		t.Errorf("poll_err_fd = %d, want 2", n)
	}
	if _, err := ctx.Wait(w, Eternity, true, false); err != nil || len(got) != 1 {
		t.Errorf("second wait: %v, owner calls %d; want the failure delivered once", err, len(got))
	}
}

// Reference §7.3 and §15 F51: busy polling spins on zero timeouts until an
// event.
func TestWaitBusyUntilEvent(t *testing.T) {
	ctx := newTestContext(t, 0)
	ctx.BusyPolling.Store(true)
	w := &fakeWaiter{t: t, script: []call{{}, {}, {}, {}, {err: unix.EINTR}, {}, {n: 4}}}
	n, err := ctx.Wait(w, Eternity, false, true)
	if n != 4 || err != nil {
		t.Fatalf("Wait = %d, %v; want 4, nil", n, err)
	}
	if w.calls != 7 || w.maxT != 0 {
		t.Errorf("timeouts %v, want seven zeros", w.timeouts)
	}
	if n := ctx.Activity.PollIO.Load(); n != 1 {
		t.Errorf("poll_io = %d, want 1", n)
	}
}

func TestWaitBusyUntilSignal(t *testing.T) {
	ctx := newTestContext(t, 0)
	ctx.BusyPolling.Store(true)
	var pending atomic.Bool
	ctx.SignalPending = pending.Load
	w := &fakeWaiter{t: t, script: []call{{}}}
	w.onCall = func(i int) {
		if i == 2 {
			pending.Store(true)
		}
	}
	n, err := ctx.Wait(w, ctx.UpdateTime().Add(500), false, true)
	if n != 0 || err != nil {
		t.Fatalf("Wait = %d, %v", n, err)
	}
	if w.calls != 3 || w.maxT != 0 {
		t.Errorf("timeouts %v, want three zeros", w.timeouts)
	}
}

func TestWaitBusyUntilExpiry(t *testing.T) {
	ctx := newTestContext(t, 0)
	ctx.BusyPolling.Store(true)
	w := &fakeWaiter{t: t, script: []call{{}}}
	start := time.Now()
	exp := ctx.UpdateTime().Add(5)
	pollExp := ctx.Activity.PollExp.Load()
	n, err := ctx.Wait(w, exp, false, true)
	elapsed := time.Since(start)
	if n != 0 || err != nil {
		t.Fatalf("Wait = %d, %v", n, err)
	}
	if !exp.IsExpired(ctx.Now()) {
		t.Errorf("busy loop ended at %#x before exp %#x", uint32(ctx.Now()), uint32(exp))
	}
	if elapsed < 4*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("busy loop lasted %v for a 5 ms timer", elapsed)
	}
	if w.calls < 2 || w.maxT != 0 {
		t.Errorf("%d calls, max timeout %d; want several zero-timeout calls", w.calls, w.maxT)
	}
	if ctx.Activity.PollExp.Load() != pollExp {
		t.Errorf("poll_exp counted for a future timer")
	}
}

// The busy loop stops as soon as the clock reads exp, not at the real-time
// deadline computed from the timeout: here the tick clock jumps while real
// time hardly moves.
func TestWaitBusyStopsAtExp(t *testing.T) {
	ctx := newTestContext(t, 0)
	ctx.BusyPolling.Store(true)
	w := &fakeWaiter{t: t, script: []call{{}}}
	w.onCall = func(i int) {
		if i == 3 {
			ctx.Clock.Advance(1000)
		}
	}
	exp := ctx.UpdateTime().Add(500)
	if n, err := ctx.Wait(w, exp, false, true); n != 0 || err != nil {
		t.Fatalf("Wait = %d, %v", n, err)
	}
	if w.calls != 4 || w.maxT != 0 {
		t.Errorf("timeouts %v, want four zeros (exp passed during the fourth)", w.timeouts)
	}
}

// busy=false (poll, select) ignores BusyPolling; BusyPolling off ignores
// busy=true.
func TestWaitBusyIgnored(t *testing.T) {
	for _, tt := range []struct{ option, busy bool }{{true, false}, {false, true}} {
		ctx := newTestContext(t, 0)
		ctx.BusyPolling.Store(tt.option)
		w := &fakeWaiter{t: t, script: []call{{}}}
		if _, err := ctx.Wait(w, Eternity, false, tt.busy); err != nil {
			t.Fatal(err)
		}
		if w.calls != 1 || w.timeouts[0] != 1000 {
			t.Errorf("BusyPolling %v, busy %v: timeouts %v, want [1000]", tt.option, tt.busy, w.timeouts)
		}
	}
}

// eventWaiter always returns n events, recording nothing.
type eventWaiter struct{ n int }

func (w *eventWaiter) KernelWait(int) (int, error) { return w.n, nil }

func TestWaitAllocs(t *testing.T) {
	ctx := newTestContext(t, 0)
	ctx.SignalPending = func() bool { return false }
	w := &eventWaiter{n: 3}
	exp := ctx.UpdateTime().Add(100)
	allocs := testing.AllocsPerRun(200, func() {
		if n, err := ctx.Wait(w, exp, false, false); n != 3 || err != nil {
			t.Fatalf("Wait = %d, %v", n, err)
		}
	})
	if allocs != 0 {
		t.Errorf("Wait allocates %v times per call", allocs)
	}
	ctx.BusyPolling.Store(true)
	allocs = testing.AllocsPerRun(200, func() { _, _ = ctx.Wait(w, exp, false, true) })
	if allocs != 0 {
		t.Errorf("busy Wait allocates %v times per call", allocs)
	}
}

func TestComputeTimeoutAllocs(t *testing.T) {
	ctx := newTestContext(t, 0)
	exps := []Tick{Eternity, ctx.UpdateTime().Add(10), ctx.UpdateTime().Add(-10), ctx.UpdateTime().Add(5000)}
	allocs := testing.AllocsPerRun(200, func() {
		for _, e := range exps {
			ctx.computeTimeout(e)
		}
	})
	if allocs != 0 {
		t.Errorf("computeTimeout allocates %v times per call", allocs)
	}
}
