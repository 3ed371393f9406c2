package epoll_test

import (
	"errors"
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
		p.Term()
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

func TestRegistrationErrorsAreReported(t *testing.T) {
	e := newEnv(t)
	// A regular file cannot be polled: epoll_ctl returns EPERM.
	f, err := unix.Open("/proc/self/status", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.th.Insert(f, nil, func(int, any) {}, e.th.Bit()); err != nil {
		t.Fatal(err)
	}
	defer e.th.Delete(f)
	e.th.WantRecv(f)
	err = e.p.Poll(poller.Eternity, true)
	if !errors.Is(err, unix.EPERM) {
		t.Fatalf("Poll = %v, want an error wrapping EPERM", err)
	}
	if r, s := e.tab.Polled(f); r|s != 0 {
		t.Errorf("polled masks = %#x/%#x after a refused registration, want 0", r, s)
	}
	// The instance keeps working.
	e.cycle(t)
	if e.hits == 0 {
		t.Errorf("no event delivered after a registration error")
	}
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
