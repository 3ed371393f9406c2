package epoll

import (
	"fmt"
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// readyPair returns an instance watching a, one end of a socket pair,
// whose iocb counts its calls in *calls and never reads, and the other
// end b.
func readyPair(tb testing.TB, calls *int) (p *Poller, a, b int) {
	tb.Helper()
	tab := fdtable.New(1024)
	th, err := tab.NewThread(0)
	require.NoError(tb, err)
	p, err = New(poller.NewContext(th))
	require.NoError(tb, err)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	require.NoError(tb, err)
	tb.Cleanup(func() {
		p.Close()
		th.Remove(fds[0])
		unix.Close(fds[0])
		unix.Close(fds[1])
	})
	require.NoError(tb, th.Insert(fds[0], nil, func(int, any) { *calls++ }, th.Bit()))
	require.NoError(tb, th.WantRecv(fds[0]))
	require.NoError(tb, p.Poll(poller.Eternity, true))
	return p, fds[0], fds[1]
}

// TestZeroTimeoutWait: the zero-timeout wait, through the raw entry or
// not, reports what epoll_wait reports: nothing while nothing is ready,
// then the ready fd with its generation, each wait counted; and the
// kernel's error, named, for a bad epoll fd.
func TestZeroTimeoutWait(t *testing.T) {
	for _, raw := range []bool{true, false} {
		rawZeroWait = raw
		calls := 0
		p, a, b := readyPair(t, &calls)
		waits := p.KernelWaits()
		n, err := p.KernelWait(0)
		require.NoError(t, err)
		assert.Zero(t, n, "raw=%v: events while nothing is ready", raw)
		_, err = unix.Write(b, []byte{1})
		require.NoError(t, err)
		n, err = p.KernelWait(0)
		require.NoError(t, err)
		require.Equal(t, 1, n, "raw=%v: events once a is readable", raw)
		assert.Equal(t, int32(a), p.events[0].Fd, "raw=%v: fd", raw)
		assert.Equal(t, p.Tab.Info(a).Gen, uint32(p.events[0].Pad), "raw=%v: generation", raw)
		assert.Equal(t, waits+2, p.KernelWaits(), "raw=%v: waits counted", raw)
	}
	rawZeroWait = true
	_, err := waitNow(-1, make([]unix.EpollEvent, 1))
	assert.ErrorIs(t, err, unix.EBADF, "waitNow on fd -1")
	calls := 0
	p, _, _ := readyPair(t, &calls)
	epfd := p.FD()
	p.epfd.Store(int32(1 << 20)) // not an open fd
	_, err = p.KernelWait(0)
	p.epfd.Store(int32(epfd))
	assert.ErrorIs(t, err, unix.EBADF, "KernelWait on a bad epoll fd")
	assert.ErrorContains(t, err, "epoll_wait")
}

// TestZeroTimeoutPollAllocsNothing: cycles that never sleep, with an
// event each, allocate nothing.
func TestZeroTimeoutPollAllocsNothing(t *testing.T) {
	calls := 0
	p, _, b := readyPair(t, &calls)
	_, err := unix.Write(b, []byte{1})
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(200, func() { _ = p.Poll(poller.Eternity, true) })
	assert.Zero(t, allocs, "allocations per cycle")
	assert.GreaterOrEqual(t, calls, 200, "iocb calls")
}

// BenchmarkZeroTimeoutPoll runs poll cycles that never sleep (wake set),
// each reporting one readable fd, with the zero-timeout wait made through
// the raw entry or through unix.EpollWait.
func BenchmarkZeroTimeoutPoll(b *testing.B) {
	for _, raw := range []bool{true, false} {
		b.Run(fmt.Sprintf("raw=%v", raw), func(b *testing.B) {
			rawZeroWait = raw
			defer func() { rawZeroWait = true }()
			calls := 0
			p, _, peer := readyPair(b, &calls)
			if _, err := unix.Write(peer, []byte{1}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := p.Poll(poller.Eternity, true); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if calls < b.N {
				b.Fatalf("%d iocb calls in %d cycles", calls, b.N)
			}
		})
	}
}
