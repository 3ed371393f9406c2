package epoll_test

import (
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	"github.com/evpoll/evpoll/pollers/epoll"
	"golang.org/x/sys/unix"
)

type env struct {
	tab  *fdtable.Table
	th   *fdtable.Thread
	ctx  *poller.Context
	p    *epoll.Poller
	a, b int
	hits int
	buf  [64]byte
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{tab: fdtable.New(4096)}
	e.th, _ = e.tab.NewThread(0)
	e.ctx = poller.NewContext(e.th)
	p, err := epoll.New(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.p = p
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	e.a, e.b = fds[0], fds[1]
	t.Cleanup(func() {
		p.Close()
		unix.Close(e.a)
		unix.Close(e.b)
	})
	if err := e.th.Insert(e.a, e, func(fd int, owner any) {
		en := owner.(*env)
		en.hits++
		for {
			if n, _ := unix.Read(fd, en.buf[:]); n <= 0 {
				break
			}
		}
		en.th.CantRecv(fd)
	}, e.th.Bit()); err != nil {
		t.Fatal(err)
	}
	e.th.WantRecv(e.a)
	e.th.CantRecv(e.a)
	if err := p.Poll(poller.Eternity, true); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) cycle(t testing.TB) {
	unix.Write(e.b, e.buf[:1])
	if err := e.p.Poll(e.ctx.UpdateTime().Add(100), false); err != nil {
		t.Fatal(err)
	}
}

// TestPollCycleAllocsNothing: a poll cycle that applies an update and
// dispatches an event allocates nothing.
func TestPollCycleAllocsNothing(t *testing.T) {
	e := newEnv(t)
	e.cycle(t)
	allocs := testing.AllocsPerRun(200, func() {
		e.th.StopRecv(e.a)
		e.th.WantRecv(e.a) // queues an update each round
		e.cycle(t)
	})
	if allocs != 0 {
		t.Errorf("poll cycle allocates %.1f times, want 0", allocs)
	}
	if e.hits < 200 {
		t.Errorf("iocb ran %d times over 201 cycles, want every cycle", e.hits)
	}
}

func BenchmarkPollCycle(b *testing.B) {
	e := newEnv(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.cycle(b)
	}
}

// TestRegistrationErrorsAreEvents: a registration the kernel refuses is
// the fd's failure, not the poller's: Poll succeeds, the fd's owner gets
// an error event with the errno logged, poll_err_fd counts it, and the
// registration is not retried at every cycle.
func TestRegistrationErrorsAreEvents(t *testing.T) {
	e := newEnv(t)
	// A regular file cannot be polled: epoll_ctl returns EPERM.
	f, err := unix.Open("/proc/self/status", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	var evs []fdtable.State
	require.NoError(t, e.th.Insert(f, nil, func(fd int, _ any) { evs = append(evs, e.tab.Info(fd).Ev) }, e.th.Bit()))
	defer e.th.Delete(f)
	var logged []error
	e.ctx.OnFDError = func(fd int, err error) { logged = append(logged, err) }
	require.NoError(t, e.th.WantRecv(f))
	ctls := e.p.KernelUpdates()
	require.NoError(t, e.p.Poll(poller.Eternity, false), "Poll with one refused fd")
	assert.Equal(t, []fdtable.State{fdtable.ErrRW}, evs, "events seen by the owner")
	require.Len(t, logged, 1)
	assert.ErrorIs(t, logged[0], unix.EPERM)
	assert.Contains(t, logged[0].Error(), "epoll_ctl")
	assert.Equal(t, uint32(1), e.ctx.Activity.PollErrFD.Load(), "poll_err_fd")
	in := e.tab.Info(f)
	assert.Zero(t, in.PolledRecv|in.PolledSend, "polled masks after a refused registration")
	assert.Equal(t, ctls+1, e.p.KernelUpdates(), "epoll_ctl calls")
	// The instance keeps working, and does not retry the refused fd.
	e.cycle(t)
	assert.NotZero(t, e.hits, "events delivered after a registration error")
	assert.Equal(t, ctls+1, e.p.KernelUpdates(), "epoll_ctl calls after another cycle")
	assert.Len(t, evs, 1, "error events")
}

func TestNewRejectsContextWithoutThread(t *testing.T) {
	if _, err := epoll.New(nil); err == nil {
		t.Errorf("New(nil) succeeded")
	}
	tab := fdtable.New(16)
	if _, err := epoll.New(poller.NewContext(tab.External())); err == nil {
		t.Errorf("New with the external thread handle succeeded")
	}
}
