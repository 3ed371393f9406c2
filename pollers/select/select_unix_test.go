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

// TestBadFD: an fd closed behind the table's back makes select fail with
// EBADF; the instance reports it to its owner, counts it and drops it, so
// the next cycle waits normally.
func TestBadFD(t *testing.T) {
	e := newEnv(t, SetSize)
	a, _ := e.Pair()
	b, b2 := e.Pair()
	var calls int
	var ev fdtable.State
	e.Insert(a, func(fd int, _ any) { calls++; ev = e.Tab.Info(fd).Ev })
	var bcalls int
	e.Insert(b, func(int, any) { bcalls++ })
	for _, fd := range []int{a, b} {
		e.Th.WantRecv(fd)
		e.Th.CantRecv(fd)
	}
	e.Poll(poller.Eternity, true)
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
		t.Errorf("closed fd polled = %v, %v, want dropped", r, s)
	}
	start := time.Now()
	e.Poll(e.Ctx.UpdateTime().Add(30), false)
	if el := time.Since(start); el < 30*time.Millisecond || calls != 1 {
		t.Errorf("next cycle took %v with %d iocb calls; want a normal wait", el, calls)
	}
	// The other fd still works.
	unix.Write(b2, []byte{1})
	e.Poll(e.Ctx.UpdateTime().Add(1000), false)
	if bcalls != 1 {
		t.Errorf("iocb calls on the healthy fd = %d, want 1", bcalls)
	}
	e.Th.Remove(a)
}

func TestAllocs(t *testing.T) {
	e := newEnv(t, SetSize)
	var buf [1]byte
	var peers []int
	for i := 0; i < 4; i++ {
		a, b := e.Pair()
		e.Insert(a, func(fd int, _ any) {
			unix.Read(fd, buf[:])
			e.Th.CantRecv(fd)
		})
		e.Th.WantRecv(a)
		e.Th.CantRecv(a)
		peers = append(peers, b)
	}
	e.Poll(poller.Eternity, true)
	got := testing.AllocsPerRun(200, func() {
		for _, b := range peers {
			unix.Write(b, buf[:])
		}
		if err := e.P.Poll(e.Ctx.UpdateTime().Add(100), false); err != nil {
			t.Fatal(err)
		}
	})
	if got != 0 {
		t.Errorf("allocations per poll cycle = %v, want 0", got)
	}
	if d := e.Ctx.Activity.PollIO.Load(); d < 200 {
		t.Errorf("poll_io = %d after 200 cycles with events", d)
	}
}

func TestMaxEventsFair(t *testing.T) {
	const n, max = 10, 4
	e := newEnv(t, SetSize, func(c *poller.Context) { c.MaxEvents = max })
	calls := map[int]int{}
	for i := 0; i < n; i++ {
		a, b := e.Pair()
		e.Insert(a, func(fd int, _ any) { calls[fd]++ }) // never drained
		e.Th.WantRecv(a)
		e.Th.CantRecv(a)
		unix.Write(b, []byte{1})
	}
	total := 0
	for cycle := 0; cycle < 5; cycle++ {
		e.Poll(e.Ctx.UpdateTime().Add(100), false)
		sum := 0
		for _, c := range calls {
			sum += c
		}
		if sum-total != max {
			t.Errorf("cycle %d dispatched %d events, want %d", cycle, sum-total, max)
		}
		total = sum
	}
	for fd, c := range calls {
		if c != 2 {
			t.Errorf("fd %d dispatched %d times in 5 cycles, want 2", fd, c)
		}
	}
	if len(calls) != n {
		t.Errorf("%d fds dispatched, want %d", len(calls), n)
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

func TestClosed(t *testing.T) {
	e := newEnv(t, SetSize)
	if err := e.P.Fork(); err != nil {
		t.Errorf("Fork: %v", err)
	}
	e.P.Close()
	if err := e.P.Close(); err != nil {
		t.Errorf("second Term: %v", err)
	}
	if err := e.P.Poll(poller.Eternity, true); !errors.Is(err, poller.ErrClosed) {
		t.Errorf("Poll after Term = %v, want ErrClosed", err)
	}
	if _, err := e.P.Registered(); !errors.Is(err, poller.ErrClosed) {
		t.Errorf("Registered after Term = %v, want ErrClosed", err)
	}
	if e.P.Flags() != 0 {
		t.Errorf("Flags = %v, want 0", e.P.Flags())
	}
}

// TestTermFromIOCB: an iocb may terminate its own poller mid-dispatch.
func TestTermFromIOCB(t *testing.T) {
	e := newEnv(t, SetSize)
	for i := 0; i < 3; i++ {
		a, b := e.Pair()
		e.Insert(a, func(int, any) { e.P.Close() })
		e.Th.WantRecv(a)
		e.Th.CantRecv(a)
		unix.Write(b, []byte{1})
	}
	if err := e.P.Poll(e.Ctx.UpdateTime().Add(1000), false); err != nil {
		t.Errorf("Poll during which an iocb ran Term = %v", err)
	}
	if err := e.P.Poll(poller.Eternity, true); !errors.Is(err, poller.ErrClosed) {
		t.Errorf("next Poll = %v, want ErrClosed", err)
	}
}
