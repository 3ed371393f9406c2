//go:build unix

package userset_test

import (
	"errors"
	"testing"

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
