//go:build unix

package selectpoll

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/internal/testenv"
	"github.com/evpoll/evpoll/poller"
	"golang.org/x/sys/unix"
)

type env = testenv.Env[*Poller]

// newEnv builds an instance over a table of size fds; sizes beyond
// FD_SETSIZE bypass New's check, to test the per-fd refusal.
func newEnv(t *testing.T, size int, setup ...func(*poller.Context)) *env {
	t.Helper()
	return testenv.New(t, size, newPoller, setup...)
}

func TestTableLimit(t *testing.T) {
	for _, tt := range []struct {
		size int
		ok   bool
	}{{16, true}, {SetSize, true}, {SetSize + 1, false}, {1 << 20, false}} {
		tab := fdtable.New(tt.size)
		err := Backend.Test(tab)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrFDSetSize)) {
			t.Errorf("Test(table of %d) = %v, want ok %v", tt.size, err, tt.ok)
		}
		th, _ := tab.NewThread(0)
		p, err := New(poller.NewContext(th))
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrFDSetSize)) {
			t.Errorf("New(table of %d) = %v, want ok %v", tt.size, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), strconv.Itoa(tt.size)) {
			t.Errorf("error %q does not name the table size %d", err, tt.size)
		}
		if p != nil {
			p.Close()
		}
	}
}

// TestRefuseBeyondSetSize: an fd at or above FD_SETSIZE is refused when it
// would be registered: Poll succeeds, the fd's owner gets an error event
// and the error naming the fd is reported, nothing is written past the
// fd_set, and the refusal is not repeated every cycle.
func TestRefuseBeyondSetSize(t *testing.T) {
	e := newEnv(t, 2*SetSize)
	a, _ := e.Pair()
	big := SetSize + 100
	if err := unix.Dup2(a, big); err != nil {
		t.Skipf("dup2 to fd %d: %v", big, err)
	}
	defer unix.Close(big)
	var calls int
	var ev fdtable.State
	e.Insert(big, func(fd int, _ any) { calls++; ev = e.Tab.Info(fd).Ev })
	defer e.Th.Remove(big)
	e.Th.WantRecv(big)
	e.Th.CantRecv(big)
	var err error
	e.Ctx.OnFDError = func(_ int, e error) { err = e }
	if perr := e.P.Poll(poller.Eternity, false); perr != nil { // must not wait: the error is due
		t.Errorf("Poll = %v, want nil: the failure is the fd's", perr)
	}
	if !errors.Is(err, ErrFDSetSize) || !strings.Contains(err.Error(), "fd "+strconv.Itoa(big)) {
		t.Errorf("fd error %v, want an ErrFDSetSize error naming fd %d", err, big)
	}
	if calls != 1 || ev&fdtable.ErrRW == 0 {
		t.Errorf("iocb calls = %d with ev %v, want 1 with ERR", calls, ev)
	}
	if r, s := e.Polled(big); r || s {
		t.Errorf("refused fd polled = %v, %v", r, s)
	}
	if e.P.sets.maxfd != 0 || e.P.sets.nrd != 0 || len(e.P.sets.gens) > SetSize {
		t.Errorf("sets changed: maxfd %d, %d in read set, %d gens", e.P.sets.maxfd, e.P.sets.nrd, len(e.P.sets.gens))
	}
	// The refusal must not repeat or spin.
	start := time.Now()
	if err := e.P.Poll(e.Ctx.UpdateTime().Add(20), false); err != nil {
		t.Errorf("second Poll = %v, want nil", err)
	}
	if el := time.Since(start); el < 20*time.Millisecond || calls != 1 {
		t.Errorf("second cycle took %v with %d iocb calls; want a normal wait, no new event", el, calls)
	}
}

// TestMaxfdFollowsRegistrations: nfds shrinks when the top fds leave.
func TestMaxfdFollowsRegistrations(t *testing.T) {
	e := newEnv(t, SetSize)
	a, _ := e.Pair()
	b, _ := e.Pair()
	lo, hi := min(a, b), max(a, b)
	e.Insert(lo, nil)
	e.Insert(hi, nil)
	e.Th.WantRecv(lo)
	e.Th.WantRecv(hi)
	e.Poll(poller.Eternity, true)
	if e.P.sets.maxfd != hi+1 {
		t.Fatalf("maxfd = %d, want %d", e.P.sets.maxfd, hi+1)
	}
	e.Th.Delete(hi)
	e.Poll(poller.Eternity, true)
	if e.P.sets.maxfd != lo+1 {
		t.Errorf("maxfd after deleting the top fd = %d, want %d", e.P.sets.maxfd, lo+1)
	}
}
