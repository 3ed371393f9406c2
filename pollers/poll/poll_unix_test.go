//go:build unix

package poll

import (
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/internal/testenv"
	"github.com/evpoll/evpoll/poller"
)

type env = testenv.Env[*Poller]

func newEnv(t *testing.T, setup ...func(*poller.Context)) *env {
	t.Helper()
	return testenv.New(t, 4096, New, setup...)
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
