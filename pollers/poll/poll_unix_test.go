//go:build unix

package poll

import (
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/internal/testenv"
	"github.com/evpoll/evpoll/poller"
	"golang.org/x/sys/unix"
)

type env = testenv.Env[*Poller]

func newEnv(t *testing.T, setup ...func(*poller.Context)) *env {
	t.Helper()
	return testenv.New(t, 4096, New, setup...)
}

// TestPOLLNVAL: an fd closed behind the table's back is reported to its
// owner as an error, counted, and dropped, so the next cycle sleeps
// instead of returning at once (quirk Q5).
func TestPOLLNVAL(t *testing.T) {
	e := newEnv(t)
	a, _ := e.Pair()
	var calls int
	var ev fdtable.State
	e.Insert(a, func(fd int, _ any) { calls++; ev = e.Tab.Info(fd).Ev })
	e.Th.WantRecv(a)
	e.Th.CantRecv(a)
	e.Poll(poller.Eternity, true)
	if r, _ := e.Polled(a); !r {
		t.Fatalf("fd %d not polled after want recv", a)
	}
	if err := unix.Close(a); err != nil {
		t.Fatal(err)
	}
	e.Poll(e.Ctx.UpdateTime().Add(1000), false)
	if calls != 1 || ev&fdtable.ErrRW == 0 {
		t.Errorf("iocb calls = %d with ev %v, want 1 with ERR", calls, ev)
	}
	if got := e.Ctx.Activity.PollDeadFD.Load(); got != 1 {
		t.Errorf("poll_dead_fd = %d, want 1", got)
	}
	if r, s := e.Polled(a); r || s {
		t.Errorf("polled = %v, %v after POLLNVAL, want dropped", r, s)
	}
	if e.P.arr.len() != 0 {
		t.Errorf("array still holds %d entries", e.P.arr.len())
	}
	start := time.Now()
	waits := e.P.KernelWaits()
	e.Poll(e.Ctx.UpdateTime().Add(30), false)
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Errorf("next cycle returned after %v: the closed fd still wakes poll", el)
	}
	if got := e.P.KernelWaits() - waits; got != 1 {
		t.Errorf("next cycle made %d kernel waits, want 1", got)
	}
	if calls != 1 {
		t.Errorf("iocb calls = %d after the next cycle, want 1", calls)
	}
	// Wanting it again does not bring it back: it is still closed.
	e.Th.StopRecv(a)
	e.Th.WantRecv(a)
	start = time.Now()
	e.Poll(e.Ctx.UpdateTime().Add(30), false)
	if el := time.Since(start); el < 30*time.Millisecond || calls != 1 {
		t.Errorf("after want recv again: cycle took %v with %d iocb calls; the closed fd is polled again", el, calls)
	}
	// A new user of the number (a new generation) is polled as usual.
	e.Th.Remove(a)
	c, c2 := e.Pair() // a is free: usually c == a
	if c != a {
		if err := unix.Dup2(c, a); err != nil {
			t.Fatal(err)
		}
		defer unix.Close(a)
	}
	e.Insert(a, func(int, any) { calls++ })
	e.Th.WantRecv(a)
	e.Th.CantRecv(a)
	unix.Write(c2, []byte{1})
	e.Poll(e.Ctx.UpdateTime().Add(1000), false)
	if r, _ := e.Polled(a); !r || calls != 2 {
		t.Errorf("reused fd %d: polled %v, iocb calls %d; want polled and called", a, r, calls)
	}
	e.Th.Remove(a)
}

// TestMigratedOnUpdate: an update applied after the fd moved to another
// thread (it was queued before the move) drops the fd from this instance
// and counts it as skipped.
func TestMigratedOnUpdate(t *testing.T) {
	e := newEnv(t)
	a, _ := e.Pair()
	th1, err := e.Tab.NewThread(1)
	if err != nil {
		t.Fatal(err)
	}
	e.Insert(a, nil)
	e.Th.WantRecv(a)
	e.Poll(poller.Eternity, true)
	if r, _ := e.Polled(a); !r {
		t.Fatal("not polled after want recv")
	}
	if err := th1.Takeover(a, e.Tab.Info(a).Gen); err != nil {
		t.Fatal(err)
	}
	e.P.UpdateFD(fdtable.Update{FD: a, Gen: e.Tab.Info(a).Gen, State: e.Tab.State(a), PolledRecv: true})
	if e.P.arr.len() != 0 {
		t.Errorf("migrated fd still in the array")
	}
	if r, s := e.Polled(a); r || s {
		t.Errorf("polled = %v, %v for a migrated fd, want dropped", r, s)
	}
	if got := e.Ctx.Activity.PollSkipFD.Load(); got != 1 {
		t.Errorf("poll_skip_fd = %d, want 1", got)
	}
}
