package kqueue_test

import (
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/internal/kqemu"
	"github.com/evpoll/evpoll/internal/testenv"
	"github.com/evpoll/evpoll/poller"
	"github.com/evpoll/evpoll/pollers/kqueue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// call is one recorded kevent call.
type call struct {
	changes  []kqueue.Kevent
	nevents  int
	timeout  time.Duration
	returned int
}

// faultKernel wraps the emulation, refusing the changes fail picks with
// the errno it returns, the way kevent(2) reports per-change errors: an
// EV_ERROR entry in the event list and no events collected.
type faultKernel struct {
	k     kqueue.Kernel
	mu    sync.Mutex
	fail  func(ch kqueue.Kevent) syscall.Errno
	calls []call
}

func (fk *faultKernel) Getpid() int { return fk.k.Getpid() }

func (fk *faultKernel) Kqueue() (kqueue.Queue, error) {
	q, err := fk.k.Kqueue()
	if err != nil {
		return nil, err
	}
	return &faultQueue{Queue: q, fk: fk}, nil
}

func (fk *faultKernel) record(c call) {
	fk.mu.Lock()
	fk.calls = append(fk.calls, c)
	fk.mu.Unlock()
}

func (fk *faultKernel) recorded() []call {
	fk.mu.Lock()
	defer fk.mu.Unlock()
	return append([]call(nil), fk.calls...)
}

type faultQueue struct {
	kqueue.Queue
	fk *faultKernel
}

func (q *faultQueue) Knotes() []kqueue.Kevent { return q.Queue.(kqueue.Lister).Knotes() }

func (q *faultQueue) Kevent(changes, events []kqueue.Kevent, timeout time.Duration) (int, error) {
	c := call{changes: append([]kqueue.Kevent(nil), changes...), nevents: len(events), timeout: timeout}
	var out []kqueue.Kevent
	var pass []kqueue.Kevent
	injected := false
	for _, ch := range changes {
		errno := syscall.Errno(0)
		if q.fk.fail != nil {
			errno = q.fk.fail(ch)
		}
		if errno != 0 {
			injected = true
		}
		if errno == 0 || errno == syscall.EPIPE {
			pass = append(pass, ch) // EPIPE: refused in words, registered in fact
		}
		if errno != 0 || ch.Flags&kqueue.EvReceipt != 0 {
			r := ch
			r.Flags, r.Data = kqueue.EvError, int64(errno)
			out = append(out, r)
		}
	}
	if !injected {
		n, err := q.Queue.Kevent(changes, events, timeout)
		c.returned = n
		q.fk.record(c)
		return n, err
	}
	for i := range pass {
		pass[i].Flags |= kqueue.EvReceipt
	}
	scratch := make([]kqueue.Kevent, len(pass))
	if _, err := q.Queue.Kevent(pass, scratch, 0); err != nil {
		return 0, err
	}
	n := copy(events, out)
	c.returned = n
	q.fk.record(c)
	return n, nil
}

type env = testenv.Env[*kqueue.Poller]

func newEnv(t *testing.T, k kqueue.Kernel, setup ...func(*poller.Context)) *env {
	return testenv.New(t, 1024, func(ctx *poller.Context) (*kqueue.Poller, error) { return kqueue.New(ctx, k) }, setup...)
}

// reader inserts a, wants it for reading, and records what its iocb saw.
type seen struct {
	calls int
	ev    fdtable.State
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
	})
	require.NoError(e.T, e.Th.WantRecv(fd))
	require.NoError(e.T, e.Th.CantRecv(fd))
	return s
}

func polled(e *env, fd int) (bool, bool) {
	in := e.Tab.Info(fd)
	r, s := in.PolledRecv, in.PolledSend
	return r&e.Th.Bit() != 0, s&e.Th.Bit() != 0
}

func TestEmulatedChangesGoWithTheWait(t *testing.T) {
	fk := &faultKernel{k: kqemu.New()}
	e := newEnv(t, fk)
	a, _ := e.Pair()
	reader(e, a)
	e.Poll(poller.Eternity, true)
	calls := fk.recorded()
	require.Len(t, calls, 1, "one kevent call for the change and the wait")
	assert.Len(t, calls[0].changes, 1)
	assert.Equal(t, e.Ctx.EventsPerPoll(), calls[0].nevents)
	assert.Zero(t, calls[0].changes[0].Flags&kqueue.EvReceipt, "a change submitted with the wait needs no receipt")
}

// TestEmulatedReceiptsWhenChangesDoNotFit: changes applied alone carry
// EV_RECEIPT each, get one result each, and consume no pending event.
func TestEmulatedReceiptsWhenChangesDoNotFit(t *testing.T) {
	fk := &faultKernel{k: kqemu.New()}
	e := newEnv(t, fk, func(c *poller.Context) { c.MaxEvents = 4 })
	x, xpeer := e.Pair()
	sx := reader(e, x)
	e.Poll(poller.Eternity, true)
	_, err := unix.Write(xpeer, []byte("hi"))
	require.NoError(t, err)
	var fds []int
	for i := 0; i < 3; i++ {
		a, _ := e.Pair()
		reader(e, a)
		fds = append(fds, a)
	}
	before := len(fk.recorded())
	e.Poll(e.Ctx.UpdateTime().Add(100), false)
	assert.Equal(t, 1, sx.calls, "the pending event survived the changes applied alone")
	calls := fk.recorded()[before:]
	require.NotEmpty(t, calls)
	alone := calls[0]
	assert.Equal(t, time.Duration(0), alone.timeout)
	assert.Equal(t, len(alone.changes), alone.nevents, "room for one result per change")
	assert.Equal(t, len(alone.changes), alone.returned, "one result per change, no event")
	for _, ch := range alone.changes {
		assert.NotZero(t, ch.Flags&kqueue.EvReceipt, "every change applied alone carries EV_RECEIPT")
	}
	for _, fd := range fds {
		r, _ := polled(e, fd)
		assert.True(t, r, "fd %d registered", fd)
	}
}

// TestEmulatedRefusedChangeGoesToTheOwner: a change refused for one fd
// fails neither Poll nor the other fds; the owner gets an error event and
// the fd is recorded as watched in no direction. Both ways of submitting
// changes are covered.
func TestEmulatedRefusedChangeGoesToTheOwner(t *testing.T) {
	for _, tc := range []struct {
		name      string
		maxEvents int
		others    int
	}{
		{"with the wait", 0, 1},
		{"alone, with receipts", 4, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fk := &faultKernel{k: kqemu.New()}
			e := newEnv(t, fk, func(c *poller.Context) {
				if tc.maxEvents > 0 {
					c.MaxEvents = tc.maxEvents
				}
			})
			bad, _ := e.Pair()
			fk.fail = func(ch kqueue.Kevent) syscall.Errno {
				if ch.Ident == uint64(bad) && ch.Flags&kqueue.EvAdd != 0 {
					return syscall.ENOMEM
				}
				return 0
			}
			sbad := reader(e, bad)
			var peers []int
			var others []*seen
			for i := 0; i < tc.others; i++ {
				a, b := e.Pair()
				others = append(others, reader(e, a))
				peers = append(peers, b)
			}
			require.NoError(t, e.P.Poll(poller.Eternity, true))
			require.NoError(t, e.P.Poll(poller.Eternity, true))
			assert.Equal(t, 1, sbad.calls, "the owner of the refused fd got one event")
			assert.NotZero(t, sbad.ev&fdtable.ErrRW, "an error event (ev %v)", sbad.ev)
			r, s := polled(e, bad)
			assert.False(t, r || s, "refused fd recorded as not watched")
			assert.Equal(t, uint64(1), e.P.RegistrationErrors())
			assert.Equal(t, uint32(1), e.Ctx.Activity.PollErrFD.Load())
			for _, b := range peers {
				_, err := unix.Write(b, []byte{1})
				require.NoError(t, err)
			}
			for i := 0; i < 5; i++ {
				e.Poll(e.Ctx.UpdateTime().Add(20), false)
			}
			for i, s := range others {
				assert.Equal(t, 1, s.calls, "other fd #%d still delivered", i)
			}
		})
	}
}

// TestEmulatedEPIPEIsPeerClosed: macOS answers EPIPE when a filter is
// added for an fd whose peer is gone; it is the peer-closed event.
func TestEmulatedEPIPEIsPeerClosed(t *testing.T) {
	fk := &faultKernel{k: kqemu.New()}
	e := newEnv(t, fk)
	a, _ := e.Pair()
	fk.fail = func(ch kqueue.Kevent) syscall.Errno {
		if ch.Ident == uint64(a) && ch.Flags&kqueue.EvAdd != 0 {
			return syscall.EPIPE
		}
		return 0
	}
	s := reader(e, a)
	require.NoError(t, e.P.Poll(poller.Eternity, true))
	assert.Equal(t, 1, s.calls)
	assert.NotZero(t, s.ev&fdtable.ShutR, "peer shutdown reported (ev %v)", s.ev)
	assert.Zero(t, s.ev&fdtable.ErrRW, "EPIPE on registration is not an error (ev %v)", s.ev)
	r, _ := polled(e, a)
	assert.True(t, r, "the filter stays registered")
	assert.Zero(t, e.P.RegistrationErrors())
	assert.Zero(t, e.Ctx.Activity.PollErrFD.Load())
}

func fdOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

// TestEmulatedForkInChildKeepsOldNumber: in a child (another pid), the old
// kqueue number is not closed, as it is not the child's queue; the new
// queue serves every wanted fd.
func TestEmulatedForkInChildKeepsOldNumber(t *testing.T) {
	for _, child := range []bool{false, true} {
		name := map[bool]string{false: "same process closes the old queue", true: "child leaves the old number alone"}[child]
		t.Run(name, func(t *testing.T) {
			k := kqemu.New()
			pid := unix.Getpid()
			k.Pid = func() int { return pid }
			e := newEnv(t, k)
			a, b := e.Pair()
			s := reader(e, a)
			e.Poll(poller.Eternity, true)
			old := e.P.FD()
			if child {
				pid++
			}
			require.NoError(t, e.P.Fork())
			assert.NotEqual(t, old, e.P.FD())
			assert.Equal(t, child, fdOpen(old), "old kqueue number open after Fork")
			if child {
				unix.Close(old)
			}
			_, err := unix.Write(b, []byte{1})
			require.NoError(t, err)
			for i := 0; i < 5 && s.calls == 0; i++ {
				e.Poll(e.Ctx.UpdateTime().Add(20), false)
			}
			assert.Equal(t, 1, s.calls, "event delivered through the new queue")
		})
	}
}

func TestEmulatedNotRegistered(t *testing.T) {
	_, err := poller.Lookup(kqueue.Name)
	assert.ErrorIs(t, err, poller.ErrUnknown, "kqueue must not be registered on Linux")
}

// TestEmulatedPollAllocatesNothing: a cycle that applies a change and
// delivers events allocates nothing (over the emulation, which does not
// allocate either once warm).
func TestEmulatedPollAllocatesNothing(t *testing.T) {
	e := newEnv(t, kqemu.New())
	a, b := e.Pair()
	e.Insert(a, func(fd int, _ any) {})
	require.NoError(t, e.Th.WantRecv(a))
	_, err := unix.Write(b, []byte{1})
	require.NoError(t, err)
	e.Poll(poller.Eternity, true)
	allocs := testing.AllocsPerRun(200, func() {
		e.Th.StopRecv(a)
		e.Th.WantSend(a)
		e.P.Poll(poller.Eternity, true)
		e.Th.StopSend(a)
		e.Th.WantRecv(a)
		e.P.Poll(poller.Eternity, true)
	})
	assert.Zero(t, allocs)
}
