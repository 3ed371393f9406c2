package kqemu_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/evpoll/evpoll/internal/kqemu"
	"github.com/evpoll/evpoll/pollers/kqueue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// These tests hold the emulation to the documented semantics of
// kqueue(2) (FreeBSD), which the kqueue backend's emulated tests rely on.

func newQueue(t *testing.T) (*kqemu.Queue, *kqemu.Kernel) {
	k := kqemu.New()
	q, err := k.Kqueue()
	require.NoError(t, err)
	t.Cleanup(func() { q.Close() })
	return q.(*kqemu.Queue), k
}

func pair(t *testing.T) (int, int) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

func ch(fd int, f kqueue.Filter, fl kqueue.Flag, udata uint64) kqueue.Kevent {
	return kqueue.Kevent{Ident: uint64(fd), Filter: f, Flags: fl, Udata: udata}
}

// apply submits changes with receipts and returns each change's errno.
func apply(t *testing.T, q *kqemu.Queue, chs ...kqueue.Kevent) []syscall.Errno {
	t.Helper()
	for i := range chs {
		chs[i].Flags |= kqueue.EvReceipt
	}
	res := make([]kqueue.Kevent, len(chs))
	n, err := q.Kevent(chs, res, 0)
	require.NoError(t, err)
	require.Equal(t, len(chs), n, "one result per change with EV_RECEIPT")
	out := make([]syscall.Errno, n)
	for i, r := range res[:n] {
		assert.NotZero(t, r.Flags&kqueue.EvError, "results carry EV_ERROR")
		out[i] = syscall.Errno(r.Data)
	}
	return out
}

func wait(t *testing.T, q *kqemu.Queue, d time.Duration) []kqueue.Kevent {
	t.Helper()
	evs := make([]kqueue.Kevent, 16)
	n, err := q.Kevent(nil, evs, d)
	require.NoError(t, err)
	return evs[:n]
}

func TestEmulatedAddDeleteIdempotence(t *testing.T) {
	q, _ := newQueue(t)
	a, _ := pair(t)
	assert.Equal(t, []syscall.Errno{0, 0}, apply(t, q, ch(a, kqueue.FilterRead, kqueue.EvAdd, 1), ch(a, kqueue.FilterRead, kqueue.EvAdd, 2)),
		"EV_ADD of an existing knote modifies it")
	kn := q.Knotes()
	require.Len(t, kn, 1, "one knote per (ident, filter)")
	assert.Equal(t, uint64(2), kn[0].Udata, "the second EV_ADD replaced udata")
	assert.Equal(t, []syscall.Errno{0, syscall.ENOENT}, apply(t, q, ch(a, kqueue.FilterRead, kqueue.EvDelete, 0), ch(a, kqueue.FilterRead, kqueue.EvDelete, 0)),
		"EV_DELETE of an absent knote is ENOENT")
	assert.Equal(t, []syscall.Errno{syscall.ENOENT}, apply(t, q, ch(a, kqueue.FilterWrite, kqueue.EvDelete, 0)), "never-added filter")
	assert.Empty(t, q.Knotes())
}

func TestEmulatedChangeErrors(t *testing.T) {
	q, _ := newQueue(t)
	a, _ := pair(t)
	closed, _ := pair(t)
	unix.Close(closed)
	// Room in the event list: the error is an EV_ERROR entry, and the
	// good change is applied.
	res := make([]kqueue.Kevent, 4)
	n, err := q.Kevent([]kqueue.Kevent{ch(closed, kqueue.FilterRead, kqueue.EvAdd, 0), ch(a, kqueue.FilterRead, kqueue.EvAdd, 9)}, res, 0)
	require.NoError(t, err)
	require.Equal(t, 1, n, "only the failing change is reported")
	assert.Equal(t, uint64(closed), res[0].Ident)
	assert.Equal(t, kqueue.EvError, res[0].Flags)
	assert.Equal(t, int64(syscall.EBADF), res[0].Data)
	assert.Len(t, q.Knotes(), 1)
	// No room: the call fails with the errno.
	_, err = q.Kevent([]kqueue.Kevent{ch(a, kqueue.FilterWrite, kqueue.EvDelete, 0)}, nil, 0)
	assert.Equal(t, syscall.ENOENT, err)
	assert.Equal(t, []syscall.Errno{syscall.EINVAL}, apply(t, q, kqueue.Kevent{Ident: uint64(a), Filter: 99, Flags: kqueue.EvAdd}), "unknown filter")
}

// TestEmulatedReceiptDoesNotConsume: with a result in the event list, no
// events are collected, so a pending event is still there afterwards.
func TestEmulatedReceiptDoesNotConsume(t *testing.T) {
	q, _ := newQueue(t)
	a, b := pair(t)
	c, _ := pair(t)
	apply(t, q, ch(a, kqueue.FilterRead, kqueue.EvAdd, 5))
	_, err := unix.Write(b, []byte("xyz"))
	require.NoError(t, err)
	res := make([]kqueue.Kevent, 8)
	n, err := q.Kevent([]kqueue.Kevent{ch(c, kqueue.FilterRead, kqueue.EvAdd|kqueue.EvReceipt, 6)}, res, time.Second)
	require.NoError(t, err)
	require.Equal(t, 1, n, "only the receipt")
	assert.Equal(t, kqueue.EvError, res[0].Flags)
	evs := wait(t, q, 0)
	require.Len(t, evs, 1, "the pending event was not consumed")
	assert.Equal(t, uint64(a), evs[0].Ident)
	assert.Equal(t, int64(3), evs[0].Data, "data is the bytes readable")
	assert.Equal(t, uint64(5), evs[0].Udata, "udata carried back")
}

func TestEmulatedLevelTriggeredAndEOF(t *testing.T) {
	q, _ := newQueue(t)
	a, b := pair(t)
	apply(t, q, ch(a, kqueue.FilterRead, kqueue.EvAdd, 1), ch(a, kqueue.FilterWrite, kqueue.EvAdd, 1))
	evs := wait(t, q, 0)
	require.Len(t, evs, 1, "writable only")
	assert.Equal(t, kqueue.FilterWrite, evs[0].Filter)
	assert.Zero(t, evs[0].Flags&kqueue.EvEOF)
	_, err := unix.Write(b, []byte("ab"))
	require.NoError(t, err)
	require.NoError(t, unix.Shutdown(b, unix.SHUT_WR))
	for i := 0; i < 2; i++ { // level-triggered: reported until read
		evs = wait(t, q, 0)
		var read *kqueue.Kevent
		for i := range evs {
			if evs[i].Filter == kqueue.FilterRead {
				read = &evs[i]
			}
		}
		require.NotNil(t, read, "read event, round %d", i)
		assert.NotZero(t, read.Flags&kqueue.EvEOF, "EV_EOF after the peer's shutdown")
		assert.Equal(t, int64(2), read.Data, "data still readable with EOF")
	}
	unix.Close(b)
	evs = wait(t, q, 0)
	for _, ev := range evs {
		assert.NotZero(t, ev.Flags&kqueue.EvEOF, "filter %d: EOF once the peer is gone", ev.Filter)
	}
	assert.Len(t, evs, 2)
}

// TestEmulatedCloseRemovesKnotes: closing an fd removes its knotes, also
// while a dup keeps the file open; no event is reported for it after.
func TestEmulatedCloseRemovesKnotes(t *testing.T) {
	q, _ := newQueue(t)
	a, b := pair(t)
	apply(t, q, ch(a, kqueue.FilterRead, kqueue.EvAdd, 1))
	dup, err := unix.Dup(a)
	require.NoError(t, err)
	defer unix.Close(dup)
	unix.Close(a)
	_, err = unix.Write(b, []byte{1})
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		assert.Empty(t, wait(t, q, 10*time.Millisecond), "no event for a closed fd")
	}
	assert.Empty(t, q.Knotes())
	// The number, reused, starts with no knote.
	c, _ := pair(t)
	assert.Equal(t, []syscall.Errno{syscall.ENOENT}, apply(t, q, ch(c, kqueue.FilterRead, kqueue.EvDelete, 0)))
}

func TestEmulatedUserFilter(t *testing.T) {
	for _, tc := range []struct {
		name    string
		flags   kqueue.Flag
		reports int
	}{
		{"EV_CLEAR: once per trigger", kqueue.EvClear, 1},
		{"without EV_CLEAR: until deleted", 0, 3},
		{"EV_ONESHOT: once, then gone", kqueue.EvOneshot, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, _ := newQueue(t)
			assert.Equal(t, syscall.ENOENT, q.Trigger(42), "trigger before add")
			apply(t, q, kqueue.Kevent{Ident: 42, Filter: kqueue.FilterUser, Flags: kqueue.EvAdd | tc.flags, Udata: 7})
			assert.Empty(t, wait(t, q, 0), "not triggered yet")
			require.NoError(t, q.Trigger(42))
			got := 0
			for i := 0; i < 3; i++ {
				for _, ev := range wait(t, q, 0) {
					assert.Equal(t, uint64(7), ev.Udata)
					got++
				}
			}
			assert.Equal(t, tc.reports, got)
		})
	}
}

func TestEmulatedTriggerWakesWait(t *testing.T) {
	q, _ := newQueue(t)
	apply(t, q, kqueue.Kevent{Ident: 1, Filter: kqueue.FilterUser, Flags: kqueue.EvAdd | kqueue.EvClear})
	time.AfterFunc(20*time.Millisecond, func() { q.Trigger(1) })
	start := time.Now()
	evs := wait(t, q, 5*time.Second)
	assert.Len(t, evs, 1)
	assert.Less(t, time.Since(start), 2*time.Second)
}

func TestEmulatedTimeout(t *testing.T) {
	q, _ := newQueue(t)
	start := time.Now()
	assert.Empty(t, wait(t, q, 30*time.Millisecond))
	assert.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)
}

// TestEmulatedNotInherited: a queue refuses calls from another process.
func TestEmulatedNotInherited(t *testing.T) {
	q, k := newQueue(t)
	pid := unix.Getpid()
	k.Pid = func() int { return pid + 1 }
	_, err := q.Kevent(nil, make([]kqueue.Kevent, 1), 0)
	assert.Equal(t, syscall.EBADF, err)
	assert.Equal(t, syscall.EBADF, q.Trigger(1))
	k.Pid = nil
}
