//go:build unix

package userset_test

import (
	"errors"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/internal/testenv"
	"github.com/evpoll/evpoll/poller"
	"github.com/evpoll/evpoll/pollers/poll"
	selectpoll "github.com/evpoll/evpoll/pollers/select"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The behaviour Base gives poll and select alike, tested once over both.

type env = testenv.Env[poller.Poller]

// backends are the user-space backends built on Base, each with a
// constructor returning the plain interface. Tables are sized for select.
var backends = []struct {
	name string
	newP func(*poller.Context) (poller.Poller, error)
}{
	{"poll", func(ctx *poller.Context) (poller.Poller, error) { return poll.New(ctx) }},
	{"select", func(ctx *poller.Context) (poller.Poller, error) { return selectpoll.New(ctx) }},
}

func eachBackend(t *testing.T, f func(t *testing.T, newEnv func(setup ...func(*poller.Context)) *env)) {
	for _, b := range backends {
		t.Run("backend="+b.name, func(t *testing.T) {
			f(t, func(setup ...func(*poller.Context)) *env {
				return testenv.New(t, selectpoll.SetSize, b.newP, setup...)
			})
		})
	}
}

// TestAllocs: a poll cycle with events allocates nothing.
func TestAllocs(t *testing.T) {
	eachBackend(t, func(t *testing.T, newEnv func(...func(*poller.Context)) *env) {
		e := newEnv()
		var buf [1]byte
		var peers []int
		for range 4 {
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
		assert.Zero(t, got, "allocations per poll cycle")
		assert.GreaterOrEqual(t, e.Ctx.Activity.PollIO.Load(), uint32(200), "poll_io after 200 cycles with events")
	})
}

// TestMaxEventsFair: with more fds always ready than MaxEvents, every
// cycle dispatches MaxEvents of them and successive cycles go round all
// of them, so none starves.
func TestMaxEventsFair(t *testing.T) {
	const n, max = 10, 4
	eachBackend(t, func(t *testing.T, newEnv func(...func(*poller.Context)) *env) {
		e := newEnv(func(c *poller.Context) { c.MaxEvents = max })
		calls := map[int]int{}
		for range n {
			a, b := e.Pair()
			e.Insert(a, func(fd int, _ any) { calls[fd]++ }) // never drained
			e.Th.WantRecv(a)
			e.Th.CantRecv(a)
			_, err := unix.Write(b, []byte{1})
			require.NoError(t, err)
		}
		total := 0
		for cycle := range 5 {
			e.Poll(e.Ctx.UpdateTime().Add(100), false)
			sum := 0
			for _, c := range calls {
				sum += c
			}
			assert.Equal(t, max, sum-total, "events dispatched in cycle %d", cycle)
			total = sum
		}
		// 5 cycles of 4 = 20 events over 10 fds: each exactly twice.
		assert.Len(t, calls, n, "fds dispatched")
		for fd, c := range calls {
			assert.Equal(t, 2, c, "times fd %d was dispatched in 5 cycles", fd)
		}
	})
}

// TestClosed: after Close, Poll, Fork and Registered fail with ErrClosed,
// a second Close is harmless and the instance declares no capability.
func TestClosed(t *testing.T) {
	eachBackend(t, func(t *testing.T, newEnv func(...func(*poller.Context)) *env) {
		e := newEnv()
		assert.NoError(t, e.P.Fork(), "Fork before Close")
		assert.NoError(t, e.P.Close())
		assert.NoError(t, e.P.Close(), "second Close")
		assert.ErrorIs(t, e.P.Poll(poller.Eternity, true), poller.ErrClosed, "Poll after Close")
		assert.ErrorIs(t, e.P.Fork(), poller.ErrClosed, "Fork after Close")
		_, err := e.P.(poller.Introspector).Registered()
		assert.ErrorIs(t, err, poller.ErrClosed, "Registered after Close")
	})
	for _, b := range backends {
		_, err := b.newP(nil)
		assert.Error(t, err, "%s: New(nil)", b.name)
	}
}

// TestCloseFromIOCB: an iocb may close its own poller mid-dispatch; the
// cycle ends without error and the next one reports ErrClosed.
func TestCloseFromIOCB(t *testing.T) {
	eachBackend(t, func(t *testing.T, newEnv func(...func(*poller.Context)) *env) {
		e := newEnv()
		for range 3 {
			a, b := e.Pair()
			e.Insert(a, func(int, any) { e.P.Close() })
			e.Th.WantRecv(a)
			e.Th.CantRecv(a)
			unix.Write(b, []byte{1})
		}
		err := e.P.Poll(e.Ctx.UpdateTime().Add(1000), false)
		assert.NoError(t, err, "Poll during which an iocb ran Close")
		err = e.P.Poll(poller.Eternity, true)
		assert.True(t, errors.Is(err, poller.ErrClosed), "next Poll = %v, want ErrClosed", err)
	})
}

// TestClosedBehindTable: an fd closed behind the table's back (poll
// reports POLLNVAL, select fails with EBADF) is reported to its owner as
// an error once, counted in poll_dead_fd and dropped, so the next cycle
// waits normally, the other fds keep working, wanting it again does not
// bring it back, and a new user of the number is polled as usual.
func TestClosedBehindTable(t *testing.T) {
	eachBackend(t, func(t *testing.T, newEnv func(...func(*poller.Context)) *env) {
		e := newEnv()
		a, _ := e.Pair()
		b, b2 := e.Pair()
		var calls, bcalls int
		var ev fdtable.State
		e.Insert(a, func(fd int, _ any) { calls++; ev = e.Tab.Info(fd).Ev })
		e.Insert(b, func(fd int, _ any) {
			bcalls++
			var buf [1]byte
			unix.Read(fd, buf[:])
			e.Th.CantRecv(fd)
		})
		for _, fd := range []int{a, b} {
			e.Th.WantRecv(fd)
			e.Th.CantRecv(fd)
		}
		e.Poll(poller.Eternity, true)
		r, _ := e.Polled(a)
		require.True(t, r, "fd %d polled after want recv", a)
		require.NoError(t, unix.Close(a))

		e.Poll(e.Ctx.UpdateTime().Add(1000), false)
		assert.Equal(t, 1, calls, "iocb calls")
		assert.NotZero(t, ev&fdtable.ErrRW, "event byte %v has ERR", ev)
		assert.Equal(t, uint32(1), e.Ctx.Activity.PollDeadFD.Load(), "poll_dead_fd")
		r, s := e.Polled(a)
		assert.False(t, r || s, "closed fd still polled (%v, %v)", r, s)

		waits := e.P.(interface{ KernelWaits() uint64 })
		before := waits.KernelWaits()
		start := time.Now()
		e.Poll(e.Ctx.UpdateTime().Add(30), false)
		assert.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond, "the closed fd still wakes the wait")
		assert.Equal(t, uint64(1), waits.KernelWaits()-before, "kernel waits in the next cycle")
		assert.Equal(t, 1, calls, "iocb calls after the next cycle")

		unix.Write(b2, []byte{1})
		e.Poll(e.Ctx.UpdateTime().Add(1000), false)
		assert.Equal(t, 1, bcalls, "iocb calls on the healthy fd")

		// Wanting it again does not bring it back: it is still closed.
		e.Th.StopRecv(a)
		e.Th.WantRecv(a)
		start = time.Now()
		e.Poll(e.Ctx.UpdateTime().Add(30), false)
		assert.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond, "the closed fd is polled again after want recv")
		assert.Equal(t, 1, calls, "iocb calls after want recv again")

		// A new user of the number (a new generation) is polled as usual.
		require.NoError(t, e.Th.Remove(a))
		c, c2 := e.Pair() // a is free: usually c == a
		if c != a {
			require.NoError(t, unix.Dup2(c, a))
			defer unix.Close(a)
		}
		e.Insert(a, func(int, any) { calls++ })
		e.Th.WantRecv(a)
		e.Th.CantRecv(a)
		unix.Write(c2, []byte{1})
		e.Poll(e.Ctx.UpdateTime().Add(1000), false)
		r, _ = e.Polled(a)
		assert.True(t, r, "reused fd %d polled", a)
		assert.Equal(t, 2, calls, "iocb calls once the number is reused")
		e.Th.Remove(a)
	})
}
