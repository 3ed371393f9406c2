package poll

import (
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	"golang.org/x/sys/unix"
)

// TestOPath: an open fd that poll(2) cannot watch (O_PATH: POLLNVAL) is
// reported once as an error and never makes poll spin.
func TestOPath(t *testing.T) {
	e := newEnv(t)
	fd, err := unix.Open("/", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("open O_PATH: %v", err)
	}
	defer unix.Close(fd)
	var calls int
	var ev fdtable.State
	e.Insert(fd, func(fd int, _ any) { calls++; ev = e.Tab.Info(fd).Ev })
	defer e.Th.Remove(fd)
	e.Th.WantRecv(fd)
	e.Th.CantRecv(fd)
	e.Poll(poller.Eternity, true)
	if calls != 1 || ev&fdtable.ErrRW == 0 {
		t.Errorf("iocb calls = %d with ev %v, want 1 with ERR", calls, ev)
	}
	for i := 0; i < 2; i++ {
		start := time.Now()
		e.Poll(e.Ctx.UpdateTime().Add(20), false)
		if el := time.Since(start); el < 20*time.Millisecond || calls != 1 {
			t.Errorf("cycle %d took %v with %d iocb calls; want a normal wait", i, el, calls)
		}
	}
}
