package evports_test

import (
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/internal/portemu"
	"github.com/evpoll/evpoll/internal/testenv"
	"github.com/evpoll/evpoll/poller"
	"github.com/evpoll/evpoll/pollers/evports"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// faultKernel wraps the emulation: Associate refuses the fds fail picks,
// and Getn can report ETIME together with the events it returns.
type faultKernel struct {
	mu        sync.Mutex
	fail      func(fd int) syscall.Errno
	etimeWith bool
	ports     []*faultPort
}

func (fk *faultKernel) PortCreate() (evports.Port, error) {
	p, err := portemu.New().PortCreate()
	if err != nil {
		return nil, err
	}
	fp := &faultPort{Port: p, fk: fk}
	fk.mu.Lock()
	fk.ports = append(fk.ports, fp)
	fk.mu.Unlock()
	return fp, nil
}

type faultPort struct {
	evports.Port
	fk *faultKernel
}

func (p *faultPort) FD() int { return p.Port.(evports.Descriptor).FD() }

func (p *faultPort) Associations() []evports.PortEvent {
	return p.Port.(evports.Lister).Associations()
}

func (p *faultPort) Associate(fd int, events int16, user uint64) error {
	if p.fk.fail != nil {
		if errno := p.fk.fail(fd); errno != 0 {
			return errno
		}
	}
	return p.Port.Associate(fd, events, user)
}

func (p *faultPort) Getn(events []evports.PortEvent, timeout time.Duration) (int, error) {
	n, err := p.Port.Getn(events, timeout)
	if err == nil && n > 0 && p.fk.etimeWith {
		return n, syscall.ETIME
	}
	return n, err
}

type env = testenv.Env[*evports.Poller]

func newEnv(t *testing.T, k evports.Kernel, setup ...func(*poller.Context)) *env {
	return testenv.New(t, 1024, func(ctx *poller.Context) (*evports.Poller, error) { return evports.New(ctx, k) }, setup...)
}

type seen struct {
	calls int
	ev    fdtable.State
	fn    func(fd int)
}

func reader(e *env, fd int) *seen {
	s := &seen{}
	e.Insert(fd, func(fd int, _ any) {
		s.calls++
		s.ev = e.Tab.Info(fd).Ev
		var buf [64]byte
		for {
			if n, _ := unix.Read(fd, buf[:]); n <= 0 {
				break
			}
		}
		e.Th.CantRecv(fd)
		if s.fn != nil {
			s.fn(fd)
		}
	})
	require.NoError(e.T, e.Th.WantRecv(fd))
	require.NoError(e.T, e.Th.CantRecv(fd))
	return s
}

// associated returns the events fd is associated with in the port.
func associated(t *testing.T, port evports.Port, fd int) int16 {
	for _, a := range port.(evports.Lister).Associations() {
		if a.FD == fd {
			return a.Events
		}
	}
	return 0
}

func lastPort(fk *faultKernel) evports.Port {
	fk.mu.Lock()
	defer fk.mu.Unlock()
	return fk.ports[len(fk.ports)-1]
}

func polled(e *env, fd int) string {
	in := e.Tab.Info(fd)
	r, s := in.PolledRecv, in.PolledSend
	rr, ss := r&e.Th.Bit() != 0, s&e.Th.Bit() != 0
	switch {
	case rr && ss:
		return "RW"
	case rr:
		return "R"
	case ss:
		return "W"
	}
	return "-"
}

// TestEmulatedRearm: after the callback, the fd is associated again with
// the pre-callback directions, unless the callback closed it or dropped
// its interest; a change of direction is applied by the next cycle.
func TestEmulatedRearm(t *testing.T) {
	for _, tc := range []struct {
		name          string
		fn            func(e *env, fd int)
		afterEvent    int16 // association right after the cycle
		afterNext     int16 // and after one more
		polledAfter   string
		closed        bool
		rearmsCounted uint64
	}{
		{"still wanted", nil, evports.PollIn, evports.PollIn, "R", false, 1},
		{"switched to send", func(e *env, fd int) { e.Th.StopRecv(fd); e.Th.WantSend(fd) }, evports.PollIn, evports.PollOut, "W", false, 1},
		{"interest dropped", func(e *env, fd int) { e.Th.StopRecv(fd) }, 0, 0, "-", false, 0},
		{"deleted by the callback", func(e *env, fd int) { e.Th.Delete(fd) }, 0, 0, "-", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fk := &faultKernel{}
			e := newEnv(t, fk)
			a, b := e.Pair()
			s := reader(e, a)
			if tc.fn != nil {
				s.fn = func(fd int) { tc.fn(e, fd) }
			}
			e.Poll(poller.Eternity, true)
			port := lastPort(fk)
			require.Equal(t, evports.PollIn, associated(t, port, a))
			_, err := unix.Write(b, []byte{1})
			require.NoError(t, err)
			e.Poll(e.Ctx.UpdateTime().Add(1000), false)
			require.Equal(t, 1, s.calls)
			assert.Equal(t, tc.afterEvent, associated(t, port, a), "association after the event's cycle")
			assert.Equal(t, tc.rearmsCounted, e.P.Rearms())
			e.Poll(poller.Eternity, true)
			assert.Equal(t, tc.afterNext, associated(t, port, a), "association one cycle later")
			assert.Equal(t, tc.polledAfter, polled(e, a))
			assert.Zero(t, e.Ctx.Activity.PollErrFD.Load())
		})
	}
}

func TestEmulatedRefusedAssociationGoesToTheOwner(t *testing.T) {
	fk := &faultKernel{}
	e := newEnv(t, fk)
	bad, _ := e.Pair()
	good, gpeer := e.Pair()
	fk.fail = func(fd int) syscall.Errno {
		if fd == bad {
			return syscall.ENOMEM
		}
		return 0
	}
	sbad := reader(e, bad)
	sgood := reader(e, good)
	require.NoError(t, e.P.Poll(poller.Eternity, true))
	assert.Equal(t, 1, sbad.calls)
	assert.NotZero(t, sbad.ev&fdtable.ErrRW, "error event (ev %v)", sbad.ev)
	assert.Equal(t, "-", polled(e, bad))
	assert.Equal(t, uint64(1), e.P.RegistrationErrors())
	assert.Equal(t, uint32(1), e.Ctx.Activity.PollErrFD.Load())
	_, err := unix.Write(gpeer, []byte{1})
	require.NoError(t, err)
	e.Poll(e.Ctx.UpdateTime().Add(1000), false)
	assert.Equal(t, 1, sgood.calls, "the other fd still delivered")
}

// TestEmulatedETIMEWithEvents: port_getn may fail with ETIME and still
// return events; they are handled.
func TestEmulatedETIMEWithEvents(t *testing.T) {
	fk := &faultKernel{etimeWith: true}
	e := newEnv(t, fk)
	a, b := e.Pair()
	s := reader(e, a)
	e.Poll(poller.Eternity, true)
	_, err := unix.Write(b, []byte{1})
	require.NoError(t, err)
	require.NoError(t, e.P.Poll(e.Ctx.UpdateTime().Add(1000), false))
	assert.Equal(t, 1, s.calls)
}

func fdOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

func TestEmulatedForkRecreatesPort(t *testing.T) {
	fk := &faultKernel{}
	e := newEnv(t, fk)
	a, b := e.Pair()
	s := reader(e, a)
	e.Poll(poller.Eternity, true)
	old := lastPort(fk).(evports.Descriptor).FD()
	require.NoError(t, e.P.Fork())
	nfd := lastPort(fk).(evports.Descriptor).FD()
	assert.NotEqual(t, old, nfd, "a new port")
	assert.False(t, fdOpen(old), "old port closed")
	e.Poll(poller.Eternity, true)
	assert.Equal(t, evports.PollIn, associated(t, lastPort(fk), a), "re-associated on the new port")
	_, err := unix.Write(b, []byte{1})
	require.NoError(t, err)
	e.Poll(e.Ctx.UpdateTime().Add(1000), false)
	assert.Equal(t, 1, s.calls)
}

func TestEmulatedNotRegistered(t *testing.T) {
	_, err := poller.Lookup(evports.Name)
	assert.ErrorIs(t, err, poller.ErrUnknown, "evports must not be registered on Linux")
}

func TestEmulatedPollAllocatesNothing(t *testing.T) {
	e := newEnv(t, portemu.New())
	a, b := e.Pair()
	e.Insert(a, func(fd int, _ any) {})
	require.NoError(t, e.Th.WantRecv(a))
	_, err := unix.Write(b, []byte{1})
	require.NoError(t, err)
	e.Poll(poller.Eternity, true)
	allocs := testing.AllocsPerRun(200, func() {
		e.P.Poll(poller.Eternity, true) // event, callback, re-association
	})
	assert.Zero(t, allocs)
}

func pollTook(e *env, ms int) time.Duration {
	start := time.Now()
	e.Poll(e.Ctx.UpdateTime().Add(ms), false)
	return time.Since(start)
}

func TestEmulatedWaker(t *testing.T) {
	e := newEnv(t, portemu.New())
	w, err := e.P.Waker()
	require.NoError(t, err)
	time.AfterFunc(20*time.Millisecond, func() { w.Wake() })
	assert.Less(t, pollTook(e, 5000), 800*time.Millisecond, "a wake ends a 1 s wait")
	for i := 0; i < 3; i++ {
		require.NoError(t, w.Wake())
	}
	assert.Less(t, pollTook(e, 1000), 500*time.Millisecond, "pending wake ends the wait")
	assert.GreaterOrEqual(t, pollTook(e, 30), 29*time.Millisecond, "a drained waker does not fire again")
	require.NoError(t, e.P.Fork())
	time.AfterFunc(20*time.Millisecond, func() { w.Wake() })
	assert.Less(t, pollTook(e, 5000), 800*time.Millisecond, "the waker works after Fork")
	assert.Zero(t, e.Ctx.Activity.PollDeadFD.Load(), "the wake event is not an fd event")
}

// TestEmulatedWakerStress loops Wake on another goroutine against the
// wait (and the waker's re-association after each wake event): no wake is
// lost.
func TestEmulatedWakerStress(t *testing.T) {
	e := newEnv(t, portemu.New())
	w, err := e.P.Waker()
	require.NoError(t, err)
	done := make(chan struct{})
	for i := 0; i < 3000; i++ {
		go func() {
			w.Wake()
			runtime.Gosched()
			w.Wake()
			done <- struct{}{}
		}()
		if d := pollTook(e, 2000); d > 500*time.Millisecond {
			t.Fatalf("iteration %d: a wake was lost, the cycle waited %v", i, d)
		}
		<-done
	}
}
