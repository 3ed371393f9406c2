//go:build unix

package poll

import (
	"errors"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	"golang.org/x/sys/unix"
)

type env struct {
	t   *testing.T
	tab *fdtable.Table
	th  *fdtable.Thread
	ctx *poller.Context
	p   *Poller
}

func newEnv(t *testing.T, setup ...func(*poller.Context)) *env {
	t.Helper()
	tab := fdtable.New(4096)
	th, err := tab.NewThread(0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := poller.NewContext(th)
	for _, f := range setup {
		f(ctx)
	}
	p, err := New(ctx)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { p.Term() })
	return &env{t, tab, th, ctx, p}
}

// pair returns a non-blocking socket pair, closed at cleanup unless the
// table still holds it (then it is deleted).
func (e *env) pair() (a, b int) {
	e.t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		e.t.Fatalf("socketpair: %v", err)
	}
	for _, fd := range fds {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			e.t.Fatalf("set non-blocking: %v", err)
		}
	}
	e.t.Cleanup(func() {
		for _, fd := range fds {
			if e.tab.IsOpen(fd) {
				e.th.Remove(fd)
			}
			unix.Close(fd)
		}
	})
	return fds[0], fds[1]
}

func (e *env) insert(fd int, iocb fdtable.IOCB) {
	e.t.Helper()
	if err := e.th.Insert(fd, nil, iocb, e.th.Bit()); err != nil {
		e.t.Fatalf("Insert(%d): %v", fd, err)
	}
}

func (e *env) poll(exp poller.Tick, wake bool) {
	e.t.Helper()
	if err := e.p.Poll(exp, wake); err != nil {
		e.t.Fatalf("Poll: %v", err)
	}
}

func (e *env) polled(fd int) (recv, send bool) {
	r, s := e.tab.Polled(fd)
	return r&e.th.Bit() != 0, s&e.th.Bit() != 0
}

// TestPOLLNVAL: an fd closed behind the table's back is reported to its
// owner as an error, counted, and dropped, so the next cycle sleeps
// instead of returning at once (quirk Q5).
func TestPOLLNVAL(t *testing.T) {
	e := newEnv(t)
	a, _ := e.pair()
	var calls int
	var ev fdtable.PollEv
	e.insert(a, func(fd int, _ any) { calls++; ev = e.tab.Ev(fd) })
	e.th.WantRecv(a)
	e.th.CantRecv(a)
	e.poll(poller.Eternity, true)
	if r, _ := e.polled(a); !r {
		t.Fatalf("fd %d not polled after want recv", a)
	}
	if err := unix.Close(a); err != nil {
		t.Fatal(err)
	}
	e.poll(e.ctx.UpdateTime().Add(1000), false)
	if calls != 1 || ev&fdtable.PollErr == 0 {
		t.Errorf("iocb calls = %d with ev %v, want 1 with ERR", calls, ev)
	}
	if got := e.ctx.Activity.PollDeadFD.Load(); got != 1 {
		t.Errorf("poll_dead_fd = %d, want 1", got)
	}
	if r, s := e.polled(a); r || s {
		t.Errorf("polled = %v, %v after POLLNVAL, want dropped", r, s)
	}
	if e.p.arr.len() != 0 {
		t.Errorf("array still holds %d entries", e.p.arr.len())
	}
	start := time.Now()
	waits := e.p.KernelWaits()
	e.poll(e.ctx.UpdateTime().Add(30), false)
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Errorf("next cycle returned after %v: the closed fd still wakes poll", el)
	}
	if got := e.p.KernelWaits() - waits; got != 1 {
		t.Errorf("next cycle made %d kernel waits, want 1", got)
	}
	if calls != 1 {
		t.Errorf("iocb calls = %d after the next cycle, want 1", calls)
	}
	// Wanting it again does not bring it back: it is still closed.
	e.th.StopRecv(a)
	e.th.WantRecv(a)
	start = time.Now()
	e.poll(e.ctx.UpdateTime().Add(30), false)
	if el := time.Since(start); el < 30*time.Millisecond || calls != 1 {
		t.Errorf("after want recv again: cycle took %v with %d iocb calls; the closed fd is polled again", el, calls)
	}
	// A new user of the number (a new generation) is polled as usual.
	e.th.Remove(a)
	c, c2 := e.pair() // a is free: usually c == a
	if c != a {
		if err := unix.Dup2(c, a); err != nil {
			t.Fatal(err)
		}
		defer unix.Close(a)
	}
	e.insert(a, func(int, any) { calls++ })
	e.th.WantRecv(a)
	e.th.CantRecv(a)
	unix.Write(c2, []byte{1})
	e.poll(e.ctx.UpdateTime().Add(1000), false)
	if r, _ := e.polled(a); !r || calls != 2 {
		t.Errorf("reused fd %d: polled %v, iocb calls %d; want polled and called", a, r, calls)
	}
	e.th.Remove(a)
}

// TestMaxEventsFair: with more fds always ready than MaxEvents, every
// cycle dispatches MaxEvents of them and successive cycles go round all
// of them, so none starves.
func TestMaxEventsFair(t *testing.T) {
	const n, max = 10, 4
	e := newEnv(t, func(c *poller.Context) { c.MaxEvents = max })
	calls := map[int]int{}
	for i := 0; i < n; i++ {
		a, b := e.pair()
		e.insert(a, func(fd int, _ any) { calls[fd]++ }) // never drained
		e.th.WantRecv(a)
		e.th.CantRecv(a)
		if _, err := unix.Write(b, []byte{1}); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for cycle := 0; cycle < 5; cycle++ {
		e.poll(e.ctx.UpdateTime().Add(100), false)
		sum := 0
		for _, c := range calls {
			sum += c
		}
		if sum-total != max {
			t.Errorf("cycle %d dispatched %d events, want %d", cycle, sum-total, max)
		}
		total = sum
	}
	// 5 cycles of 4 = 20 events over 10 fds: each exactly twice.
	if len(calls) != n {
		t.Errorf("%d fds were dispatched, want all %d", len(calls), n)
	}
	for fd, c := range calls {
		if c != 2 {
			t.Errorf("fd %d dispatched %d times in 5 cycles, want 2", fd, c)
		}
	}
}

// TestAllocs: a poll cycle with events allocates nothing.
func TestAllocs(t *testing.T) {
	e := newEnv(t)
	var buf [1]byte
	var peers []int
	for i := 0; i < 4; i++ {
		a, b := e.pair()
		e.insert(a, func(fd int, _ any) {
			unix.Read(fd, buf[:])
			e.th.CantRecv(fd)
		})
		e.th.WantRecv(a)
		e.th.CantRecv(a)
		peers = append(peers, b)
	}
	e.poll(poller.Eternity, true)
	got := testing.AllocsPerRun(200, func() {
		for _, b := range peers {
			unix.Write(b, buf[:])
		}
		if err := e.p.Poll(e.ctx.UpdateTime().Add(100), false); err != nil {
			t.Fatal(err)
		}
	})
	if got != 0 {
		t.Errorf("allocations per poll cycle = %v, want 0", got)
	}
	if d := e.ctx.Activity.PollIO.Load(); d < 200 {
		t.Errorf("poll_io = %d after 200 cycles with events", d)
	}
}

// TestMigratedOnUpdate: an update applied after the fd moved to another
// thread (it was queued before the move) drops the fd from this instance
// and counts it as skipped.
func TestMigratedOnUpdate(t *testing.T) {
	e := newEnv(t)
	a, _ := e.pair()
	th1, err := e.tab.NewThread(1)
	if err != nil {
		t.Fatal(err)
	}
	e.insert(a, nil)
	e.th.WantRecv(a)
	e.poll(poller.Eternity, true)
	if r, _ := e.polled(a); !r {
		t.Fatal("not polled after want recv")
	}
	if err := th1.Takeover(a, e.tab.Gen(a)); err != nil {
		t.Fatal(err)
	}
	e.p.mu.Lock()
	e.p.UpdateFD(a)
	e.p.mu.Unlock()
	if e.p.arr.len() != 0 {
		t.Errorf("migrated fd still in the array")
	}
	if r, s := e.polled(a); r || s {
		t.Errorf("polled = %v, %v for a migrated fd, want dropped", r, s)
	}
	if got := e.ctx.Activity.PollSkipFD.Load(); got != 1 {
		t.Errorf("poll_skip_fd = %d, want 1", got)
	}
}

func TestClosed(t *testing.T) {
	e := newEnv(t)
	if err := e.p.Fork(); err != nil {
		t.Errorf("Fork: %v", err)
	}
	if err := e.p.Term(); err != nil {
		t.Errorf("Term: %v", err)
	}
	for name, err := range map[string]error{
		"Poll": e.p.Poll(poller.Eternity, true),
		"Fork": e.p.Fork(),
	} {
		if !errors.Is(err, poller.ErrClosed) {
			t.Errorf("%s after Term = %v, want ErrClosed", name, err)
		}
	}
	if _, err := e.p.Registered(); !errors.Is(err, poller.ErrClosed) {
		t.Errorf("Registered after Term = %v, want ErrClosed", err)
	}
	if _, err := New(nil); err == nil {
		t.Errorf("New(nil) succeeded")
	}
}

// TestTermFromIOCB: an iocb may terminate its own poller mid-dispatch.
func TestTermFromIOCB(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 3; i++ {
		a, b := e.pair()
		e.insert(a, func(int, any) { e.p.Term() })
		e.th.WantRecv(a)
		e.th.CantRecv(a)
		unix.Write(b, []byte{1})
	}
	if err := e.p.Poll(e.ctx.UpdateTime().Add(1000), false); err != nil {
		t.Errorf("Poll during which an iocb ran Term = %v", err)
	}
	if err := e.p.Poll(poller.Eternity, true); !errors.Is(err, poller.ErrClosed) {
		t.Errorf("next Poll = %v, want ErrClosed", err)
	}
}
