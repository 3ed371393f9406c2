package portemu_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/evpoll/evpoll/internal/portemu"
	"github.com/evpoll/evpoll/pollers/evports"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// These tests hold the emulation to the documented semantics of
// port_associate(3C) and port_getn(3C), which the evports backend's
// emulated tests rely on.

func newPort(t *testing.T) evports.Port {
	p, err := portemu.New().PortCreate()
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

func pair(t *testing.T) (int, int) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

func getn(t *testing.T, p evports.Port, d time.Duration) ([]evports.PortEvent, error) {
	t.Helper()
	evs := make([]evports.PortEvent, 8)
	n, err := p.Getn(evs, d)
	return evs[:n], err
}

// TestEmulatedOneShot: retrieving an event dissociates the fd.
func TestEmulatedOneShot(t *testing.T) {
	p := newPort(t)
	a, b := pair(t)
	require.NoError(t, p.Associate(a, evports.PollIn, 11))
	_, err := unix.Write(b, []byte{1})
	require.NoError(t, err)
	evs, err := getn(t, p, time.Second)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.Equal(t, evports.PortEvent{FD: a, Events: evports.PollIn, User: 11}, evs[0])
	assert.Empty(t, p.(evports.Lister).Associations(), "consumed by delivery")
	_, err = getn(t, p, 20*time.Millisecond)
	assert.Equal(t, syscall.ETIME, err, "still readable, but no longer associated")
	assert.Equal(t, syscall.ENOENT, p.Dissociate(a), "nothing left to dissociate")
	require.NoError(t, p.Associate(a, evports.PollIn, 12))
	evs, err = getn(t, p, time.Second)
	require.NoError(t, err)
	require.Len(t, evs, 1, "re-associated: reported again")
	assert.Equal(t, uint64(12), evs[0].User)
}

func TestEmulatedAssociateReplaces(t *testing.T) {
	p := newPort(t)
	a, _ := pair(t)
	require.NoError(t, p.Associate(a, evports.PollIn, 1))
	require.NoError(t, p.Associate(a, evports.PollOut, 2))
	as := p.(evports.Lister).Associations()
	require.Len(t, as, 1)
	assert.Equal(t, evports.PortEvent{FD: a, Events: evports.PollOut, User: 2}, as[0])
	evs, err := getn(t, p, time.Second)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.Equal(t, evports.PollOut, evs[0].Events, "only what was asked last")
}

func TestEmulatedErrors(t *testing.T) {
	p := newPort(t)
	a, _ := pair(t)
	assert.Equal(t, syscall.ENOENT, p.Dissociate(a), "never associated")
	require.NoError(t, p.Associate(a, evports.PollIn, 0))
	require.NoError(t, p.Dissociate(a))
	assert.Equal(t, syscall.ENOENT, p.Dissociate(a), "dissociated twice")
	c, _ := pair(t)
	unix.Close(c)
	assert.Equal(t, syscall.EBADF, p.Associate(c, evports.PollIn, 0), "closed fd")
}

// TestEmulatedCloseDissociates: closing an fd dissociates it, also while a
// dup keeps the file open.
func TestEmulatedCloseDissociates(t *testing.T) {
	p := newPort(t)
	a, b := pair(t)
	require.NoError(t, p.Associate(a, evports.PollIn, 0))
	dup, err := unix.Dup(a)
	require.NoError(t, err)
	defer unix.Close(dup)
	unix.Close(a)
	_, err = unix.Write(b, []byte{1})
	require.NoError(t, err)
	evs, err := getn(t, p, 20*time.Millisecond)
	assert.Equal(t, syscall.ETIME, err)
	assert.Empty(t, evs)
	assert.Empty(t, p.(evports.Lister).Associations())
}

func TestEmulatedHangupAndShutdown(t *testing.T) {
	p := newPort(t)
	a, b := pair(t)
	require.NoError(t, p.Associate(a, evports.PollIn, 0))
	require.NoError(t, unix.Shutdown(b, unix.SHUT_WR))
	evs, err := getn(t, p, time.Second)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.Equal(t, evports.PollIn, evs[0].Events, "a peer's shutdown is readable EOF, no half-close bit")
	unix.Close(b)
	require.NoError(t, p.Associate(a, evports.PollOut, 0))
	evs, err = getn(t, p, time.Second)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.NotZero(t, evs[0].Events&evports.PollHup, "hangup once the peer is gone (events %#x)", evs[0].Events)
}

func TestEmulatedTimeout(t *testing.T) {
	p := newPort(t)
	start := time.Now()
	evs, err := getn(t, p, 30*time.Millisecond)
	assert.Equal(t, syscall.ETIME, err)
	assert.Empty(t, evs)
	assert.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)
	_, err = getn(t, p, 0)
	assert.Equal(t, syscall.ETIME, err, "a zero timeout with nothing pending")
}
